"""Grant mutation check: every IAM action a pattern grants is needed by its scenario, or is not granted.

For each registered pattern, every action of every Allow statement in the IAM policies its template
defines is removed alone (a statement with several actions loses one at a time); the local cloud
starts on the mutated template and plays the pattern's scenario (``scenarios/<id>.py``). The mutant
is *caught* when the stack does not start or the scenario does not hold. A surviving action is one
no scenario needs: remove the grant, or extend the scenario to show the behaviour that needs it.

Run from the repository root (``make grants``)::

    python -m benchmarks.grant_mutation [pattern ...] [--assembly cdk.out] [--workers 2] [--verbose]

A Lambda function's logs and X-Ray grants (``logs:CreateLogStream``, ``logs:PutLogEvents``,
``xray:PutTraceSegments``, ``xray:PutTelemetryRecords``) and a traced state machine's X-Ray grants
are played like any other: the local cloud drops what a role may not send, and every scenario
checks that nothing was dropped. What it does not
enforce is listed apart and not played (``--all`` plays it): :data:`UNENFORCED_ACTIONS`, X-Ray's
sampling calls. A state machine's log-delivery grants are played too: a machine that logs is refused
at deployment while its role lacks one. The exit status is 1 when any other
action survives, the check breaks, or a scenario does not hold unmutated.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import multiprocessing
import os
import sys
import tempfile
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python benchmarks/grant_mutation.py``
    sys.path.insert(0, str(ROOT))

from localcloud.core.assembly import StackArtifact, load_stack  # noqa: E402

#: Credentials and region that cannot reach a real account, set before boto3 loads in a worker.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "grants",
    "AWS_SECRET_ACCESS_KEY": "grants",
    "AWS_SESSION_TOKEN": "grants",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}

#: Actions the local cloud does not enforce; their survival is reported apart, not as a finding.
#: X-Ray's sampling calls: without them the tracer samples by the default rule, and the segments
#: still reach X-Ray. (Step Functions' vended log delivery is enforced, by
#: :data:`localcloud.services.stepfunctions.provision.LOG_DELIVERY_ACTIONS`:
#: a state machine that logs is refused at deployment while its role lacks one of them.)
XRAY_SAMPLING_ACTIONS = frozenset({"xray:GetSamplingRules", "xray:GetSamplingTargets"})
UNENFORCED_ACTIONS = XRAY_SAMPLING_ACTIONS
#: What a state machine's own role needs only for what Step Functions does on its behalf and the
#: local cloud does not run: a Distributed Map's Map Run describing its child executions (AWS's
#: documented policy for the Distributed Map lists it; offline the children are not executions).
STATE_MACHINE_UNENFORCED_ACTIONS = frozenset({"states:DescribeExecution"})

POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def is_unenforced(action: str, assumed_by: frozenset[str] = frozenset()) -> bool:
    """Whether ``action`` is one the local cloud does not enforce, for a role ``assumed_by`` these services."""
    if action in UNENFORCED_ACTIONS:
        return True
    return action in STATE_MACHINE_UNENFORCED_ACTIONS and "states.amazonaws.com" in assumed_by


def _assumed_by(template: dict[str, Any], logical_id: str) -> frozenset[str]:
    """The services that may assume the role ``logical_id`` is (a role) or is attached to (a policy)."""
    resources = template.get("Resources", {})
    resource = resources.get(logical_id, {})
    if resource.get("Type") == "AWS::IAM::Role":
        roles = [logical_id]
    else:
        refs = resource.get("Properties", {}).get("Roles", [])
        roles = [r["Ref"] for r in refs if isinstance(r, dict) and "Ref" in r]
    services: set[str] = set()
    for role in roles:
        trust = resources.get(role, {}).get("Properties", {}).get("AssumeRolePolicyDocument", {})
        for statement in _statements(trust):
            principal = statement.get("Principal", {})
            if isinstance(principal, dict):
                services.update(s for s in _list(principal.get("Service", [])) if isinstance(s, str))
    return frozenset(services)


@dataclass(frozen=True)
class Grant:
    """One action of one Allow statement of one policy the template defines."""

    policy: str
    """Logical id of the ``AWS::IAM::Policy``, ``AWS::IAM::ManagedPolicy`` or ``AWS::IAM::Role``."""
    document: tuple[str | int, ...]
    """Keys from the resource to its policy document."""
    statement: int
    action: str
    label: str
    """Who holds it and on what, for people: ``Worker/Role: sqs:SendMessage on Queue``."""
    unenforced: bool = False
    """An action the local cloud does not enforce (:func:`is_unenforced`): listed, not played."""


def grants(template: dict[str, Any]) -> list[Grant]:
    """Every action of every Allow statement in the identity policies ``template`` defines, in order."""
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") in POLICY_TYPES:
            documents: list[tuple[str | int, ...]] = [("Properties", "PolicyDocument")]
        elif resource.get("Type") == "AWS::IAM::Role":
            documents = [
                ("Properties", "Policies", i, "PolicyDocument") for i in range(len(props.get("Policies", [])))
            ]
        else:
            continue
        holder = _holder(template, logical_id)
        assumed_by = _assumed_by(template, logical_id)
        for keys in documents:
            statements = _statements(_at(resource, keys))
            for index, statement in enumerate(statements):
                if statement.get("Effect") != "Allow":
                    continue
                on = ", ".join(_describe(r) for r in _list(statement.get("Resource", "*")))
                for action in _list(statement.get("Action", [])):
                    label = f"{holder}: {action} on {on}"
                    found.append(
                        Grant(logical_id, keys, index, action, label, is_unenforced(action, assumed_by))
                    )
    return found


def without(template: dict[str, Any], grant: Grant) -> dict[str, Any]:
    """A copy of ``template`` in which ``grant`` alone is not granted; ``template`` is left as it was.

    A statement left with no action goes, and a policy left with no statement goes with every
    ``DependsOn`` naming it: IAM refuses an empty policy document.
    """
    mutated = copy.deepcopy(template)
    resource = mutated["Resources"][grant.policy]
    document = _at(resource, grant.document)
    statements = _statements(document)
    statement = statements[grant.statement]
    actions = _list(statement["Action"])
    if grant.action not in actions:
        raise ValueError(f"{grant.label}: not in statement {grant.statement} of {grant.policy}")
    actions.remove(grant.action)
    if actions:
        statement["Action"] = actions if len(actions) > 1 else actions[0]
        return mutated
    del statements[grant.statement]
    document["Statement"] = statements
    if statements:
        return mutated
    if grant.document[:2] == ("Properties", "Policies"):
        del resource["Properties"]["Policies"][grant.document[2]]
        return mutated
    del mutated["Resources"][grant.policy]
    for other in mutated["Resources"].values():
        depends = other.get("DependsOn")
        if depends == grant.policy:
            del other["DependsOn"]
        elif isinstance(depends, list) and grant.policy in depends:
            depends.remove(grant.policy)
    return mutated


def _at(resource: dict[str, Any], keys: Sequence[str | int]) -> Any:
    node: Any = resource
    for key in keys:
        node = node[key]
    return node


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    raw = document.get("Statement", [])
    return list(raw) if isinstance(raw, list) else [raw]


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _holder(template: dict[str, Any], logical_id: str) -> str:
    """The construct path of a policy, without its stack and CDK's ``/Resource`` and default policy."""
    path = template["Resources"][logical_id].get("Metadata", {}).get("aws:cdk:path", logical_id)
    parts = [p for p in path.split("/")[1:] if p not in ("Resource", "DefaultPolicy")]
    return "/".join(parts) or logical_id


