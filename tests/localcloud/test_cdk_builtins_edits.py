"""Edited copies of ``builtins_stack.py``'s template, each on a cloud of its own: where CDK's
built-in custom resources' handlers would answer FAILED (an error naming the resource and why),
zips that cannot be extracted, and a redeploy that changes a bucket deployment's sources.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from localcloud import LocalCloud, LocalCloudError
from localcloud.core import assets
from localcloud.core.assembly import StackArtifact
from localcloud.core.assets import extracted
from localcloud.redeploy import redeploy
from tests.localcloud.builtins_stack import mutated, objects, resource_of, synthesized, write_zip

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return synthesized(tmp_path_factory)


def test_a_zip_is_extracted_once_into_a_folder_named_by_its_content(tmp_path):
    first = extracted(write_zip(tmp_path / "a.zip", {"x.py": "X = 1"}), "A")
    again = extracted(write_zip(tmp_path / "b.zip", {"x.py": "X = 1"}), "B")
    assert first == again and (first / "x.py").read_text() == "X = 1"


def test_an_asset_an_unstaged_synthesis_left_in_a_removed_temporary_folder_says_so(tmp_path):
    gone = tmp_path / "jsii-kernel-x" / "log-retention-handler"
    template = {
        "Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": str(gone)}}}
    }
    with pytest.raises(
        LocalCloudError, match=r"Fn: asset .*log-retention-handler does not exist: it was a temporary folder"
    ):
        StackArtifact("S", template, tmp_path).asset_path("Fn")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p.write_text("not a zip"), p)[1], r"Fn: .*bad\.zip is not a zip file"),
        (lambda p: write_zip(p, {"../escape.py": ""}), r"Fn: .*holds '\.\./escape\.py', outside the folder"),
    ],
    ids=["not a zip", "a path out of the folder"],
)
def test_a_zip_that_cannot_be_extracted_is_an_error_naming_the_resource(tmp_path, make, message):
    with pytest.raises(LocalCloudError, match=message):
        extracted(make(tmp_path / "bad.zip"), "Fn")


def test_a_missing_source_zip_is_an_error_naming_the_resource_and_the_object(artifact):
    def edit(resources):
        resource_of(resources, "Custom::CDKBucketDeployment", "DeployKept")["Properties"]["SourceObjectKeys"][
            1
        ] = "gone.zip"

    with pytest.raises(
        LocalCloudError,
        match=r"DeployKept\w* \(Custom::CDKBucketDeployment\) failed: source s3://cdk-\S+/gone\.zip is neither an asset",
    ):
        LocalCloud(mutated(artifact, edit)).start()


def test_an_unknown_distribution_fails_the_deployment(artifact):
    def edit(resources):
        resource_of(resources, "Custom::CDKBucketDeployment", "DeployPruned")["Properties"][
            "DistributionId"
        ] = "E0NOSUCH"

    with pytest.raises(
        LocalCloudError,
        match=r"DeployPruned\w* \(Custom::CDKBucketDeployment\) failed: .*E0NOSUCH does not exist",
    ):
        LocalCloud(mutated(artifact, edit)).start()


def test_a_handler_role_that_may_not_write_the_bucket_fails_the_deployment(artifact):
    def edit(resources):
        for resource in resources.values():
            if (
                resource["Type"] == "AWS::IAM::Policy"
                and "CDKBucketDeployment" in resource["Metadata"]["aws:cdk:path"]
            ):
                for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                    statement["Action"] = [a for a in statement["Action"] if a != "s3:PutObject"]

    with pytest.raises(
        LocalCloudError, match=r"\(Custom::CDKBucketDeployment\) failed: .*AccessDenied.*s3:PutObject"
    ):
        LocalCloud(mutated(artifact, edit)).start()


@pytest.mark.parametrize("action", ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"])
def test_a_handler_role_that_may_not_invalidate_or_wait_for_it_fails_the_deployment(artifact, action):
    """The handler invalidates, then waits with GetInvalidation (WaitForDistributionInvalidation
    defaults to true): either action missing fails it, as on AWS."""

    def edit(resources):
        for resource in resources.values():
            if (
                resource["Type"] == "AWS::IAM::Policy"
                and "CDKBucketDeployment" in resource["Metadata"]["aws:cdk:path"]
            ):
                for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                    actions = statement["Action"]
                    statement["Action"] = [
                        a for a in ([actions] if isinstance(actions, str) else actions) if a != action
                    ]

    with pytest.raises(
        LocalCloudError, match=rf"\(Custom::CDKBucketDeployment\) failed: .*AccessDenied.*{action}"
    ):
        LocalCloud(mutated(artifact, edit)).start()


def test_not_waiting_for_the_invalidation_needs_no_get_invalidation(artifact):
    def edit(resources):
        resource_of(resources, "Custom::CDKBucketDeployment", "DeployPruned")["Properties"][
            "WaitForDistributionInvalidation"
        ] = False
        for resource in resources.values():
            if (
                resource["Type"] == "AWS::IAM::Policy"
                and "CDKBucketDeployment" in resource["Metadata"]["aws:cdk:path"]
            ):
                for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                    actions = statement["Action"]
                    statement["Action"] = [
                        a
                        for a in ([actions] if isinstance(actions, str) else actions)
                        if a != "cloudfront:GetInvalidation"
                    ]

    with LocalCloud(mutated(artifact, edit)) as cloud:
        assert cloud.trace.find(kind="invalidate")


def test_a_retention_cloudwatch_logs_does_not_take_is_refused(artifact):
    def edit(resources):
        resource_of(resources, "Custom::LogRetention", "Zipped")["Properties"]["RetentionInDays"] = 8

    with pytest.raises(
        LocalCloudError,
        match=r"ZippedLogRetention\w* \(Custom::LogRetention\) failed: .*8 is not a retention",
    ):
        LocalCloud(mutated(artifact, edit)).start()


def test_auto_delete_is_refused_when_the_bucket_policy_no_longer_lets_its_handler_in(artifact):
    def edit(resources):
        resource_of(resources, "AWS::S3::BucketPolicy", "Pruned")["Properties"]["PolicyDocument"]["Statement"] = [
            s for s in resource_of(resources, "AWS::S3::BucketPolicy", "Pruned")["Properties"]["PolicyDocument"]["Statement"]
            if "s3:DeleteObject*" not in s["Action"]
        ]  # fmt: skip

    with (
        LocalCloud(mutated(artifact, edit)) as cloud,
        pytest.raises(
            LocalCloudError,
            match=r"PrunedAutoDeleteObjectsCustomResource\w* \(Custom::S3AutoDeleteObjects\) failed: .*AccessDenied.*s3:GetBucketTagging",
        ),
    ):
        cloud.service("cdk").delete("Pruned/AutoDeleteObjectsCustomResource/Default")


def test_a_redeploy_that_changes_a_deployments_sources_syncs_them_again_over_the_kept_objects(artifact):
    def drop_the_zip_source(resources):
        props = resource_of(resources, "Custom::CDKBucketDeployment", "DeployPruned")["Properties"]
        for name in ("SourceBucketNames", "SourceObjectKeys", "SourceMarkers", "SourceMarkersConfig"):
            del props[name][1]

    cloud = LocalCloud(artifact)
    cloud.start()
    bucket = cloud.physical_id("Pruned")
    cloud.client("s3").put_object(Bucket=bucket, Key="uploads/mine.txt", Body=b"a user's")
    cloud.client("s3").put_object(Bucket=bucket, Key="web/index.html", Body=b"edited by hand")
    cloud, changes = redeploy(cloud, mutated(artifact, drop_the_zip_source))
    try:
        kept = objects(cloud, "Pruned")
    finally:
        cloud.stop()
    assert not changes.lost and [i for i in changes.changed if i.startswith("DeployPruned")]
    assert "web/zipped/readme.txt" not in kept and "web/data.json" not in kept, (
        "what left the sources is pruned"
    )
    assert kept["web/index.html"] == b"<h1>home</h1>", "the deployment wrote over the kept object"
    assert kept["uploads/mine.txt"] == b"a user's", "outside the prefix, the kept objects stay"


def test_a_deployment_that_does_not_extract_deploys_each_source_zip_itself(artifact):
    def keep_zipped(resources):
        resource_of(resources, "Custom::CDKBucketDeployment", "DeployKept")["Properties"]["Extract"] = False

    with LocalCloud(mutated(artifact, keep_zipped)) as cloud:
        deployed = objects(cloud, "Kept")
    keys = resource_of(artifact.template["Resources"], "Custom::CDKBucketDeployment", "DeployKept")[
        "Properties"
    ]["SourceObjectKeys"]
    assert {f"web/{key}" for key in keys} <= set(deployed)
    with zipfile.ZipFile(io.BytesIO(deployed[f"web/{keys[0]}"])) as site:
        assert "index.html" in site.namelist(), "the site folder, zipped as CDK publishes it"


def test_a_handler_role_that_may_not_read_the_asset_bucket_fails_the_deployment(artifact):
    def no_asset_reads(resources):
        for resource in resources.values():
            if (
                resource["Type"] == "AWS::IAM::Policy"
                and "CDKBucketDeployment" in resource["Metadata"]["aws:cdk:path"]
            ):
                del resource["Properties"]["PolicyDocument"]["Statement"][0]

    with pytest.raises(
        LocalCloudError,
        match=r"failed: .*not authorized to perform: s3:GetObject on resource: arn:aws:s3:::cdk-",
    ):
        LocalCloud(mutated(artifact, no_asset_reads)).start()


def test_zips_are_not_extracted_into_a_folder_others_may_write(tmp_path, monkeypatch):
    """Code another user of the machine put there would run as the functions' own."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(assets, "EXTRACTED", shared)
    with pytest.raises(LocalCloudError, match=r"shared is not a folder of this user's"):
        extracted(write_zip(tmp_path / "c.zip", {"x.py": "X = 3"}), "Fn")
    shared.chmod(0o700)
    assert (extracted(write_zip(tmp_path / "c.zip", {"x.py": "X = 3"}), "Fn") / "x.py").read_text() == "X = 3"


def test_a_zip_over_lambdas_unzipped_limit_is_refused_naming_the_resource(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "UNZIPPED_LIMIT", 100)
    with pytest.raises(
        LocalCloudError, match=r"^Fn: .*big\.zip unzips to 120 bytes; .*smaller than 100 bytes"
    ):
        extracted(write_zip(tmp_path / "big.zip", {"x.py": "#" * 120}), "Fn")
    assert extracted(write_zip(tmp_path / "small.zip", {"x.py": "#" * 99}), "Fn").is_dir()
