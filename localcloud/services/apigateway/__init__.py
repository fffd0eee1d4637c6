"""API Gateway REST APIs served offline, from the synthesized template.

``cloud.api()`` gives a test client for a stage; ``cloud.apigateway.dispatch(api_id, request)`` is
the entry the localhost server and CloudFront's API origins use. See ``docs/localcloud.md``.
"""

from localcloud.services.apigateway.client import ApiClient
from localcloud.services.apigateway.gateway import ApiEndpoint, ApiGateway, Route

__all__ = ["ApiClient", "ApiEndpoint", "ApiGateway", "Route"]
