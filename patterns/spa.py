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

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack, Stage
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3d
from constructs import Construct

from .defaults import Props, acknowledge, merge_props, secure_bucket
from .edge import MINIMUM_PROTOCOL_VERSION, acknowledge_distribution
from .simple_web_service import SimpleWebService

SITE_DIR = Path(__file__).resolve().parent.parent / "web" / "spa"
#: What the browser and the edge may keep of a file whose name changes with its content.
IMMUTABLE = [
    s3d.CacheControl.set_public(),
    s3d.CacheControl.max_age(Duration.days(365)),
    s3d.CacheControl.immutable(),
]
#: ``index.html``: always revalidated, so a deployment shows on the next load.
REVALIDATE = [s3d.CacheControl.no_cache()]
#: The API's routes on the distribution (the simple web service's ``/items`` and ``/items/{id}``).
API_PATH = "/items*"


def build_site(source: Path, out: Path) -> dict[str, str]:
    """Copy ``source`` to ``out``: ``index.html`` as is, every other file under a name with its
    content hash, and ``index.html``'s ``"/name"`` references rewritten to the hashed names.

    Returns the renames (``{"app.js": "app.3f2a9c1b.js"}``). A file that ``index.html`` does not
    name is an error: it would be deployed under a name nothing can know.
    """
    index = source / "index.html"
    if not index.is_file():
        raise ValueError(f"{source} has no index.html")
    html = index.read_text(encoding="utf-8")
    renames: dict[str, str] = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file() and p != index):
        name = path.relative_to(source).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
        stem, dot, suffix = path.name.rpartition(".")
        hashed_name = f"{stem}.{digest}.{suffix}" if dot else f"{path.name}.{digest}"
        renames[name] = str(Path(name).with_name(hashed_name).as_posix())
    for name, hashed in renames.items():
        reference = re.compile(rf"""(["'])/{re.escape(name)}\1""")
        if not reference.search(html):
            raise ValueError(f"{source}: index.html does not name /{name}, so its hashed name is unreachable")
        html = reference.sub(lambda m, h=hashed: f"{m[1]}/{h}{m[1]}", html)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "index.html").write_text(html, encoding="utf-8")
    for name, hashed in renames.items():
        (out / hashed).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, out / hashed)
    return renames


def _built(scope: Construct, source: Path) -> Path:
    """The site built into the cloud assembly's folder, named by its sources' hash (built once)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    out = Path(Stage.of(scope).outdir) / f"site.{digest.hexdigest()[:16]}"
    if not (out / "index.html").is_file():
        build_site(source, out)
    return out


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
        # The log bucket admits S3's log delivery by bucket policy, not by the legacy LogDeliveryWrite ACL.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        if service is not None and service_props:
            raise ValueError("pass either service or service_props, not both")
        self.service = service or SimpleWebService(self, "Service", **(service_props or {}))
        self.log_bucket = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )
        acknowledge(
            self.log_bucket,
            "AwsSolutions-S1",
            "This bucket receives the site bucket's access logs; logging it would recurse.",
        )
        self.bucket = secure_bucket(self, "Site", server_access_logs_bucket=self.log_bucket)
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
        self.site_asset = s3_assets.Asset(self, "SiteAsset", path=str(_built(self, Path(site_dir))))
        site = s3d.Source.bucket(self.site_asset.bucket, self.site_asset.s3_object_key)
        self.deploy_role = self._deploy_role()
        deployments = {
            "DeployAssets": {"exclude": ["index.html"], "cache_control": IMMUTABLE},
            "DeployIndex": {
                "exclude": ["*"],
                "include": ["index.html"],
                "cache_control": REVALIDATE,
                "distribution": self.distribution,
            },
        }
        self.assets_deployment, self.index_deployment = (
            s3d.BucketDeployment(
                self,
                construct_id,
                sources=[site],
                destination_bucket=self.bucket,
                prune=False,
                memory_limit=256,
                role=self.deploy_role.without_policy_updates(),
                **options,
            )
            for construct_id, options in deployments.items()
        )
        for deployment in (self.assets_deployment, self.index_deployment):
            deployment.node.add_dependency(self.deploy_policy)
        # A new index.html must never name an asset that is not there yet.
        self.index_deployment.node.add_dependency(self.assets_deployment)
        self._acknowledge()

    def _deploy_role(self) -> iam.Role:
        """The deployment function's role with exactly what the sync does: CDK's own grants (read
        and delete anything in both buckets, invalidate any distribution) are left out."""
        role = iam.Role(
            self,
            "DeployRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole")
            ],
        )
        distribution_arn = Stack.of(self).format_arn(
            service="cloudfront",
            region="",
            resource="distribution",
            resource_name=self.distribution.distribution_id,
        )
        self.deploy_policy = iam.Policy(
            self,
            "DeployPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[self.site_asset.bucket.arn_for_objects(self.site_asset.s3_object_key)],
                ),
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]),
                iam.PolicyStatement(actions=["s3:PutObject"], resources=[self.bucket.arn_for_objects("*")]),
                iam.PolicyStatement(
                    actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                    resources=[distribution_arn],
                ),
            ],
        )
        return role

    def _acknowledge(self) -> None:
        # CDK's one deployment function per stack, shared by both deployments; its code is CDK's.
        deployer = next(
            child
            for child in Stack.of(self).node.children
            if child.node.id.startswith("Custom::CDKBucketDeployment")
        )
        for rule, reason in (
            (
                "AwsSolutions-L1",
                "CDK's BucketDeployment function pins its own runtime; upgrading aws-cdk-lib upgrades it.",
            ),
            (
                "Serverless-LambdaLatestVersion",
                "CDK's BucketDeployment function pins its own runtime; upgrading aws-cdk-lib upgrades it.",
            ),
            (
                "Serverless-LambdaDLQ",
                "Invoked synchronously by CloudFormation as a custom resource: a failure fails the deployment.",
            ),
            (
                "Serverless-LambdaTracing",
                "CDK's deployment-time function; it runs once per deployment, not on the request path.",
            ),
        ):
            acknowledge(deployer, rule, reason)
        acknowledge(
            self.deploy_role,
            "AwsSolutions-IAM4",
            "The deployment function writes its logs through AWSLambdaBasicExecutionRole, as CDK's own role does.",
            applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        )
        acknowledge(
            self.deploy_policy,
            "AwsSolutions-IAM5",
            "The sync writes every file of the site under its own name in the site bucket, and nowhere else.",
            applies_to=f"Resource::<{Stack.of(self).get_logical_id(self.bucket.node.default_child)}.Arn>/*",
        )
        acknowledge_distribution(self.distribution)

    def outputs(self) -> dict[str, Any]:
        return {
            "SiteUrl": f"https://{self.distribution.distribution_domain_name}",
            "DistributionId": self.distribution.distribution_id,
            "BucketName": self.bucket.bucket_name,
            "LogBucketName": self.log_bucket.bucket_name,
            **self.service.outputs(),
        }
