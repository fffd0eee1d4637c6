"""The zip-site app (a zipped function and layer, a BucketDeployment into an auto-deleting bucket,
log retention) provisions from CDK's defaults and behaves as it would on AWS."""

from __future__ import annotations

import pytest

from localcloud.testing import cloud_for

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def cloud(other_apps):
    with cloud_for(other_apps, "ZipSiteStack") as running:
        yield running


def test_the_zipped_function_runs_with_its_zip_layer_and_reads_the_deployed_site(cloud):
    answer = cloud.invoke(cloud.outputs["FunctionName"], {"n": 1})
    assert answer["Payload"] == {"quote": "Make it work, make it right, make it fast.", "site": "Quotes"}


def test_the_site_folder_is_deployed_into_the_bucket(cloud):
    s3 = cloud.client("s3")
    bucket = cloud.outputs["SiteBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["css/site.css", "index.html", "robots.txt"]
    robots = s3.get_object(Bucket=bucket, Key="robots.txt")["Body"].read()
    assert robots == b"User-agent: *\nDisallow: /private/\n", "Source.data's file, as the app wrote it"
    assert s3.head_object(Bucket=bucket, Key="css/site.css")["ContentType"] == "text/css"


def test_the_functions_logs_are_kept_a_week(cloud):
    group = f"/aws/lambda/{cloud.outputs['FunctionName']}"
    [found] = cloud.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert found["retentionInDays"] == 7


def test_deleting_the_stack_empties_the_site_bucket(cloud):
    cloud.service("cdk").delete()
    assert "Contents" not in cloud.client("s3").list_objects_v2(Bucket=cloud.outputs["SiteBucketName"])
