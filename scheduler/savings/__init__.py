"""Savings: what every scheduler stop saved, in dollars, month by month.

The ledger and state (:mod:`.ledger`) give each resource's timeline (:mod:`.events`, :mod:`.priors`,
:mod:`.timeline`): running, stopped by the scheduler, stopped by someone else, gone; clipped to UTC months
(:mod:`.months`) and summed per resource (:mod:`.usage`), valued at hourly prices (:mod:`.keys` says what a stop is
priced as, :mod:`.valuation` rounds once per resource so that every breakdown adds up), and laid out as the report
(:mod:`.breakdown`: totals, groups, days, months, notes; :mod:`.projection`: the next 12 months).

* :mod:`.model`: the report's JSON as typed dictionaries (the ``isched report --json`` contract).
* :mod:`.prices`: hourly on-demand prices from a prices file, a local cache and the AWS Price List Query API.
* :mod:`.costexplorer`: actual spend per schedule tag (and per linked account), the spend forecast, and Reserved
  Instance / Savings Plans coverage from Cost Explorer.
* :mod:`.report`: the report from the store, with Cost Explorer's figures and the reconciliation beside it.
* :mod:`.formats`, :mod:`.charts`, :mod:`.page`, :mod:`.png`: the report as CSV, inline SVG charts, a self-contained
  HTML page and a PNG chart.
"""
