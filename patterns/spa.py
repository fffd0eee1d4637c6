"""Single Page Application: a private S3 bucket behind CloudFront (origin access control), the
site deployed by ``BucketDeployment``, and the simple web service's API on the same distribution.

The bucket is private: only this distribution may read it (the bucket policy names the
CloudFront service principal with the distribution's ARN as ``AWS:SourceArn``). The API answers
under ``/items*`` on the distribution, so the page calls it same-origin: no CORS, no API URL in the
page. A deep link (``/view/<id>``) names no object; the bucket answers 403 (the distribution may not
list it) and a custom error response serves ``/index.html`` with 200, where the page's router
takes over. Only 403 is mapped: the API's 404 for an unknown item comes through unchanged.

The site is built at synth time (:func:`build_site`): every file but ``index.html`` is copied to a
name with its content hash (``app.3f2a9c1b.js``) and ``index.html`` rewritten to name them. Hashed
files never change, so they are cached for a year (``immutable``); ``index.html`` is ``no-cache``
and the distribution is invalidated on each deployment, so a new release shows at once.

Example::

    site = SinglePageApp(self, "Shop", site_dir="frontend/dist-src")
    site.service.table.grant_read_data(reporting_fn)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from constructs import Construct

from .defaults import Props, merge_props
from .edge import (
    IMMUTABLE,
    MINIMUM_PROTOCOL_VERSION,
    REVALIDATE,
    acknowledge_distribution,
    build_site,
    deploy_site,
    site_buckets,
)
from .simple_web_service import SimpleWebService

SITE_DIR = Path(__file__).resolve().parent.parent / "web" / "spa"
__all__ = ["API_PATH", "IMMUTABLE", "REVALIDATE", "SITE_DIR", "SinglePageApp", "build_site"]
#: The API's routes on the distribution (the simple web service's ``/items`` and ``/items/{id}``).
API_PATH = "/items*"


class SinglePageApp(Construct):
    """A static site from a private bucket through CloudFront, with its API on the same origin.

    :param site_dir: the site's sources: ``index.html`` and the files it names as ``"/<name>"``.
    :param service: an existing :class:`SimpleWebService` to put behind the distribution; one is
        made (with ``service_props``) if omitted.
    :param service_props: keyword arguments of the :class:`SimpleWebService` made here.
    :param distribution_props: ``cloudfront.Distribution`` props over the defaults
        (``web_acl_id``, ``domain_names`` and ``certificate``, ``price_class``...).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site_dir: str | Path = SITE_DIR,
        service: SimpleWebService | None = None,
        service_props: dict[str, Any] | None = None,
        distribution_props: Props | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if service is not None and service_props:
            raise ValueError("pass either service or service_props, not both")
        self.log_bucket, self.bucket = site_buckets(self)
        self.service = service or SimpleWebService(self, "Service", **(service_props or {}))
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            **merge_props(
                self,
                "distribution_props",
                {
                    "comment": "Single page app and its API",
                    "default_root_object": "index.html",
                    "default_behavior": cloudfront.BehaviorOptions(
                        origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                        cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                        response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                    ),
                    "additional_behaviors": {
                        API_PATH: cloudfront.BehaviorOptions(
                            origin=origins.RestApiOrigin(self.service.api),
                            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                        )
                    },
                    "error_responses": [
                        cloudfront.ErrorResponse(
                            http_status=403,
                            response_http_status=200,
                            response_page_path="/index.html",
                            ttl=Duration.seconds(10),
                        )
                    ],
                    "minimum_protocol_version": MINIMUM_PROTOCOL_VERSION,
                },
                distribution_props,
            ),
        )
        deployed = deploy_site(
            self, site_dir=Path(site_dir), bucket=self.bucket, distribution=self.distribution
        )
        self.site_asset, self.deploy_role, self.deploy_policy = deployed.asset, deployed.role, deployed.policy
        self.assets_deployment, self.index_deployment = deployed.assets_deployment, deployed.index_deployment
        self._acknowledge()

    def _acknowledge(self) -> None:
        acknowledge_distribution(self.distribution)

    def outputs(self) -> dict[str, Any]:
        return {
            "SiteUrl": f"https://{self.distribution.distribution_domain_name}",
            "DistributionId": self.distribution.distribution_id,
            "BucketName": self.bucket.bucket_name,
            "LogBucketName": self.log_bucket.bucket_name,
            **self.service.outputs(),
        }
