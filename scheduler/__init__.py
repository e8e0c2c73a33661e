"""isched: stop and start cloud resources on schedules, and report what it saved."""

__version__ = "0.1.0"
