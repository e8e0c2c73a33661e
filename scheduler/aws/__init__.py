"""AWS access: one session factory (endpoint, retries, regions, assumed roles) used by every AWS call."""
