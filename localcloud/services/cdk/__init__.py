"""The cdk service."""
