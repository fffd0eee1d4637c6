"""What makes the streamer: API Gateway's Kinesis integrations with VTL and request models (no Lambda),
a role that may only put records on the one stream, and a Firehose delivery stream reading that stream
into GZIP objects under a timestamp prefix, with its own least-privilege role."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack

from patterns.defaults import SecureDefaultOverridden
from patterns.streamer import DEFAULT_ERROR_PREFIX, DEFAULT_PREFIX, MAX_RECORDS, Streamer
from tests.infra.conftest import properties_of, resources_of, statements_of

pytestmark = pytest.mark.infra
STACK = "StreamerStack"


def test_two_kinesis_integrations_with_templates_models_and_no_lambda(templates):
    raw = templates[STACK]
    assert not resources_of(raw, "AWS::Lambda::Function")
    methods = properties_of(raw, "AWS::ApiGateway::Method").values()
    actions = {}
    for method in methods:
        integration = method["Integration"]
        uri = "".join(p if isinstance(p, str) else "" for p in integration["Uri"]["Fn::Join"][1])
        action = uri.rsplit("/", 1)[-1]
        actions[action] = method
        assert ":kinesis:action/" in uri
        assert integration["PassthroughBehavior"] == "NEVER"
        assert method["RequestValidatorId"] and method["RequestModels"]["application/json"]
        request = integration["RequestTemplates"]["application/json"]
        joined = "".join(p if isinstance(p, str) else "<ref>" for p in request["Fn::Join"][1])
        assert '$util.base64Encode("' in joined and "$input.body" not in joined
        [ok, failed] = integration["IntegrationResponses"]
        assert ok["StatusCode"] == "200"
        assert (failed["StatusCode"], failed["SelectionPattern"]) == ("500", r"4\d{2}|5\d{2}")
        errors = failed["ResponseTemplates"]["application/json"]
        assert "responseOverride.status = 400" in errors
        assert '$type == "ProvisionedThroughputExceededException"' in errors
        assert "responseOverride.status = 429" in errors, "a throttle is the caller's to retry later"
        assert {r["StatusCode"] for r in method["MethodResponses"]} == {"200", "400", "429", "500"}
    assert set(actions) == {"PutRecord", "PutRecords"}
    answer = actions["PutRecords"]["Integration"]["IntegrationResponses"][0]["ResponseTemplates"]
    assert "$input.path('$.FailedRecordCount')" in answer["application/json"], "the caller sees what failed"
    models = properties_of(raw, "AWS::ApiGateway::Model")
    [records] = [m for m in models.values() if m["Schema"].get("title") == "Records"]
    item = records["Schema"]["properties"]["records"]
    assert (item["minItems"], item["maxItems"]) == (1, MAX_RECORDS)
    key = item["items"]["properties"]["partitionKey"]
    assert (key["minLength"], key["maxLength"]) == (1, 256)


def test_api_gateway_may_only_put_records_on_the_stream(templates):
    raw = templates[STACK]
    [stream] = properties_of(raw, "AWS::Kinesis::Stream")
    [method, *_] = properties_of(raw, "AWS::ApiGateway::Method").values()
    role = method["Integration"]["Credentials"]["Fn::GetAtt"][0]
    assert statements_of(raw, role) == [
        {
            "Action": ["kinesis:PutRecord", "kinesis:PutRecords"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [stream, "Arn"]},
        }
    ]


def test_firehose_reads_the_encrypted_stream_into_gzip_objects_with_its_own_role(templates):
    raw = templates[STACK]
    [(stream_id, stream)] = properties_of(raw, "AWS::Kinesis::Stream").items()
    assert stream["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
    [bucket_id] = [
        k
        for k, b in properties_of(raw, "AWS::S3::Bucket").items()
        if "LoggingConfiguration" in b  # the data bucket, not its access-log bucket
    ]
    [delivery] = properties_of(raw, "AWS::KinesisFirehose::DeliveryStream").values()
    assert delivery["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert delivery["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] == {
        "Fn::GetAtt": [stream_id, "Arn"]
    }
    destination = delivery["ExtendedS3DestinationConfiguration"]
    assert (destination["Prefix"], destination["ErrorOutputPrefix"]) == (DEFAULT_PREFIX, DEFAULT_ERROR_PREFIX)
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 1}
    role = destination["RoleARN"]["Fn::GetAtt"][0]
    assert delivery["KinesisStreamSourceConfiguration"]["RoleARN"]["Fn::GetAtt"][0] == role
    statements = statements_of(raw, role)
    assert statements == [
        {
            "Action": [
                "kinesis:DescribeStream",
                "kinesis:GetRecords",
                "kinesis:GetShardIterator",
                "kinesis:ListShards",
            ],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [stream_id, "Arn"]},
        },
        {
            "Action": ["s3:PutObject"],
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
        },
    ]
    assert role in resources_of(raw, "AWS::KinesisFirehose::DeliveryStream").popitem()[1]["DependsOn"]
    # Firehose uploads large objects in parts; without s3:AbortMultipartUpload the parts of an upload
    # it gives up on would be billed for ever, so the bucket removes them.
    rules = properties_of(raw, "AWS::S3::Bucket")[bucket_id]["LifecycleConfiguration"]["Rules"]
    assert {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}, "Status": "Enabled"} in [
        {k: v for k, v in rule.items() if k != "Id"} for rule in rules
    ]


def test_buffering_hints_out_of_firehose_range_and_a_weakened_stream_are_refused_or_warned():
    from aws_cdk import aws_kinesis as kinesis

    stack = Stack(App(), "Variant")
    with pytest.raises(ValueError, match="buffering_interval"):
        Streamer(stack, "Late", buffering_interval=Duration.seconds(901))
    with pytest.raises(ValueError, match="buffering_size_mib"):
        Streamer(stack, "Huge", buffering_size_mib=129)
    with pytest.raises(ValueError, match="error_output_prefix"):
        Streamer(stack, "NoErrors", error_output_prefix="")
    with pytest.warns(SecureDefaultOverridden, match="encryption"):
        Streamer(stack, "Plain", stream_props={"encryption": kinesis.StreamEncryption.UNENCRYPTED})
