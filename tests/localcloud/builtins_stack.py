"""The stack of ``test_cdk_builtins*.py``: a function and a layer from zip files, two
``BucketDeployment``s after seed deployments (one pruning, behind a distribution, one not), an
``auto_delete_objects`` bucket, ``log_retention`` and a ``LogStream``; synthesized once per process.
"""

from __future__ import annotations

import copy
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3d

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact, load_stack
from localcloud.testing import SYNTH_CONTEXT

SITE = {
    "index.html": "<h1>home</h1>",
    "css/app.css": "body {}",
    "LICENSE": "MIT",
    "notes.tmp": "excluded",
    "keep-me.tmp": "included again",
}
SEED = {
    "stale.txt": "from an earlier deployment",
    "old.tmp": "excluded, so never pruned",
    "index.html": "old",
}


def write_zip(path: Path, files: dict[str, str]) -> Path:
    """Entries carry a fixed time, so two zips of the same files are the same bytes whenever they are written."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)
    return path


def write_folder(path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return path


def build(stack: Stack, work: Path) -> None:
    code = write_zip(
        work / "function.zip",
        {
            "app.py": "import greeting\n\ndef handler(event, context):\n    return greeting.hello(event['name'])\n"
        },
    )
    layer_zip = write_zip(
        work / "layer.zip", {"python/greeting.py": "def hello(name):\n    return f'hello, {name}'\n"}
    )
    layer = lambda_.LayerVersion(stack, "Greeting", code=lambda_.Code.from_asset(str(layer_zip)))
    lambda_.Function(
        stack,
        "Zipped",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="app.handler",
        code=lambda_.Code.from_asset(str(code)),
        layers=[layer],
        log_retention=logs.RetentionDays.ONE_WEEK,
    )
    logs.LogStream(stack, "Stream", log_group=logs.LogGroup(stack, "Group"), log_stream_name="audit")
    site = write_folder(work / "site", SITE)
    seed = write_folder(work / "seed", SEED)
    extra = write_zip(work / "extra.zip", {"zipped/readme.txt": "from a zip source", "data.json": '{"a":1}'})
    pruned = s3.Bucket(
        stack, "Pruned", versioned=True, auto_delete_objects=True, removal_policy=RemovalPolicy.DESTROY
    )
    cdn = cloudfront.Distribution(
        stack,
        "Cdn",
        default_behavior=cloudfront.BehaviorOptions(
            origin=origins.S3BucketOrigin.with_origin_access_control(pruned)
        ),
    )
    for bucket, prune in ((pruned, True), (s3.Bucket(stack, "Kept"), False)):
        name = "Pruned" if prune else "Kept"
        seeded = s3d.BucketDeployment(
            stack, f"Seed{name}", sources=[s3d.Source.asset(str(seed))], destination_bucket=bucket,
            destination_key_prefix="web/",
        )  # fmt: skip
        deployed = s3d.BucketDeployment(
            stack,
            f"Deploy{name}",
            sources=[
                s3d.Source.asset(str(site)),
                s3d.Source.asset(str(extra)),
                s3d.Source.json_data("config.json", {"bucket": bucket.bucket_name}),
            ],
            destination_bucket=bucket,
            destination_key_prefix="web/",
            prune=prune,
            exclude=["*.tmp"],
            include=["keep-me.tmp"],
            cache_control=[s3d.CacheControl.max_age(Duration.hours(1))],
            metadata={"Team": "web"},
            **({"distribution": cdn, "distribution_paths": ["/web/*"]} if prune else {}),
        )
        deployed.node.add_dependency(seeded)


_synthesized: list[StackArtifact] = []


def synthesized(tmp_path_factory: pytest.TempPathFactory) -> StackArtifact:
    """The stack, synthesized on first use in this process (without CDK's slow template validation)."""
    if not _synthesized:
        work, outdir = tmp_path_factory.mktemp("builtins-src"), tmp_path_factory.mktemp("builtins-out")
        app = App(outdir=str(outdir), context=SYNTH_CONTEXT, builtin_cloud_formation_validation=False)
        build(Stack(app, "CdkBuiltins"), work)
        app.synth()
        _synthesized.append(load_stack(outdir, "CdkBuiltins"))
    return _synthesized[0]


def objects(cloud: LocalCloud, bucket: str) -> dict[str, bytes]:
    s3_client, name = cloud.client("s3"), cloud.physical_id(bucket)
    listed = s3_client.list_objects_v2(Bucket=name).get("Contents", [])
    return {o["Key"]: s3_client.get_object(Bucket=name, Key=o["Key"])["Body"].read() for o in listed}


def mutated(artifact: StackArtifact, edit: Callable[[dict], None]) -> StackArtifact:
    template = copy.deepcopy(artifact.template)
    edit(template["Resources"])
    return StackArtifact(artifact.name, template, artifact.directory)


def resource_of(resources: dict, resource_type: str, path_part: str) -> dict:
    [found] = [
        r
        for r in resources.values()
        if r["Type"] == resource_type and path_part in r["Metadata"]["aws:cdk:path"]
    ]
    return found
