"""House helpers for CloudFront distributions and the sites behind them, shared by the web and edge
patterns (``spa``, ``regional_api``, ``proxied_frontend``...): the TLS floor every distribution sets,
the cdk-nag findings each one acknowledges for the same reasons, and a static site's private
bucket, build and deployment.

A site is built at synth time (:func:`build_site`): every file but ``index.html`` is copied to a
name with its content hash (``app.3f2a9c1b.js``) and ``index.html`` rewritten to name them. Hashed
files never change, so they are cached for a year (``immutable``); ``index.html`` is ``no-cache``
and the distribution is invalidated on each deployment, so a new release shows at once.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, Stack, Stage
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3d
from constructs import Construct, IConstruct

from .defaults import acknowledge, secure_bucket

#: The oldest TLS a viewer may use once the distribution has its own domain and certificate.
MINIMUM_PROTOCOL_VERSION = cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021


def acknowledge_distribution(distribution: IConstruct, *, what: str = "A public site") -> None:
    """The distribution-level findings a pattern leaves to its user, each with its prop to change it."""
    acknowledge(
        distribution,
        "AwsSolutions-CFR1",
        f"{what} for every country; add geo_restriction in distribution_props to limit it.",
    )
    acknowledge(
        distribution,
        "AwsSolutions-CFR2",
        "WAF is an account-level choice with a monthly cost; pass web_acl_id in distribution_props.",
    )
    acknowledge(
        distribution,
        "AwsSolutions-CFR3",
        "CloudFront's standard logs need an ACL-enabled bucket (LogDeliveryWrite), which the house buckets "
        "refuse; pass enable_logging and log_bucket in distribution_props to accept that.",
    )
    acknowledge(
        distribution,
        "AwsSolutions-CFR4",
        "The default *.cloudfront.net certificate allows TLSv1; pass domain_names and a certificate "
        "to enforce TLSv1.2_2021 (set here for that case).",
    )


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


def built_site(scope: Construct, source: Path) -> Path:
    """The site built into the cloud assembly's folder, named by its sources' hash (built once)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    out = Path(Stage.of(scope).outdir) / f"site.{digest.hexdigest()[:16]}"
    if not (out / "index.html").is_file():
        build_site(source, out)
    return out


def site_buckets(owner: Construct) -> tuple[s3.Bucket, s3.Bucket]:
    """A private site bucket (``Site``) and the bucket its access logs go to (``Logs``), in ``owner``,
    which must have no children yet (it sets a context value)."""
    # The log bucket admits S3's log delivery by bucket policy, not by the legacy LogDeliveryWrite ACL.
    owner.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
    log_bucket = s3.Bucket(
        owner,
        "Logs",
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
    )
    acknowledge(
        log_bucket,
        "AwsSolutions-S1",
        "This bucket receives the site bucket's access logs; logging it would recurse.",
    )
    return log_bucket, secure_bucket(owner, "Site", server_access_logs_bucket=log_bucket)


@dataclass(frozen=True)
class SiteDeployment:
    """What :func:`deploy_site` made: the built site's asset, the deployment role and its policy, and
    the two deployments (hashed assets first, then ``index.html``, which invalidates)."""

    asset: s3_assets.Asset
    role: iam.Role
    policy: iam.Policy
    assets_deployment: s3d.BucketDeployment
    index_deployment: s3d.BucketDeployment


def deploy_site(
    owner: Construct, *, site_dir: Path, bucket: s3.IBucket, distribution: cloudfront.IDistribution
) -> SiteDeployment:
    """Build ``site_dir`` and deploy it to ``bucket`` in two steps, invalidating ``distribution``.

    The deployment role is the site's own, with exactly what the sync does: CDK's own grants (read
    and delete anything in both buckets, invalidate any distribution) are left out.
    """
    asset = s3_assets.Asset(owner, "SiteAsset", path=str(built_site(owner, Path(site_dir))))
    role, policy = _deploy_role(owner, asset, bucket, distribution)
    site = s3d.Source.bucket(asset.bucket, asset.s3_object_key)
    deployments = {
        "DeployAssets": {"exclude": ["index.html"], "cache_control": IMMUTABLE},
        "DeployIndex": {
            "exclude": ["*"],
            "include": ["index.html"],
            "cache_control": REVALIDATE,
            "distribution": distribution,
        },
    }
    assets_deployment, index_deployment = (
        s3d.BucketDeployment(
            owner,
            construct_id,
            sources=[site],
            destination_bucket=bucket,
            prune=False,
            memory_limit=256,
            role=role.without_policy_updates(),
            **options,
        )
        for construct_id, options in deployments.items()
    )
    for deployment in (assets_deployment, index_deployment):
        deployment.node.add_dependency(policy)
    # A new index.html must never name an asset that is not there yet.
    index_deployment.node.add_dependency(assets_deployment)
    _acknowledge_deployment(owner, role, policy, bucket)
    return SiteDeployment(asset, role, policy, assets_deployment, index_deployment)


def _deploy_role(
    owner: Construct, asset: s3_assets.Asset, bucket: s3.IBucket, distribution: cloudfront.IDistribution
) -> tuple[iam.Role, iam.Policy]:
    role = iam.Role(
        owner,
        "DeployRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole")
        ],
    )
    distribution_arn = Stack.of(owner).format_arn(
        service="cloudfront", region="", resource="distribution", resource_name=distribution.distribution_id
    )
    policy = iam.Policy(
        owner,
        "DeployPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[asset.bucket.arn_for_objects(asset.s3_object_key)]
            ),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects("*")]),
            iam.PolicyStatement(
                actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                resources=[distribution_arn],
            ),
        ],
    )
    return role, policy


def _acknowledge_deployment(owner: Construct, role: iam.Role, policy: iam.Policy, bucket: s3.IBucket) -> None:
    # CDK's one deployment function per stack, shared by every deployment; its code is CDK's.
    stack = Stack.of(owner)
    deployer = next(
        child for child in stack.node.children if child.node.id.startswith("Custom::CDKBucketDeployment")
    )
    reason = "CDK's BucketDeployment function pins its own runtime; upgrading aws-cdk-lib upgrades it."
    for rule, why in (
        ("AwsSolutions-L1", reason),
        ("Serverless-LambdaLatestVersion", reason),
        (
            "Serverless-LambdaDLQ",
            "Invoked synchronously by CloudFormation as a custom resource: a failure fails the deployment.",
        ),
        (
            "Serverless-LambdaTracing",
            "CDK's deployment-time function; it runs once per deployment, not on the request path.",
        ),
    ):
        acknowledge(deployer, rule, why)
    acknowledge(
        role,
        "AwsSolutions-IAM4",
        "The deployment function writes its logs through AWSLambdaBasicExecutionRole, as CDK's own role does.",
        applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    acknowledge(
        policy,
        "AwsSolutions-IAM5",
        "The sync writes every file of the site under its own name in the site bucket, and nowhere else.",
        applies_to=f"Resource::<{stack.get_logical_id(bucket.node.default_child)}.Arn>/*",
    )
