"""The sns service."""
