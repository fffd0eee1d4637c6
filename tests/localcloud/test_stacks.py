"""Several stacks in one local cloud (``localcloud.core.stacks``), and the custom-domain rules that
several stacks mapping base paths on one domain meet: each stack's names kept apart, its references
rewritten with them, ``Fn::ImportValue`` refused, and API Gateway's conflicts between mappings."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from localcloud.core.stacks import merged, merged_parameters
from localcloud.errors import ApiGatewayError, LocalCloudError, TemplateError
from localcloud.services.apigateway.domains import build

pytestmark = pytest.mark.localcloud

SERVICE = {
    "Parameters": {"Domain": {"Type": "String", "Default": ""}},
    "Conditions": {"Mounted": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Domain"}, ""]}]}},
    "Mappings": {"Sizes": {"small": {"Memory": 128}}},
    "Resources": {
        "Api": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-api"}},
        },
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "DependsOn": ["Api"],
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "Root": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "Dotted": {"Fn::GetAtt": "Api.RootResourceId"},
                "Url": {
                    "Fn::Sub": ["https://${Api}.${Host}/${Api.RootResourceId}", {"Host": {"Ref": "Domain"}}]
                },
                "Memory": {"Fn::FindInMap": ["Sizes", "small", "Memory"]},
                "Region": {"Ref": "AWS::Region"},
                "Either": {"Fn::If": ["Mounted", {"Ref": "Domain"}, {"Ref": "AWS::NoValue"}]},
            },
        },
        "Mapping": {"Type": "AWS::ApiGateway::BasePathMapping", "Condition": "Mounted", "DependsOn": "Stage"},
    },
    "Outputs": {"Url": {"Value": {"Ref": "Api"}, "Condition": "Mounted"}},
}


@pytest.fixture(scope="module")
def assembly(tmp_path_factory):
    directory = tmp_path_factory.mktemp("assembly")
    importing = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::ImportValue": "Shared"}}}
        }
    }
    artifacts = {}
    for name, template in (("Orders", SERVICE), ("Users-Stack", SERVICE), ("Importer", importing)):
        (directory / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    (directory / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return directory


def test_each_stack_keeps_its_names_and_its_references_follow_them(assembly):
    template = merged(assembly, ["Orders", "Users-Stack"]).template
    assert sorted(template["Resources"]) == sorted(
        f"{p}{n}" for p in ("Orders", "UsersStack") for n in ("Api", "Stage", "Mapping")
    )
    stage = template["Resources"]["UsersStackStage"]
    assert stage["DependsOn"] == ["UsersStackApi"]
    assert stage["Properties"] == {
        "RestApiId": {"Ref": "UsersStackApi"},
        "Root": {"Fn::GetAtt": ["UsersStackApi", "RootResourceId"]},
        "Dotted": {"Fn::GetAtt": "UsersStackApi.RootResourceId"},
        "Url": {
            "Fn::Sub": [
                "https://${UsersStackApi}.${Host}/${UsersStackApi.RootResourceId}",
                {"Host": {"Ref": "UsersStackDomain"}},
            ]
        },
        "Memory": {"Fn::FindInMap": ["UsersStackSizes", "small", "Memory"]},
        "Region": {"Ref": "AWS::Region"},
        "Either": {"Fn::If": ["UsersStackMounted", {"Ref": "UsersStackDomain"}, {"Ref": "AWS::NoValue"}]},
    }
    assert template["Resources"]["OrdersMapping"] == {
        "Type": "AWS::ApiGateway::BasePathMapping",
        "Condition": "OrdersMounted",
        "DependsOn": "OrdersStage",
    }
    assert template["Resources"]["OrdersApi"]["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-api"}
    assert template["Conditions"]["OrdersMounted"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OrdersDomain"}, ""]}]
    }
    assert template["Outputs"]["UsersStackUrl"] == {
        "Value": {"Ref": "UsersStackApi"},
        "Condition": "UsersStackMounted",
    }
    assert merged_parameters({"Users-Stack": {"Domain": "api.example.com"}}) == {
        "UsersStackDomain": "api.example.com"
    }
    assert merged(assembly, ["Orders", "Users-Stack"]).origins["UsersStackApi"] == ("Users-Stack", "Api")


def test_an_import_between_stacks_and_a_stack_named_twice_are_refused(assembly):
    with pytest.raises(TemplateError, match=r"Importer\.Resources\.Topic: Fn::ImportValue couples"):
        merged(assembly, ["Orders", "Importer"])
    with pytest.raises(LocalCloudError, match="name each stack once"):
        merged(assembly, ["Orders", "Orders"])
    with pytest.raises(LocalCloudError, match="no stack 'Payments'"):
        merged(assembly, ["Orders", "Payments"])


APIS = {
    "orders1": SimpleNamespace(id="orders1", name="orders", stages={"prod": None}),
    "users1": SimpleNamespace(id="users1", name="users", stages={"prod": None}),
}


def domain_with(*mappings: tuple[str, str, str | None], name: str = "api.example.com"):
    definitions = {"Domain": ("AWS::ApiGateway::DomainName", {"DomainName": "API.example.com"})}
    for index, (base_path, api, stage) in enumerate(mappings):
        props = {"DomainName": name, "RestApiId": api, "BasePath": base_path, "Stage": stage}
        definitions[f"Mapping{index}"] = ("AWS::ApiGateway::BasePathMapping", props)
    return build(definitions, APIS)["api.example.com"]


def test_a_path_goes_to_its_first_segments_mapping_with_the_base_path_removed():
    domain = domain_with(("orders", "orders1", "prod"), ("users", "users1", None))
    mapping, stage, rest = domain.resolve("/orders/42")
    assert (mapping.api_id, stage, rest) == ("orders1", "prod", "/42")
    assert domain.resolve("/orders")[2] == "/"
    mapping, stage, rest = domain.resolve("/users/prod/7")
    assert (mapping.api_id, stage, rest) == ("users1", "prod", "/7"), "no stage: the next segment names it"
    assert domain.resolve("/users") is None
    assert domain.resolve("/ordersx/1") is None, "a base path matches whole segments only"
    assert domain.resolve("/payments/1") is None
    assert domain.resolve("/") is None


def test_a_none_mapping_takes_every_path_but_must_be_the_only_one():
    assert domain_with(("(none)", "orders1", "prod")).resolve("/anything/here")[2] == "/anything/here"
    with pytest.raises(
        ApiGatewayError, match="Only one base path mapping is allowed if the base path is empty"
    ):
        domain_with(("orders", "orders1", "prod"), ("", "users1", "prod"))
    with pytest.raises(
        ApiGatewayError, match="Only one base path mapping is allowed if the base path is empty"
    ):
        domain_with(("(none)", "orders1", "prod"), ("users", "users1", "prod"))


def test_mappings_refused_as_api_gateway_refuses_them():
    with pytest.raises(ApiGatewayError, match="Base path already exists for this domain name"):
        domain_with(("orders", "orders1", "prod"), ("orders/", "users1", "prod"))
    with pytest.raises(ApiGatewayError, match="Invalid domain name identifier specified"):
        domain_with(("orders", "orders1", "prod"), name="other.example.com")
    with pytest.raises(ApiGatewayError, match="is not a REST API here"):
        domain_with(("payments", "payments1", "prod"))
    with pytest.raises(ApiGatewayError, match="stage 'beta' is not a stage"):
        domain_with(("orders", "orders1", "beta"))
    with pytest.raises(ApiGatewayError, match="several segments"):
        domain_with(("shop/orders", "orders1", "prod"))
