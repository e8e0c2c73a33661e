"""Savings: what every scheduler stop saved, in dollars, month by month.

* :mod:`.accounting`: each resource's timeline from the action ledger (and stored state): running, stopped by the
  scheduler, stopped by someone else, gone; clipped to UTC months, valued at hourly prices, rounded once per
  resource so that every breakdown adds up; totals, notes and the 12-month projection.
* :mod:`.prices`: hourly on-demand prices from a prices file, a local cache and the AWS Price List Query API.
* :mod:`.costexplorer`: actual spend per schedule tag (and per linked account), the spend forecast, and Reserved
  Instance / Savings Plans coverage from Cost Explorer.
* :mod:`.report`: the report from the store, with Cost Explorer's figures and the reconciliation beside it.
* :mod:`.render`: the report as CSV, a self-contained HTML page (inline SVG charts) and a PNG chart.
"""
