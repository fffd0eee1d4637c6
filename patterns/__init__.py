"""One L3 construct per serverless pattern, and the registry that lists them (``patterns.registry``)."""
