"""The secretsmanager service."""
