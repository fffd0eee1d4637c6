"""The dynamodb service."""
