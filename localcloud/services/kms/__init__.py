"""The kms service."""
