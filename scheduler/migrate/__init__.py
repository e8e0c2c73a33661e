"""Moving to isched from other schedulers: reading their stored configuration and translating it."""
