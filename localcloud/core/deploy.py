"""Deploy a template as CloudFormation would: parameters and rules checked, resources created in
dependency order by the provisioner of their type (each claimed by one service), intrinsics
resolved against what is already created, then the outputs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned
from localcloud.errors import TemplateError, Unsupported, UnsupportedAttribute, UnsupportedResourceType
from localcloud.lib.intrinsics import Resolver, creation_order

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: The type every ``Custom::*`` resource is, unless a service claims its own type.
CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
#: Default value of the SSM parameters CDK templates read at deploy time.
BOOTSTRAP_VERSION = "30"
POWERTOOLS_PARAMETER = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>[\w-]+)/python(?P<version>[\d.]+)/"
)


def deploy(kernel: Kernel) -> None:
    """Create every resource of the kernel's template whose condition holds, then its outputs."""
    template = kernel.artifact.template
    provisioners = kernel.registry.provisioners
    resolver = Resolver(
        template,
        parameters=_parameters(kernel),
        pseudo=_pseudo_parameters(kernel),
        ref=lambda logical_id: _provisioned(kernel, logical_id).physical_id,
        get_att=lambda logical_id, attribute: _attribute(kernel, logical_id, attribute),
    )
    _check_rules(kernel, resolver)
    for logical_id in creation_order(template):
        resource = template["Resources"][logical_id]
        condition = resource.get("Condition")
        if condition and not resolver.condition(condition, logical_id):
            continue
        provisioner = provisioners.get(resource["Type"])
        if provisioner is None and resource["Type"].startswith("Custom::"):
            provisioner = provisioners.get(CUSTOM_RESOURCE)  # any custom type no service claims
        if provisioner is None:
            path = resource.get("Metadata", {}).get("aws:cdk:path")
            raise UnsupportedResourceType(resource["Type"], logical_id, path)
        properties = resolver.resolve(resource.get("Properties", {}), logical_id) or {}
        try:
            kernel.resources[logical_id] = provisioner(kernel, logical_id, properties)
        except (KeyError, ValueError, TypeError, AttributeError, IndexError) as error:
            # A property or form the provisioner does not know: a gap to name, not a crash to show.
            where = f"{logical_id} ({resource['Type']})"
            detail = f"its provisioner stopped on {type(error).__name__}: {error}"
            raise Unsupported(where, "this configuration of the resource", detail) from error
    for name, output in template.get("Outputs", {}).items():
        if "Condition" in output and not resolver.condition(output["Condition"], f"Outputs.{name}"):
            continue
        kernel.outputs[name] = resolver.resolve(output["Value"], f"Outputs.{name}")


def _parameters(kernel: Kernel) -> dict[str, Any]:
    values = {}
    for name, spec in kernel.artifact.template.get("Parameters", {}).items():
        if name in kernel.parameter_overrides:
            values[name] = kernel.parameter_overrides[name]
        elif spec["Type"].startswith("AWS::SSM::Parameter::Value"):
            values[name] = _ssm_parameter(kernel, name, spec.get("Default", ""))
        elif "Default" in spec:
            values[name] = spec["Default"]
    return values


def _ssm_parameter(kernel: Kernel, name: str, path: str) -> str:
    """Deploy-time SSM lookups, answered offline."""
    if path.startswith("/cdk-bootstrap/"):
        return BOOTSTRAP_VERSION
    powertools = POWERTOOLS_PARAMETER.match(path)
    if powertools:
        runtime = "python" + powertools["version"].replace(".", "")
        layer = f"AWSLambdaPowertoolsPythonV3-{runtime}-{powertools['arch']}"
        return f"arn:{kernel.partition}:lambda:{kernel.region}:017000801446:layer:{layer}:local"
    raise TemplateError(
        f"parameter {name}: SSM parameter {path} has no offline value; pass parameters={{...}}"
    )


def _pseudo_parameters(kernel: Kernel) -> dict[str, Any]:
    partition, region, account, stack = kernel.partition, kernel.region, kernel.account, kernel.stack_name
    return {
        "AWS::AccountId": account,
        "AWS::Region": region,
        "AWS::Partition": partition,
        "AWS::StackName": stack,
        "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack}/{kernel.short_id('stack')}",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }


def _check_rules(kernel: Kernel, resolver: Resolver) -> None:
    for name, rule in kernel.artifact.template.get("Rules", {}).items():
        if "RuleCondition" in rule and not resolver.resolve(rule["RuleCondition"], f"Rules.{name}"):
            continue
        for assertion in rule.get("Assertions", []):
            if not resolver.resolve(assertion["Assert"], f"Rules.{name}"):
                raise TemplateError(f"Rules.{name}: {assertion.get('AssertDescription', 'assertion failed')}")


def _provisioned(kernel: Kernel, logical_id: str) -> Provisioned:
    if logical_id not in kernel.resources:
        raise TemplateError(f"{logical_id} is referenced but was not created (its Condition is false?)")
    return kernel.resources[logical_id]


def _attribute(kernel: Kernel, logical_id: str, attribute: str) -> Any:
    provisioned = _provisioned(kernel, logical_id)
    if attribute not in provisioned.attributes:
        resource_type = kernel.artifact.template["Resources"][logical_id]["Type"]
        if resource_type == CUSTOM_RESOURCE or resource_type.startswith("Custom::"):
            keys = ", ".join(provisioned.attributes) or "none"
            raise TemplateError(
                f"{logical_id}: CustomResource attribute error: Vendor response doesn't contain "
                f"{attribute} key in object {provisioned.physical_id} (its Data has: {keys})"
            )
        raise UnsupportedAttribute(logical_id, resource_type, attribute)
    return provisioned.attributes[attribute]
