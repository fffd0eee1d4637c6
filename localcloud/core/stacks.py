"""Several stacks of one cloud assembly in one local cloud, as one account holds them.

Stacks that share account-wide names (a custom domain several services map their base paths on, a
bucket name) only meet in one cloud. :func:`merged` gives one artifact holding every resource of
the named stacks: each logical id, parameter, condition, mapping and output is prefixed with its
stack's name, and every reference inside a stack (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If``,
``Condition``, ``DependsOn``, ``Fn::FindInMap``) is rewritten to match, so nothing of one stack can
reach another's resources except by what AWS shares across stacks: names and ARNs passed as
parameters. ``Fn::ImportValue`` is refused: stacks that import each other's exports cannot be
deployed or removed alone, which is what running them side by side is for.

Construct paths (``aws:cdk:path``) are kept, so ``cloud.physical_id("OrdersStack/Pattern/Table")``
still finds a resource, and physical names are made from each resource's own stack and logical id
(``OrdersStack-PatternTable…``). ``AWS::StackName`` is the merged artifact's name in every stack.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from localcloud.core.assembly import StackArtifact, load_stack
from localcloud.errors import LocalCloudError, TemplateError

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
SECTIONS = ("Parameters", "Conditions", "Mappings", "Rules", "Resources", "Outputs")


def prefix_of(stack_name: str) -> str:
    """What a stack's names are prefixed with in the merged artifact (alphanumeric, as logical ids are)."""
    return re.sub(r"[^A-Za-z0-9]", "", stack_name)


def merged(directory: str | Path, stack_names: list[str] | tuple[str, ...]) -> StackArtifact:
    """One artifact holding the stacks ``stack_names`` of the cloud assembly in ``directory``."""
    if len(set(stack_names)) != len(stack_names) or not stack_names:
        raise LocalCloudError(f"name each stack once, at least one: {list(stack_names)}")
    template: dict[str, Any] = {section: {} for section in SECTIONS}
    origins: dict[str, tuple[str, str]] = {}
    for stack_name in stack_names:
        artifact = load_stack(directory, stack_name)
        for section, entries in _renamed(artifact.template, prefix_of(stack_name), stack_name).items():
            template[section].update(entries)
        prefix = prefix_of(stack_name)
        origins.update({prefix + own: (stack_name, own) for own in artifact.template.get("Resources", {})})
    return StackArtifact("-".join(stack_names), template, Path(directory), origins)


def merged_parameters(parameters: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{stack name: {parameter: value}}`` as the merged artifact names its parameters."""
    return {
        prefix_of(stack) + name: value
        for stack, values in parameters.items()
        for name, value in values.items()
    }


def _renamed(template: dict[str, Any], prefix: str, stack_name: str) -> dict[str, dict[str, Any]]:
    names = {
        section: set(template.get(section, {}))
        for section in ("Parameters", "Resources", "Conditions", "Mappings")
    }
    local = names["Parameters"] | names["Resources"]

    def value(node: Any, where: str) -> Any:
        if isinstance(node, list):
            return [value(item, where) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(key, argument)] = node.items()
            if key == "Fn::ImportValue":
                raise TemplateError(
                    f"{stack_name}.{where}: Fn::ImportValue couples the deployments of two stacks; "
                    "pass the value as a parameter (or an SSM parameter) instead"
                )
            if key == "Ref" and argument in local:
                return {"Ref": prefix + argument}
            if key == "Fn::GetAtt":
                return {"Fn::GetAtt": _get_att(argument, prefix, names["Resources"])}
            if key == "Fn::Sub":
                return {"Fn::Sub": _sub(argument, prefix, local, value, where)}
            if key == "Fn::If":
                return {"Fn::If": [prefix + argument[0], *value(argument[1:], where)]}
            if key == "Condition" and isinstance(argument, str) and argument in names["Conditions"]:
                return {"Condition": prefix + argument}
            if key == "Fn::FindInMap" and isinstance(argument[0], str):
                return {"Fn::FindInMap": [prefix + argument[0], *value(argument[1:], where)]}
        return {key: value(item, where) for key, item in node.items()}

    renamed: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        entries = {}
        for name, entry in template.get(section, {}).items():
            entry = value(entry, f"{section}.{name}")
            if section in ("Resources", "Outputs") and isinstance(entry.get("Condition"), str):
                entry["Condition"] = prefix + entry["Condition"]
            if section == "Resources" and "DependsOn" in entry:
                needed = entry["DependsOn"]
                entry["DependsOn"] = (
                    prefix + needed if isinstance(needed, str) else [prefix + n for n in needed]
                )
            entries[prefix + name] = entry
        renamed[section] = entries
    return renamed


def _get_att(argument: Any, prefix: str, resources: set[str]) -> Any:
    if isinstance(argument, str):
        logical_id = argument.partition(".")[0]
        return f"{prefix}{argument}" if logical_id in resources else argument
    return [prefix + argument[0], *argument[1:]] if argument[0] in resources else argument


def _sub(argument: Any, prefix: str, local: set[str], value: Any, where: str) -> Any:
    text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

    def rename(match: re.Match[str]) -> str:
        name = match.group(1)
        head = name.split(".", 1)[0]
        return f"${{{prefix}{name}}}" if head in local and name not in variables else match.group(0)

    text = _SUB_VARIABLE.sub(rename, text)
    return text if isinstance(argument, str) else [text, value(variables, where)]
