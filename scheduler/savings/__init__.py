"""Savings: what every scheduler stop saved, in dollars, month by month.

* :mod:`.accounting`: stopped intervals from the action ledger (and stored state), clipped to UTC months, valued
  at hourly prices; running hours, totals and the 12-month projection.
* :mod:`.prices`: hourly on-demand prices from a prices file, a local cache and the AWS Price List Query API.
* :mod:`.costexplorer`: the month's actual spend per schedule tag from Cost Explorer.
* :mod:`.render`: the report as CSV, a self-contained HTML page (inline SVG charts) and a PNG chart.
"""
