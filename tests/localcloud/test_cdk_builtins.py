"""Zip assets and CDK's built-in custom resources, as they behave on a purpose-built stack
(``builtins_stack.py``): a function and a layer from zip files; ``BucketDeployment`` with and
without prune, filters, markers, metadata, a zip source and a CloudFront invalidation;
``log_retention``; a ``LogStream``; and ``auto_delete_objects`` emptying its bucket (last: it
empties the module's cloud). Their failures, and a redeploy, are in ``test_cdk_builtins_edits.py``.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from tests.localcloud.builtins_stack import objects, synthesized

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with LocalCloud(synthesized(tmp_path_factory)) as running:
        yield running


def test_a_function_and_its_layer_run_from_zip_files(cloud):
    assert cloud.invoke("Zipped", {"name": "zip"})["Payload"] == "hello, zip"


def test_a_pruning_deployment_leaves_exactly_its_sources_and_what_its_filters_exclude(cloud):
    assert sorted(objects(cloud, "Pruned")) == [
        "web/LICENSE",
        "web/config.json",
        "web/css/app.css",
        "web/data.json",
        "web/index.html",
        "web/keep-me.tmp",  # excluded as *.tmp, included again by name
        "web/old.tmp",  # the seed's: excluded, so not pruned either
        "web/zipped/readme.txt",
    ], "stale.txt pruned, notes.tmp never written"


def test_without_prune_what_was_there_stays(cloud):
    kept = objects(cloud, "Kept")
    assert kept["web/stale.txt"] == b"from an earlier deployment"
    assert kept["web/index.html"] == b"<h1>home</h1>", "a later source's file replaces the earlier one"
    assert "web/notes.tmp" not in kept


def test_markers_are_replaced_and_json_is_written_back_as_the_handler_writes_it(cloud):
    deployed = objects(cloud, "Pruned")
    assert json.loads(deployed["web/config.json"]) == {"bucket": cloud.physical_id("Pruned")}
    assert deployed["web/data.json"] == b'{"a": 1}', "json.dumps of every JSON file, as the handler does"


def test_objects_get_the_metadata_and_a_content_type_guessed_from_their_name(cloud):
    s3_client, bucket = cloud.client("s3"), cloud.physical_id("Pruned")
    head = {
        key: s3_client.head_object(Bucket=bucket, Key=f"web/{key}")
        for key in ("index.html", "css/app.css", "LICENSE")
    }
    assert [h["ContentType"] for h in head.values()] == ["text/html", "text/css", "binary/octet-stream"]
    assert {h["CacheControl"] for h in head.values()} == {"max-age=3600"}
    assert {json.dumps(h["Metadata"]) for h in head.values()} == {'{"team": "web"}'}


def test_the_deployment_invalidates_its_distribution_and_the_distribution_serves_it(cloud):
    [span] = cloud.trace.find(kind="invalidate")
    assert span.target == f"cloudfront:{cloud.physical_id('Cdn')}" and span.detail.startswith("/web/*")
    assert cloud.distribution("Cdn").get("/web/index.html").body == b"<h1>home</h1>"


def test_log_retention_sets_the_function_groups_retention_and_its_handlers_own(cloud):
    groups = {
        g["logGroupName"]: g.get("retentionInDays")
        for g in cloud.client("logs").describe_log_groups()["logGroups"]
    }
    assert groups[f"/aws/lambda/{cloud.function('Zipped').name}"] == 7
    [handler_group] = [name for name in groups if "LogRetention" in name]
    assert groups[handler_group] == 1


def test_a_log_stream_is_created_in_its_group(cloud):
    streams = cloud.client("logs").describe_log_streams(logGroupName=cloud.physical_id("Group"))["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["audit"] == [cloud.physical_id("Stream")]


def test_deleting_the_stack_empties_an_auto_delete_bucket_every_version_included(cloud):
    s3_client, bucket = cloud.client("s3"), cloud.physical_id("Pruned")
    s3_client.delete_object(Bucket=bucket, Key="web/LICENSE")  # a delete marker and an older version
    [deleted] = cloud.service("cdk").delete("Pruned/AutoDeleteObjectsCustomResource/Default")
    assert deleted.startswith("PrunedAutoDeleteObjectsCustomResource")
    listed = s3_client.list_object_versions(Bucket=bucket)
    assert listed.get("Versions", []) == listed.get("DeleteMarkers", []) == []
    assert objects(cloud, "Kept"), "a bucket without auto_delete_objects keeps its objects"
    with pytest.raises(ClientError) as refused:
        s3_client.put_object(Bucket=bucket, Key="late", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, "writes denied while it goes"
