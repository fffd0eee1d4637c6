"""The tenant seeder app: an AwsCustomResource seeds its table, a Provider onboards a tenant and
waits for it on the virtual clock, and a role with the AWS managed AWSLambdaExecute policy can do
exactly what that policy's real document allows."""

from __future__ import annotations

import json

import pytest

from localcloud.testing import cloud_for

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="module")
def cloud(other_apps):
    with cloud_for(other_apps, "TenantSeederStack") as running:
        yield running


def item(cloud, key: str) -> dict:
    table = cloud.outputs["TableName"]
    return cloud.client("dynamodb").get_item(TableName=table, Key={"id": {"S": key}})["Item"]


def test_the_aws_custom_resource_seeds_the_table_and_takes_its_id_from_the_response(cloud):
    assert item(cloud, "defaults") == {"id": {"S": "defaults"}, "plan": {"S": "free"}, "seats": {"N": "5"}}
    assert cloud.outputs["SeedId"] == cloud.outputs["TableName"], "get_response_field"
    assert cloud.physical_id("SeedDefaults/Resource/Default") == cloud.outputs["TableName"], "from_response"


def test_the_provider_onboards_the_tenant_and_waits_until_it_is_active(cloud):
    tenant = item(cloud, "acme")
    assert (tenant["plan"], tenant["seats"], tenant["status"]) == ({"S": "pro"}, {"N": "5"}, {"S": "ACTIVE"})
    assert int(tenant["ready_at"]["N"]) - int(tenant["requested_at"]["N"]) == 20, "one query interval"
    assert (cloud.outputs["TenantId"], cloud.outputs["TenantStatus"]) == ("tenant-acme", "ACTIVE")


def test_a_role_with_aws_lambda_execute_reads_and_writes_objects_and_nothing_else(cloud):
    bucket = cloud.outputs["BucketName"]
    cloud.client("s3").put_object(Bucket=bucket, Key="usage.csv", Body=b"a\nb\nc\n")
    answer = cloud.invoke(cloud.outputs["ReportFunction"], {"key": "usage.csv"})
    assert answer["Payload"] == {"lines": 3}
    report = cloud.client("s3").get_object(Bucket=bucket, Key="usage.csv.report")["Body"].read()
    assert json.loads(report) == {"lines": 3}
    refused = cloud.invoke(
        cloud.outputs["ReportFunction"], {"key": "-", "from_table": True, "tenant": "acme"}
    )
    error = refused["Payload"]
    assert refused["FunctionError"] == "Unhandled"
    assert "not authorized to perform: dynamodb:GetItem" in error["errorMessage"]
