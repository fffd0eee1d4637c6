"""Proxied front and back ends: one CloudFront distribution, ``/api/*`` to a REST API and everything
else to a private S3 bucket (origin access control).

The page and the API share one origin, so the page's calls are same-origin: no CORS configuration,
no preflight ``OPTIONS`` before a JSON ``POST``, no API URL baked into the page, and one domain and
certificate. On its way to the API a request loses its ``/api`` prefix (a CloudFront Function on
the API behavior) and gains the stage as origin path: ``/api/items/42`` reaches the API as
``/prod/items/42``, so the API is written without knowing where it is mounted.

The API's answers come through as the API wrote them: the distribution has no custom error
responses (the spa row's 403 fallback would turn an API's 403 into the page, and a 404 mapping its
404s). Deep links are handled on the bucket's behavior alone by a CloudFront Function that serves
``/index.html`` for a path with no file extension (``/item/42``), so a missing asset stays a 403 and
nothing the API says is rewritten.

Example::

    app = ProxiedFrontend(self, "Shop", site_dir="frontend/src")
    app.service.table.grant_read_data(reporting_fn)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from constructs import Construct

from .defaults import Props, merge_props
from .edge import MINIMUM_PROTOCOL_VERSION, acknowledge_distribution, deploy_site, site_buckets
from .simple_web_service import SimpleWebService

SITE_DIR = Path(__file__).resolve().parent.parent / "web" / "proxied_frontend"
API_PREFIX = re.compile(r"/[a-z][a-z0-9-]{0,30}")
#: Serve the page for a route of the page (a last segment without an extension); files as they are.
_PAGE_ROUTES = """function handler(event) {
    var request = event.request;
    var last = request.uri.substring(request.uri.lastIndexOf('/') + 1);
    if (last.indexOf('.') < 0) {
        request.uri = '/index.html';
    }
    return request;
}
"""
#: Drop the API's mount point: ``%(prefix)s/items`` reaches the origin (after the stage) as ``/items``.
_STRIP_PREFIX = """function handler(event) {
    var request = event.request;
    request.uri = request.uri.substring(%(length)d) || '/';
    return request;
}
"""


class ProxiedFrontend(Construct):
    """A static page and its API behind one distribution: ``{api_prefix}/*`` to the API, the rest to S3.

    :param site_dir: the page's sources: ``index.html`` and the files it names as ``"/<name>"``.
    :param api_prefix: where the API is mounted on the distribution (``/api``).
    :param service: an existing :class:`SimpleWebService` to mount; one is made (``service_props``) if omitted.
    :param distribution_props: ``cloudfront.Distribution`` props over the defaults (``web_acl_id``,
        ``domain_names`` and ``certificate``, ``price_class``...); ``error_responses`` is refused,
        since it would apply to the API's answers too.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site_dir: str | Path = SITE_DIR,
        api_prefix: str = "/api",
        service: SimpleWebService | None = None,
        service_props: dict[str, Any] | None = None,
        distribution_props: Props | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if service is not None and service_props:
            raise ValueError(f"{construct_id}: pass either service or service_props, not both")
        if not API_PREFIX.fullmatch(api_prefix):
            raise ValueError(
                f"{construct_id}: api_prefix must be one path segment like /api; got {api_prefix!r}"
            )
        self.api_prefix = api_prefix
        self.log_bucket, self.bucket = site_buckets(self)
        self.service = service or SimpleWebService(self, "Service", **(service_props or {}))
        self.page_routes = cloudfront.Function(
            self,
            "PageRoutes",
            comment="A page route (no file extension) is index.html; files are served as they are",
            code=cloudfront.FunctionCode.from_inline(_PAGE_ROUTES),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        self.strip_prefix = cloudfront.Function(
            self,
            "StripApiPrefix",
            comment=f"{api_prefix}/x on the distribution is /x on the API (after its stage)",
            code=cloudfront.FunctionCode.from_inline(
                _STRIP_PREFIX % {"prefix": api_prefix, "length": len(api_prefix)}
            ),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            **merge_props(
                self,
                "distribution_props",
                {
                    "comment": "Page and API on one origin",
                    "default_root_object": "index.html",
                    "default_behavior": cloudfront.BehaviorOptions(
                        origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                        cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                        response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                        function_associations=[_viewer_request(self.page_routes)],
                    ),
                    "additional_behaviors": {
                        f"{api_prefix}/*": cloudfront.BehaviorOptions(
                            origin=origins.RestApiOrigin(self.service.api),
                            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                            function_associations=[_viewer_request(self.strip_prefix)],
                        )
                    },
                    "minimum_protocol_version": MINIMUM_PROTOCOL_VERSION,
                },
                distribution_props,
                fixed=("error_responses",),
            ),
        )
        deployed = deploy_site(
            self, site_dir=Path(site_dir), bucket=self.bucket, distribution=self.distribution
        )
        self.site_asset, self.deploy_role, self.deploy_policy = deployed.asset, deployed.role, deployed.policy
        self.assets_deployment, self.index_deployment = deployed.assets_deployment, deployed.index_deployment
        acknowledge_distribution(self.distribution)

    def outputs(self) -> dict[str, Any]:
        return {
            "SiteUrl": f"https://{self.distribution.distribution_domain_name}",
            "DistributionId": self.distribution.distribution_id,
            "BucketName": self.bucket.bucket_name,
            "LogBucketName": self.log_bucket.bucket_name,
            **self.service.outputs(),
        }


def _viewer_request(function: cloudfront.IFunction) -> cloudfront.FunctionAssociation:
    return cloudfront.FunctionAssociation(
        function=function, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
    )
