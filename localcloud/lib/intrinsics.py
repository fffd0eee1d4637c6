"""CloudFormation intrinsic functions, conditions and pseudo parameters, resolved as AWS does.

A :class:`Resolver` turns template values into plain values once the resources they reference
exist. Anything it does not know raises :class:`UnsupportedIntrinsic` naming the function and the
resource, never a silent pass-through.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from localcloud.errors import TemplateError, UnsupportedIntrinsic

#: Removes the property (or list item) it stands in, as ``{"Ref": "AWS::NoValue"}`` does.
NO_VALUE = object()

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Resolve intrinsics against the stack's parameters, conditions and provisioned resources.

    ``ref`` and ``get_att`` answer for resources; they are called only for resources that are
    already provisioned (the provisioning order follows :func:`dependencies`).
    """

    def __init__(
        self,
        template: dict[str, Any],
        *,
        parameters: dict[str, Any],
        pseudo: dict[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
        import_value: Callable[[str], Any] | None = None,
    ) -> None:
        self.template = template
        self.parameters = parameters
        self.pseudo = pseudo
        self._ref = ref
        self._get_att = get_att
        self._import_value = import_value
        self._conditions: dict[str, bool] = {}

    # ------------------------------------------------------------------------------------ conditions

    def condition(self, name: str, where: str = "Conditions") -> bool:
        if name not in self._conditions:
            definitions = self.template.get("Conditions", {})
            if name not in definitions:
                raise TemplateError(f"{where}: condition {name!r} is not defined")
            self._conditions[name] = bool(self.resolve(definitions[name], f"Conditions.{name}"))
        return self._conditions[name]

    # ------------------------------------------------------------------------------------ values

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with every intrinsic replaced; ``where`` names the place for error messages."""
        try:
            resolved = self._resolve(value, where)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
            # A malformed intrinsic (CloudFormation's template validation refuses these): name it.
            shown = repr(value) if len(repr(value)) <= 200 else repr(value)[:200] + "..."
            raise TemplateError(
                f"{where}: cannot resolve {shown}: {type(error).__name__}: {error}"
            ) from error
        return None if resolved is NO_VALUE else resolved

    def _resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = (self._resolve(v, where) for v in value)
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref_value(argument, where)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument, where)
            if key.startswith("Fn::"):
                handler = self._FUNCTIONS.get(key)
                if handler is None:
                    raise UnsupportedIntrinsic(key, where)
                return handler(self, argument, where)
        resolved = {k: self._resolve(v, where) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _ref_value(self, name: str, where: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name.startswith("AWS::"):
            raise UnsupportedIntrinsic(f"Ref {name}", where)
        if name in self.template.get("Parameters", {}):
            if name not in self.parameters:
                raise TemplateError(f"{where}: parameter {name} has no value and no default")
            return self.parameters[name]
        if name in self.template.get("Resources", {}):
            return self._ref(name)
        raise TemplateError(f"{where}: Ref to {name!r}, which is no parameter or resource")

    def _fn_get_att(self, argument: Any, where: str) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        else:
            logical_id, attribute = argument[0], self._resolve(argument[1], where)
        if logical_id not in self.template.get("Resources", {}):
            raise TemplateError(f"{where}: Fn::GetAtt of {logical_id!r}, which is no resource")
        return self._get_att(logical_id, attribute)

    def _fn_join(self, argument: Any, where: str) -> str:
        delimiter, values = argument
        return self._resolve(delimiter, where).join(_text(v, where) for v in self._resolve(values, where))

    def _fn_sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, variables = argument[0], {k: self._resolve(v, where) for k, v in argument[1].items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return _text(variables[name], where)
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return _text(self._fn_get_att([logical_id, attribute], where), where)
            return _text(self._ref_value(name, where), where)

        return _SUB_VARIABLE.sub(substitute, text).replace("${!", "${")

    def _fn_select(self, argument: Any, where: str) -> Any:
        index, values = self._resolve(argument[0], where), self._resolve(argument[1], where)
        try:
            return values[int(index)]
        except (IndexError, ValueError, TypeError):
            raise TemplateError(f"{where}: Fn::Select index {index!r} is outside {values!r}") from None

    def _fn_split(self, argument: Any, where: str) -> list[str]:
        delimiter, text = argument
        return _text(self._resolve(text, where), where).split(delimiter)

    def _fn_if(self, argument: Any, where: str) -> Any:
        name, if_true, if_false = argument
        return self._resolve(if_true if self.condition(name, where) else if_false, where)

    def _fn_equals(self, argument: Any, where: str) -> bool:
        left, right = (self._resolve(v, where) for v in argument)
        return left == right

    def _fn_and(self, argument: Any, where: str) -> bool:
        return all(self._boolean(v, where) for v in argument)

    def _fn_or(self, argument: Any, where: str) -> bool:
        return any(self._boolean(v, where) for v in argument)

    def _fn_not(self, argument: Any, where: str) -> bool:
        return not self._boolean(argument[0], where)

    def _fn_contains(self, argument: Any, where: str) -> bool:
        values, value = self._resolve(argument[0], where), self._resolve(argument[1], where)
        return value in values

    def _fn_get_azs(self, argument: Any, where: str) -> list[str]:
        region = self._resolve(argument, where) or self.pseudo["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def _fn_base64(self, argument: Any, where: str) -> str:
        return base64.b64encode(_text(self._resolve(argument, where), where).encode()).decode()

    def _fn_find_in_map(self, argument: Any, where: str) -> Any:
        name, top, second = (self._resolve(v, where) for v in argument)
        try:
            return self.template["Mappings"][name][top][second]
        except KeyError:
            raise TemplateError(f"{where}: Fn::FindInMap {name}.{top}.{second} is not in Mappings") from None

    def _fn_import_value(self, argument: Any, where: str) -> Any:
        name = self._resolve(argument, where)
        if self._import_value is None:
            raise TemplateError(f"{where}: Fn::ImportValue {name!r}, but no other stack is loaded")
        return self._import_value(name)

    def _boolean(self, value: Any, where: str) -> bool:
        if isinstance(value, dict) and set(value) == {"Condition"}:
            return self.condition(value["Condition"], where)
        return bool(self._resolve(value, where))

    _FUNCTIONS: ClassVar[dict[str, Callable[[Resolver, Any, str], Any]]] = {
        "Fn::GetAtt": _fn_get_att,
        "Fn::Join": _fn_join,
        "Fn::Sub": _fn_sub,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Fn::Not": _fn_not,
        "Fn::Contains": _fn_contains,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::Base64": _fn_base64,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::ImportValue": _fn_import_value,
    }


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise TemplateError(f"{where}: expected a string, got {value!r}")


def references(value: Any) -> Iterator[str]:
    """Every resource or parameter name that ``value`` refers to (Ref, GetAtt, Sub variables)."""
    if isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                yield argument
                return
            if key == "Fn::GetAtt":
                yield argument.split(".", 1)[0] if isinstance(argument, str) else argument[0]
                return
            if key == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                for name in _SUB_VARIABLE.findall(text):
                    yield name.split(".", 1)[0]
                if not isinstance(argument, str):
                    yield from references(argument[1])
                return
        for item in value.values():
            yield from references(item)


def dependencies(template: dict[str, Any]) -> dict[str, set[str]]:
    """For each resource, the resources it needs first: references and ``DependsOn``."""
    resources = template.get("Resources", {})
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        needed = set([depends_on] if isinstance(depends_on, str) else depends_on)
        needed |= {name for name in references(resource.get("Properties", {})) if name in resources}
        graph[logical_id] = needed - {logical_id}
    return graph


def creation_order(template: dict[str, Any]) -> list[str]:
    """Resources in an order where each comes after everything it references."""
    graph = dependencies(template)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise TemplateError(f"circular dependency: {' -> '.join((*path, node))}")
        state[node] = 1
        for needed in sorted(graph[node]):
            visit(needed, (*path, node))
        state[node] = 2
        order.append(node)

    for logical_id in graph:
        visit(logical_id, ())
    return order
