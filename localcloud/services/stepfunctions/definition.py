"""What the local cloud can run of an Amazon States Language definition, checked before it runs.

A definition moto cannot parse, or a state the local cloud cannot run (an activity, a service
integration it does not offer, a ``.sync`` job other than a nested execution), is refused when the
state machine is created, with an error naming the state machine and the state, rather than when
an execution reaches it.

Supported Task resources: Lambda function ARNs; ``arn:aws:states:::lambda:invoke``; the optimized
integrations in :data:`OPTIMIZED` with the patterns listed there; and ``aws-sdk:<service>:<action>``
for any service moto emulates (with ``.waitForTaskToken``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from localcloud.errors import StateMachineDefinitionError, aws_error
from localcloud.services.stepfunctions import distributed_map

#: Optimized integrations, ``service: (actions, integration patterns beyond request-response)``.
OPTIMIZED: dict[str, tuple[set[str], set[str]]] = {
    "lambda": ({"invoke"}, {"waitForTaskToken"}),
    "dynamodb": ({"getItem", "putItem", "updateItem", "deleteItem"}, set()),
    "sqs": ({"sendMessage"}, {"waitForTaskToken"}),
    "sns": ({"publish"}, {"waitForTaskToken"}),
    "events": ({"putEvents"}, {"waitForTaskToken"}),
    "states": ({"startExecution"}, {"sync", "sync:2", "waitForTaskToken"}),
}
_SERVICE = re.compile(r"^arn:aws[\w-]*:states:::(?P<service>[\w-]+):(?P<rest>.+)$")
_LAMBDA = re.compile(r"^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+(:[\w$-]+)?$")
_ACTIVITY = re.compile(r"^arn:aws[\w-]*:states:[\w-]+:\d{12}:activity:")


def check(machine: str, definition: str) -> None:
    """Raise :class:`StateMachineDefinitionError` if the local cloud cannot run ``definition``."""
    try:
        document = json.loads(definition)
    except ValueError as error:
        raise StateMachineDefinitionError(machine, None, f"the definition is not JSON: {error}") from None
    problem = schema_problem(document)
    if problem is not None:
        raise StateMachineDefinitionError(machine, None, f"InvalidDefinition: {invalid_definition(problem)}")
    for name, state in _states(document):
        reason = _unsupported(state)
        if reason:
            raise StateMachineDefinitionError(machine, name, reason)
    _parse(machine, document)


def invalid_definition(problem: str) -> str:
    """Step Functions' message for a definition its schema refuses, as localstack's snapshots record
    AWS's answers ("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are
    required: [States] at /'")."""
    return f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {problem}'"


def schema_problem(document: Any, path: str = "") -> str | None:
    """Where ``document`` (a definition, or a Parallel branch or Map iteration in it, at ``path``)
    is not the shape the States Language requires: an object with an object of ``States``, each
    state an object. None if it is; the rest (a missing ``StartAt`` too) is left to moto's parser."""
    where = path or "/"
    if not isinstance(document, dict):
        return f"Value must be an object at {where}"
    if "States" not in document:
        return f"These fields are required: [States] at {where}"
    if not isinstance(document["States"], dict):
        return f"Value must be an object at {path}/States"
    for name, state in document["States"].items():
        at = f"{path}/States/{name}"
        if not isinstance(state, dict):
            return f"Value must be an object at {at}"
        branches = state.get("Branches", [])
        inner = (
            [(f"{at}/Branches/{i}", b) for i, b in enumerate(branches)] if isinstance(branches, list) else []
        )
        inner += [(f"{at}/{key}", state[key]) for key in ("ItemProcessor", "Iterator") if key in state]
        for inner_path, inner_document in inner:
            problem = schema_problem(inner_document, inner_path)
            if problem is not None:
                return problem
    return None


def check_request(operation: str, params: dict[str, Any]) -> None:
    """Refuse a CreateStateMachine or UpdateStateMachine whose definition is not the shape the
    States Language requires with Step Functions' ``InvalidDefinition`` (moto's parser answers it
    with an error without a code)."""
    try:
        document = json.loads(params["definition"])
    except (KeyError, TypeError, ValueError):
        return  # no definition, or not JSON: left to moto
    problem = schema_problem(document)
    if problem is not None:
        raise aws_error("InvalidDefinition", invalid_definition(problem), operation)


