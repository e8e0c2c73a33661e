"""The ``isched`` command line."""
