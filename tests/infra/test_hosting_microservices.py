"""What makes hosting microservices: a regional TLS 1.2 domain in a stack of its own, one stack per
service with its own API, function and table, and a base-path mapping each service stack owns; the
stacks share the domain's name only (a prop or a parameter), never an export."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from patterns.hosting_microservices import OrdersService, ServiceDomain, UsersService
from patterns.registry import get
from tests.infra.conftest import properties_of, resources_of, statements_of, unbounded

pytestmark = pytest.mark.infra
PATTERN = get("hosting_microservices")
DOMAIN_STACK = PATTERN.stack_name
SERVICES = {"orders": PATTERN.variant_stack_name("orders"), "users": PATTERN.variant_stack_name("users")}
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


def test_the_domain_is_regional_tls_1_2_with_name_and_certificate_given_at_deploy(templates):
    template = templates[DOMAIN_STACK]
    [domain] = properties_of(template, "AWS::ApiGateway::DomainName").values()
    assert domain == {
        "DomainName": {"Ref": "DomainName"},
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "RegionalCertificateArn": {"Ref": "CertificateArn"},
        "SecurityPolicy": "TLS_1_2",
    }
    parameters = template["Parameters"]
    assert "Default" not in parameters["DomainName"] and "Default" not in parameters["CertificateArn"], (
        "nothing hard-coded: a deploy names its own domain and certificate"
    )
    assert parameters["CertificateArn"]["AllowedPattern"].startswith("^arn:aws[a-z-]*:acm:")
    assert set(template["Resources"]) == {next(iter(resources_of(template, "AWS::ApiGateway::DomainName")))}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_stack_owns_its_api_function_table_and_mapping(templates, service):
    template = templates[SERVICES[service]]
    [api_id] = resources_of(template, "AWS::ApiGateway::RestApi")
    [stage_id] = resources_of(template, "AWS::ApiGateway::Stage")
    [table_id] = resources_of(template, "AWS::DynamoDB::Table")
    [mapping] = resources_of(template, "AWS::ApiGateway::BasePathMapping").values()
    assert mapping["Condition"] == "Mounted"
    assert mapping["Properties"] == {
        "BasePath": service,
        "DomainName": {"Ref": "MountOnDomain"},
        "RestApiId": {"Ref": api_id},
        "Stage": {"Ref": stage_id},
    }
    assert template["Parameters"]["MountOnDomain"]["Default"] == "", "deployable alone, mounted on no domain"
    assert template["Conditions"]["Mounted"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "MountOnDomain"}, ""]}]}
    [post] = [
        m for m in properties_of(template, "AWS::ApiGateway::Method").values() if m["HttpMethod"] == "POST"
    ]
    assert "RequestValidatorId" in post and "application/json" in post["RequestModels"], (
        "bodies checked first"
    )
    [model] = properties_of(template, "AWS::ApiGateway::Model").values()
    assert unbounded(model["Schema"]) == [] and model["Schema"]["additionalProperties"] is False
    [function] = properties_of(template, "AWS::Lambda::Function").values()
    assert function["Handler"] == f"{service}.handler"
    granted = [s for s in statements_of(template) if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert granted == [
        {
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
        }
    ]


def test_no_stack_of_the_row_imports_from_another(cloud_assembly, templates):
    """Only the domain's name passes, so each stack deploys and is destroyed alone."""
    for name in (DOMAIN_STACK, *SERVICES.values()):
        assert "Fn::ImportValue" not in json.dumps(templates[name]), name
        assert "Export" not in json.dumps(templates[name].get("Outputs", {})), name
        stack = cloud_assembly.get_stack_by_name(name)
        stacks = {d.id for d in stack.dependencies if not d.id.endswith(".assets")}
        assert stacks <= {"ApiGatewayAccountStack"}, name


def test_props_instead_of_parameters_and_what_they_refuse():
    stack = Stack(App(builtin_cloud_formation_validation=False), "Own")
    with pytest.raises(ValueError, match=r"domain_name .API\.example\.com. is not a lower-case DNS name"):
        ServiceDomain(stack, "Bad", domain_name="API.example.com", certificate_arn=CERTIFICATE)
    with pytest.raises(ValueError, match="certificate_arn 'arn:aws:iam::1:x' is not an ACM certificate ARN"):
        ServiceDomain(stack, "Bad2", domain_name="api.example.com", certificate_arn="arn:aws:iam::1:x")
    with pytest.raises(ValueError, match="base_path 'shop/orders' must be one path segment"):
        OrdersService(stack, "Bad3", domain_name="api.example.com", base_path="shop/orders")
    ServiceDomain(stack, "Domain", domain_name="api.example.com", certificate_arn=CERTIFICATE)
    OrdersService(stack, "Orders", domain_name="api.example.com", base_path="v1-orders")
    UsersService(stack, "Users", domain_name="api.example.com")
    template = Template.from_stack(stack).to_json()
    assert "Parameters" not in template or set(template["Parameters"]) <= {"BootstrapVersion"} | {
        p for p in template["Parameters"] if p.startswith("SsmParameterValue")
    }
    [domain] = properties_of(template, "AWS::ApiGateway::DomainName").values()
    assert (domain["DomainName"], domain["RegionalCertificateArn"]) == ("api.example.com", CERTIFICATE)
    mappings = resources_of(template, "AWS::ApiGateway::BasePathMapping").values()
    assert sorted((m["Properties"]["BasePath"], m["Properties"]["DomainName"]) for m in mappings) == [
        ("users", "api.example.com"),
        ("v1-orders", "api.example.com"),
    ]
    assert all("Condition" not in m for m in mappings), "a domain given as a prop is always mounted on"