def _describe(value: Any) -> str:
    """A resource of a statement as people read it: the logical ids it names, the rest as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((name, arg),) = value.items()
        if name == "Ref":
            return arg
        if name == "Fn::GetAtt":
            return arg[0] if isinstance(arg, list) else arg.split(".")[0]
        if name == "Fn::Join":
            return arg[0].join(_describe(part) for part in arg[1])
    return json.dumps(value)


# --------------------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Result:
    pattern_id: str
    grant: Grant | None
    """None for the unmutated stack, which must hold for the check to mean anything."""
    caught_by: str
    """Why the scenario did not hold ('' if it held)."""
    played: bool = True
    """False for an action not played (:attr:`Grant.unenforced`: it cannot be caught offline)."""


def play_mutant(pattern_id: str, stack: StackArtifact, grant: Grant | None) -> Result:
    """Start ``stack`` without ``grant`` and play the pattern's scenario; say what failed, if anything.

    ``pattern_id`` is ``<pattern>:<variant>`` for a variant's stack, which plays ``run_<variant>``.
    """
    from localcloud import LocalCloud
    from scenarios import play, stack_parameters

    pattern, _, variant = pattern_id.partition(":")

    template = stack.template if grant is None else without(stack.template, grant)
    artifact = StackArtifact(stack.name, template, stack.directory)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with (
                stack_parameters(pattern) as parameters,
                LocalCloud(artifact, parameters=parameters) as cloud,
            ):
                outcome = play(cloud, pattern, variant or None)
        except Exception as error:
            return Result(pattern_id, grant, f"the stack did not start: {_first_line(error)}")
    if outcome.error:
        return Result(pattern_id, grant, f"the scenario raised: {outcome.error.strip().splitlines()[-1]}")
    failed = [check.what for check in outcome.checks if not check.held]
    return Result(pattern_id, grant, f"check failed: {failed[0]}" if failed else "")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return f"{type(error).__name__}: {text.splitlines()[0]}"


Task = tuple[str, StackArtifact, Grant | None]


def _play(task: Task) -> Result:
    try:
        return play_mutant(*task)
    except Exception:  # the check itself broke: report it, do not count the mutant as caught
        return Result(task[0], task[2], f"ERROR in the check: {traceback.format_exc()}")


def _worker_setup() -> None:
    os.environ.update(FAKE_AWS)
    import localcloud  # noqa: F401  (loaded once per worker, not once per mutant)
    import scenarios  # noqa: F401


def run(
    stacks: Mapping[str, StackArtifact], *, workers: int = 1, play_unenforced: bool = False
) -> list[Result]:
    """Each pattern's stack (by pattern id) unmutated, then each of its mutants, in ``workers``
    processes (1: in this one).

    Mutants of actions the local cloud does not enforce are listed, not played, unless
    ``play_unenforced``.
    """
    tasks: list[Task] = []
    skipped: list[Result] = []
    for pattern_id, stack in stacks.items():
        tasks.append((pattern_id, stack, None))
        for grant in grants(stack.template):
            if grant.unenforced and not play_unenforced:
                skipped.append(Result(pattern_id, grant, "", played=False))
            else:
                tasks.append((pattern_id, stack, grant))
    if workers <= 1:
        return [*map(_play, tasks), *skipped]
    # Spawned, not forked: the parent may hold the CDK's node process and the local cloud's threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_setup) as pool:
        return [*pool.map(_play, tasks, chunksize=1), *skipped]


# --------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class PatternReport:
    pattern_id: str
    held_unmutated: str
    """'' when the scenario holds on the stack as synthesized; else why not."""
    caught: list[Result]
    survivors: list[Result]
    """Enforced actions the scenario held without: findings."""
    not_enforced: list[Result]
    """Unenforced actions (:attr:`Grant.unenforced`) the scenario held without."""
    errors: list[Result]

    @property
    def total(self) -> int:
        return len(self.caught) + len(self.survivors) + len(self.not_enforced) + len(self.errors)

    @property
    def ok(self) -> bool:
        return not self.held_unmutated and not self.survivors and not self.errors


def report(results: Sequence[Result]) -> list[PatternReport]:
    by_pattern: dict[str, list[Result]] = {}
    for result in results:
        by_pattern.setdefault(result.pattern_id, []).append(result)
    reports = []
    for pattern_id, found in by_pattern.items():
        baseline = next(r for r in found if r.grant is None)
        mutants = [r for r in found if r.grant is not None]
        errors = [r for r in mutants if r.caught_by.startswith("ERROR in the check")]
        live = [r for r in mutants if not r.caught_by]
        reports.append(
            PatternReport(
                pattern_id,
                baseline.caught_by,
                caught=[r for r in mutants if r.caught_by and r not in errors],
                survivors=[r for r in live if not r.grant.unenforced],  # type: ignore[union-attr]
                not_enforced=[r for r in live if r.grant.unenforced],  # type: ignore[union-attr]
                errors=errors,
            )
        )
    return reports


def render(reports: Sequence[PatternReport], *, verbose: bool = False) -> str:
    lines = [
        "| Pattern | Caught | Survivors | Not enforced offline (X-Ray sampling, a Map Run describing its children) |",
        "|---|---|---|---|",
    ]
    for r in reports:
        lines.append(
            f"| {r.pattern_id} | {len(r.caught)}/{r.total} | {len(r.survivors)} | {len(r.not_enforced)} |"
        )
    for r in reports:
        if r.held_unmutated:
            lines.append(
                f"\n{r.pattern_id}: the scenario does not hold on the unmutated stack: {r.held_unmutated}"
            )
        if r.survivors:
            lines.append(f"\n{r.pattern_id}: survivors (the scenario held without them):")
            lines.extend(f"  {s.grant.label}" for s in r.survivors)  # type: ignore[union-attr]
        if r.errors:
            lines.append(f"\n{r.pattern_id}: the check broke on:")
            lines.extend(f"  {e.grant.label}\n{e.caught_by}" for e in r.errors)  # type: ignore[union-attr]
        if r.not_enforced:
            counts = Counter(s.grant.action for s in r.not_enforced)  # type: ignore[union-attr]
            listed = ", ".join(f"{action} x{n}" for action, n in sorted(counts.items()))
            played = "" if all(s.played for s in r.not_enforced) else " (not played; --all plays them)"
            lines.append(f"\n{r.pattern_id}: not enforced offline{played}: {listed}")
            if verbose:
                lines.extend(f"  {s.grant.label}" for s in r.not_enforced)  # type: ignore[union-attr]
        if verbose and r.caught:
            lines.append(f"\n{r.pattern_id}: caught:")
            lines.extend(f"  {c.grant.label}\n      {c.caught_by}" for c in r.caught)  # type: ignore[union-attr]
    return "\n".join(lines)


@contextlib.contextmanager
def _assembly(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    from patterns.stack import UNSTAGED, build_app

    with tempfile.TemporaryDirectory(prefix="cdk.out.") as scratch:
        yield build_app(builtin_validation=False, outdir=scratch, context=UNSTAGED).synth().directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.grant_mutation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("patterns", nargs="*", help="pattern ids (default: every registered pattern)")
    parser.add_argument("--assembly", help="a synthesized cloud assembly (cdk.out); default: synthesize now")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one a core)"
    )
    parser.add_argument("--verbose", action="store_true", help="also list what caught each mutant")
    parser.add_argument(
        "--all", action="store_true", help="also play the mutants of actions not enforced offline"
    )
    args = parser.parse_args(argv)
    os.environ.update(FAKE_AWS)
    from patterns.registry import PATTERNS, get

    chosen = [get(p).id for p in args.patterns] or [p.id for p in PATTERNS]
    started = os.times().elapsed  # the local cloud freezes time.time while a scenario plays
    with _assembly(args.assembly) as assembly:
        stacks = {
            pattern_id if variant is None else f"{pattern_id}:{variant}": load_stack(assembly, name)
            for pattern_id in chosen
            for variant, name in get(pattern_id).stacks()
        }
        reports = report(run(stacks, workers=args.workers, play_unenforced=args.all))
    elapsed = os.times().elapsed - started
    print(render(reports, verbose=args.verbose))
    mutants = sum(r.total for r in reports)
    played = sum(r.total - sum(not s.played for s in r.not_enforced) for r in reports)
    print(
        f"\n{mutants} mutants of {len(reports)} pattern(s), {played} played, in {elapsed:.0f} s "
        f"on {args.workers} worker(s)"
    )
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
