"""A quotes site the way a CDK user writes it: a build step zips the function and its layer, the
site folder and a robots.txt written by the app are deployed into an auto-deleting bucket, and the
function's logs are kept a week."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from aws_cdk import App, CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy

HERE = Path(__file__).parent


def zipped(folder: Path, archive: Path) -> Path:
    """The build step (``cd function && zip -r ../build/function.zip .``)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                out.write(path, path.relative_to(folder).as_posix())
    return archive


class ZipSiteStack(Stack):
    def __init__(self, scope: App, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        build = Path(tempfile.mkdtemp(prefix="zip-site-build-"))

        site_bucket = s3.Bucket(
            self, "SiteBucket", removal_policy=RemovalPolicy.DESTROY, auto_delete_objects=True
        )
        s3deploy.BucketDeployment(
            self,
            "DeploySite",
            sources=[
                s3deploy.Source.asset(str(HERE / "site")),
                s3deploy.Source.data("robots.txt", "User-agent: *\nDisallow: /private/\n"),
            ],
            destination_bucket=site_bucket,
        )

        quotes = lambda_.LayerVersion(
            self,
            "QuotesLayer",
            code=lambda_.Code.from_asset(str(zipped(HERE / "layer", build / "layer.zip"))),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
        )
        function = lambda_.Function(
            self,
            "QuoteFunction",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="quote.handler",
            code=lambda_.Code.from_asset(str(zipped(HERE / "function", build / "function.zip"))),
            layers=[quotes],
            environment={"SITE_BUCKET": site_bucket.bucket_name},
            log_retention=logs.RetentionDays.ONE_WEEK,
        )
        site_bucket.grant_read(function)

        CfnOutput(self, "SiteBucketName", value=site_bucket.bucket_name)
        CfnOutput(self, "FunctionName", value=function.function_name)


def build(app: App) -> None:
    ZipSiteStack(app, "ZipSiteStack")
