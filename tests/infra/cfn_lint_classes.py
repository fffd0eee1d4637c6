"""cfn-lint's validator classes made once per set of checks, not once per rule and schema node.

cfn-lint 1.58 makes a new dataclass (``cfnlint.jsonschema.validators.create``) each time a rule
extends a validator: about 130 a template, over a quarter of linting the registered stacks (4 of
15 s of CPU on a clean checkout). A class depends only on the validator functions, the function
filter's settings and the function resolvers it is made with, so the first class made for them
does the same checks as every later one, and finds the same. Another cfn-lint than this was
measured with is left as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

CFN_LINT_VERSION = "1.58.0"


def register() -> None:
    """Make ``create`` answer from what it made before for the same functions and settings."""
    from cfnlint.jsonschema import validators
    from cfnlint.version import __version__

    if __version__ != CFN_LINT_VERSION or getattr(validators.create, "made", None) is not None:
        return
    create, made = validators.create, {}

    def create_once(validators=None, function_filter=None, fn_resolvers=None):
        key = (_functions(validators), _settings(function_filter), _functions(fn_resolvers))
        if key not in made:
            made[key] = create(
                validators=validators, function_filter=function_filter, fn_resolvers=fn_resolvers
            )
        return made[key]

    create_once.made = made
    validators.create = create_once


def _functions(functions: Mapping[str, Any] | None) -> tuple:
    """The functions by keyword: a rule's bound method by its rule (kept alive by the class made)."""
    return tuple(
        (name, id(getattr(function, "__self__", None)), getattr(function, "__func__", function))
        for name, function in sorted((functions or {}).items())
    )


def _settings(function_filter: Any) -> tuple | None:
    if function_filter is None:
        return None
    return (
        type(function_filter),
        *(
            (field.name, _frozen(getattr(function_filter, field.name)))
            for field in dataclasses.fields(function_filter)
        ),
    )


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
