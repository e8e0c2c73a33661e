"""Lambda entry points: thin Powertools adapters over :mod:`scheduler.runtime`.

``scheduler.handlers.orchestrator.handler`` fans a pass out (one asynchronous worker invocation per target);
``scheduler.handlers.worker.handler`` runs one target's pass.
"""
