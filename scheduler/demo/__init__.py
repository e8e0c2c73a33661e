"""``isched demo``: the whole system end to end on an embedded simulated AWS (moto, in-process)."""
