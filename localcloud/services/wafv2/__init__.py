"""The wafv2 service."""
