"""The scheduling pass: the orchestrator fans out to one worker per account × region × service."""
