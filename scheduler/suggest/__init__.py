"""``isched suggest``: find running resources without a schedule that sit idle at regular times, and propose one.

:mod:`.analysis` is pure (hourly utilisation in, a proposal out: hour-of-week buckets, idle mask, running windows,
periods, stored-schedule matching, savings and confidence); :mod:`.metrics` reads the resources and their
CloudWatch metrics.
"""
