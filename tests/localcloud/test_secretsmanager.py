"""Secrets Manager secrets from a template: generated as CloudFormation generates them, read under IAM."""

from __future__ import annotations

import copy
import dataclasses
import json
import string

import pytest
from aws_cdk import Stack
from aws_cdk import aws_secretsmanager as secretsmanager
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.errors import TemplateError
from tests.localcloud.conftest import python_function

pytestmark = pytest.mark.localcloud


def build_secrets(stack: Stack) -> None:
    generated = secretsmanager.Secret(
        stack,
        "Generated",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=48, exclude_punctuation=True, exclude_characters="abc"
        ),
    )
    templated = secretsmanager.Secret(
        stack,
        "Templated",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template=json.dumps({"username": "app"}), generate_string_key="password"
        ),
    )
    secretsmanager.CfnSecret(stack, "Given", secret_string="given-value", description="as written")
    reader = python_function(
        stack,
        "Reader",
        "secret_reader",
        environment={"GENERATED": generated.secret_arn, "TEMPLATED": templated.secret_arn},
    )
    generated.grant_read(reader)


@pytest.fixture
def cloud(synth, run):
    return run(synth("SecretsSemantics", build_secrets))


def test_a_generated_secret_follows_its_options(cloud):
    value = cloud.client("secretsmanager").get_secret_value(SecretId=cloud.physical_id("Generated"))
    secret = value["SecretString"]
    assert len(secret) == 48
    assert not set(secret) & set(string.punctuation + " abc")
    assert cloud.physical_id("Generated").startswith("arn:aws:secretsmanager:"), "Ref is the ARN"


def test_a_template_and_key_give_a_json_secret(cloud):
    secret = json.loads(
        cloud.client("secretsmanager").get_secret_value(SecretId=cloud.physical_id("Templated"))[
            "SecretString"
        ]
    )
    assert secret["username"] == "app" and len(secret["password"]) == 32


def test_a_given_secret_string_is_kept(cloud):
    secrets = cloud.client("secretsmanager")
    assert secrets.get_secret_value(SecretId=cloud.physical_id("Given"))["SecretString"] == "given-value"
    assert secrets.describe_secret(SecretId=cloud.physical_id("Given"))["Description"] == "as written"


def test_a_function_reads_only_the_secret_it_was_granted(cloud):
    generated = cloud.client("secretsmanager").get_secret_value(SecretId=cloud.physical_id("Generated"))
    assert cloud.invoke("Reader", {"secret": "GENERATED"})["Payload"] == generated["SecretString"]
    denied = cloud.invoke("Reader", {"secret": "TEMPLATED"})
    assert "AccessDeniedException" in denied["Payload"]["errorMessage"]
    assert "secretsmanager:GetSecretValue" in cloud.trace.find("denied")[0].detail


def test_a_role_granted_the_secrets_arn_reads_it_by_name_as_iam_decides_on_the_full_arn(cloud):
    """IAM decides a call by name (or partial ARN) on the secret's full ARN, the six characters
    Secrets Manager appends included: the CDK's grant, which names that ARN, lets the role read the
    secret by its name; another secret's name is refused on that secret's ARN."""
    generated, templated = cloud.physical_id("Generated"), cloud.physical_id("Templated")
    role = cloud.function("Reader").role_arn
    reader = cloud.client_as(role, "secretsmanager", "reader")
    name = generated.rsplit(":", 1)[1].rsplit("-", 1)[0]
    partial = generated.rsplit("-", 1)[0]
    for secret_id in (name, partial):
        assert reader.get_secret_value(SecretId=secret_id)["ARN"] == generated
    other = templated.rsplit(":", 1)[1].rsplit("-", 1)[0]
    with pytest.raises(ClientError) as refused:
        reader.get_secret_value(SecretId=other)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"on resource: {templated} because" in refused.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"SecretString": "x", "GenerateSecretString": {}}, "not both"),
        ({"GenerateSecretString": {"GenerateStringKey": "password"}}, "needs both SecretStringTemplate"),
        ({"GenerateSecretString": {"SecretStringTemplate": "[]", "GenerateStringKey": "k"}}, "a JSON object"),
        ({"GenerateSecretString": {"PasswordLength": 5000}}, "PasswordLength must be from 1 to 4096"),
    ],
    ids=["both", "key-without-template", "template-not-object", "too-long"],
)
def test_what_cloudformation_refuses_stops_the_stack(synth, properties, message):
    artifact = synth("SecretsSemantics", build_secrets)
    template = copy.deepcopy(artifact.template)
    template["Resources"][_logical_id(template, "Given")]["Properties"] = properties
    with pytest.raises(TemplateError, match=message):
        LocalCloud(dataclasses.replace(artifact, template=template)).start()


def _logical_id(template: dict, prefix: str) -> str:
    [found] = [k for k in template["Resources"] if k.startswith(prefix)]
    return found