def _states(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of the definition, those of Parallel branches and Map iterations included."""
    for name, state in document.get("States", {}).items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _states(state[key])


def _unsupported(state: dict[str, Any]) -> str | None:
    if "Credentials" in state:
        return "Task Credentials (a role per task) are not supported offline"
    if state.get("Type") == "Map" and (reason := distributed_map.unsupported(state)):
        return reason
    if state.get("Type") == "Map" and "ItemReader" in state:
        resource = state["ItemReader"].get("Resource", "")
        if not resource.split(":::", 1)[-1].startswith("s3:"):
            return f"Map ItemReader resource {resource} is not supported offline"
    if state.get("Type") != "Task":
        return None
    resource = state.get("Resource", "")
    if _LAMBDA.match(resource):
        return None
    if _ACTIVITY.match(resource):
        return f"activity task {resource}: activities are not supported offline"
    match = _SERVICE.match(resource)
    if match is None:
        return f"Task resource {resource!r} is not a Lambda function or a service integration"
    service, rest = match["service"], match["rest"]
    action, _, pattern = rest.partition(".")
    if service == "aws-sdk":
        return (
            None
            if pattern in ("", "waitForTaskToken")
            else f"{resource}: aws-sdk supports .waitForTaskToken only"
        )
    if service not in OPTIMIZED:
        supported = ", ".join(sorted(OPTIMIZED))
        return f"{resource}: the {service} integration is not supported offline (supported: {supported}, aws-sdk)"
    actions, patterns = OPTIMIZED[service]
    if action not in actions:
        return f"{resource}: {service}:{action} is not supported offline (supported: {', '.join(sorted(actions))})"
    if pattern and pattern not in patterns:
        return f"{resource}: .{pattern} is not supported for {service}:{action}"
    return None


#: Definitions moto's parser took, as the exact text parsed. A parse costs a tenth of a second or
#: more and gives the same answer every time, and each cloud that starts deploys its state
#: machines again (twice over: this check, then moto's own on ``CreateStateMachine``).
_PARSED: set[str] = set()
_MOTO_PARSED: set[str] = set()


def _parse(machine: str, document: dict[str, Any]) -> None:
    """Parse with moto's parser; if it refuses, find the state it refuses by parsing each alone (its
    ``Next``, a Choice's rules' and its ``Default`` are left as they are: moto's parser does not
    look them up)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    _remember_motos_parses()
    _own_query_language_scopes()
    distributed_map.install_parser()
    text = json.dumps(document)
    if text in _PARSED:
        return
    try:
        AmazonStateLanguageParser.parse(text)
        _PARSED.add(text)
        return
    except Exception as error:
        whole = error
    for name, state in document.get("States", {}).items():
        alone = {key: value for key, value in state.items() if key not in ("Next", "End")}
        if state.get("Type") not in ("Choice", "Succeed", "Fail"):
            alone["End"] = True
        single = {key: value for key, value in document.items() if key not in ("StartAt", "States")}
        try:
            AmazonStateLanguageParser.parse(json.dumps({**single, "StartAt": name, "States": {name: alone}}))
        except Exception as error:
            raise StateMachineDefinitionError(machine, name, _reason(error)) from None
    raise StateMachineDefinitionError(machine, None, _reason(whole)) from None


def _reason(error: Exception) -> str:
    return f"moto's interpreter cannot parse it: {error}"


def _own_query_language_scopes() -> None:
    """Give each of moto's parses its own query-language scopes (idempotent). moto (5.2) keeps them
    in a list on the ``Preprocessor`` class: a parse that fails inside a JSONata scope leaves it
    open, and every JSONPath definition parsed after it in the process is refused."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    init = Preprocessor.__init__
    if getattr(init, "own_scopes", False):
        return

    def owning(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._query_language_per_scope = []

    owning.own_scopes = True  # type: ignore[attr-defined]
    Preprocessor.__init__ = owning  # type: ignore[method-assign]


def _remember_motos_parses() -> None:
    """Make moto's ``CreateStateMachine`` validation parse each distinct definition once per process;
    one it refused is parsed (and refused) again."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    validate = StepFunctionsParserBackend.__dict__["_validate_definition"].__func__
    if getattr(validate, "remembers", False):
        return

    def remembering(definition: str) -> None:
        if definition not in _MOTO_PARSED:
            validate(definition)
            _MOTO_PARSED.add(definition)

    remembering.remembers = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend._validate_definition = staticmethod(remembering)
