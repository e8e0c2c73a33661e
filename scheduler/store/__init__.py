"""DynamoDB persistence (PynamoDB): configuration, per-resource state and the action ledger."""
