"""Per-service AWS adapters (EC2, Auto Scaling, RDS): discovery, actions and tagging."""
