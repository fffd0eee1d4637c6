"""Mutation testing: small AST mutants of the project's semantic modules, each against the tests that reach it.

A mutant is one small change to one module: a comparison flipped (``<`` to ``<=``, ``==`` to ``!=``,
``in`` to ``not in``), an integer constant moved by one, ``True`` and ``False`` swapped, ``and`` and
``or`` swapped, ``+`` and ``-`` swapped, a condition negated, a statement deleted (a call, a raise,
an assignment into an object, an augmented assignment, a break or continue), or a returned value
replaced by ``None``. It is *killed* when one of the tests that reach its line fails on it (or
hangs past the time limit); it *survives* when they all pass: a behaviour no test pins.

How it fits a small shared machine:

- Which tests reach which line is measured once per change of the code or tests, with one
  coverage run of the configured test folders (a coverage context per test), and cached.
- Mutants never touch the working tree: a forked child of one warm process (third-party libraries
  already imported) installs an import hook that compiles the mutated tree in place of the module's
  file, and runs only the tests that reach the mutated line, fastest first, stopping at the first
  failure. Children run in parallel (``--workers``) and under ``nice`` when ``make mutate`` runs them.
- Each result is cached under ``.mutate-cache/``, keyed by the module's content hash, the mutant and
  the hashes of the test files (and their conftests) that ran: a run stopped by ``--budget`` resumes
  where it stopped, and an edit re-runs only what it can change.

Mutants judged equivalent (no test can tell them apart from the original) are listed, each with
its reason, in :data:`EQUIVALENT` (``path:line | mutation | reason``) and left out of the score.

Run from the repository root (``make mutate``)::

    python -m benchmarks.mutate [glob ...] [--budget SECONDS] [--workers N] [--markdown docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.markdown import write_between

ROOT = Path(__file__).resolve().parent.parent

#: What is mutated, as path globs from the repository root (the one place to change when modules
#: move), each with the test folders whose tests may kill its mutants (those reaching the line).
LOCALCLOUD_TESTS = ("tests/localcloud",)
MODULES: dict[str, tuple[str, ...]] = {
    "functions/*/*.py": ("tests/unit",),
    "shared/*.py": ("tests/unit",),
    "localcloud/services/lambda_/event_sources/*.py": LOCALCLOUD_TESTS,
    "localcloud/core/iam.py": LOCALCLOUD_TESTS,
    "localcloud/services/apigateway/{routing,authorizers,integrations}.py": LOCALCLOUD_TESTS,
    "localcloud/services/stepfunctions/*.py": LOCALCLOUD_TESTS,
    "localcloud/core/delivery.py": LOCALCLOUD_TESTS,
    "localcloud/core/clock.py": LOCALCLOUD_TESTS,
    "localcloud/lib/event_patterns.py": LOCALCLOUD_TESTS,
}
#: Mutants judged equivalent, each with its reason: ``path:line | mutation | reason``.
EQUIVALENT = ROOT / "benchmarks" / "mutate_equivalent.txt"
CACHE = ROOT / ".mutate-cache"
#: A mutant whose tests run this many times longer than unmutated (plus a margin) counts as killed.
TIMEOUT_FACTOR, TIMEOUT_MARGIN = 3.0, 60.0
MARKDOWN_BEGIN = "<!-- mutate:begin (written by benchmarks/mutate.py --markdown) -->"
MARKDOWN_END = "<!-- mutate:end -->"
#: Credentials and region that cannot reach a real account, set before boto3 loads in the warm process.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}
#: Libraries every test imports: loaded once in the warm process, so a mutant's child starts fast.
PRELOAD = (
    "pytest",
    "_pytest.python",
    "hypothesis",
    "boto3",
    "botocore.session",
    "moto",
    "moto.core.models",
    "aws_lambda_powertools",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.typing",
    "jsonschema",
    "freezegun",
    "moto.dynamodb.models",
    "moto.sqs.models",
    "moto.sns.models",
    "moto.events.models",
    "moto.stepfunctions.models",
    "moto.awslambda.models",
    "moto.secretsmanager.models",
    "moto.s3.models",
)
#: Services whose models botocore loads once in the warm process (the children share its session).
WARM_SERVICES = ("dynamodb", "sqs", "sns", "events", "stepfunctions", "lambda", "secretsmanager", "s3", "sts")


def expand(pattern: str) -> list[str]:
    """A glob with ``{a,b}`` alternatives, as sorted repository-relative paths."""
    if "{" in pattern:
        head, rest = pattern.split("{", 1)
        choices, tail = rest.split("}", 1)
        return sorted({p for choice in choices.split(",") for p in expand(head + choice + tail)})
    return sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern) if p.is_file())


def modules(only: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """The configured modules (``__init__.py`` left out), narrowed to those matching one of ``only``,
    and the test folders configured for them."""
    found: dict[str, tuple[str, ...]] = {}
    for pattern, tests in MODULES.items():
        for path in expand(pattern):
            if not path.endswith("__init__.py") and (not only or any(fnmatch.fnmatch(path, o) for o in only)):
                found[path] = tests
    return sorted(found), sorted({t for tests in found.values() for t in tests})


# --------------------------------------------------------------------------------------------- mutants


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    col: int
    node: int
    """Index of the mutated node in ``ast.walk`` order of the module's tree."""
    kind: str
    description: str
    """What changes, as people read it: ``< -> <=``, ``delete: logger.info(...)``."""
    at_import: bool = False
    """Outside any function: it runs when the module is imported, once per process, so coverage
    credits only the test that imported it first; every test that reaches the module may kill it."""
    last_line: int = 0
    """The last line of what is mutated (a condition over several lines): coverage may credit any of
    them rather than the first, so a test reaching one of ``line``..``last_line`` reaches the mutant."""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def key(self) -> str:
        return f"{self.line}:{self.col}:{self.node}:{self.kind}:{self.description}"


COMPARE_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
ARITHMETIC_FLIPS: dict[type[ast.operator], type[ast.operator]] = {ast.Add: ast.Sub, ast.Sub: ast.Add}
SYMBOLS = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Add: "+",
    ast.Sub: "-",
    ast.And: "and",
    ast.Or: "or",
}
STATEMENT_BODIES = ("body", "orelse", "finalbody")


def _skipped_nodes(tree: ast.Module) -> set[int]:
    """Ids of nodes never mutated: docstrings, annotations, ``__all__`` and ``TYPE_CHECKING`` blocks."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and (
            node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
            and isinstance(node.body[0].value.value, str)
        ):
            skip(node.body[0])
        if isinstance(node, ast.arg | ast.AnnAssign):
            skip(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            skip(node.returns)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip(node)
        if _is_logging(node):
            skip(node)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            skip(node)
    return skipped


LOG_LEVELS = frozenset({"debug", "info", "warning", "error", "exception", "critical"})


def _is_logging(node: ast.AST) -> bool:
    """``logger.info(...)`` and the like: what a log line says is no pattern's behaviour (no metric or
    subscription filter reads one), so, as PIT does, logging calls are not mutated."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in LOG_LEVELS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("logger", "log", "logging", "LOGGER")
    )


def _deletable(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Expr):
        return not _is_logging(statement.value) and isinstance(
            statement.value, ast.Call | ast.Await | ast.Yield | ast.YieldFrom
        )
    if isinstance(statement, ast.Assign):
        return all(isinstance(t, ast.Attribute | ast.Subscript) for t in statement.targets)
    return isinstance(statement, ast.Raise | ast.AugAssign | ast.Delete | ast.Break | ast.Continue)


def _returns_none(node: ast.Return) -> bool:
    return node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None)


def _short(node: ast.AST, limit: int = 60) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _points(tree: ast.Module) -> Iterator[tuple[int, ast.AST, str, str]]:
    """(node index, node, kind, description) of each mutation of ``tree``, in a stable order."""
    skipped = _skipped_nodes(tree)
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in COMPARE_FLIPS:
                    flipped = COMPARE_FLIPS[type(op)]
                    yield index, node, f"compare{i}", f"{SYMBOLS[type(op)]} -> {SYMBOLS[flipped]}"
        elif isinstance(node, ast.BoolOp):
            other = "or" if isinstance(node.op, ast.And) else "and"
            yield index, node, "boolop", f"{SYMBOLS[type(node.op)]} -> {other}"
        elif isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC_FLIPS:
            flipped = ARITHMETIC_FLIPS[type(node.op)]
            yield index, node, "arith", f"{SYMBOLS[type(node.op)]} -> {SYMBOLS[flipped]}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield index, node, "bool", f"{node.value} -> {not node.value}"
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield index, node, "int+1", f"{node.value} -> {node.value + 1}"
            yield index, node, "int-1", f"{node.value} -> {node.value - 1}"
        elif isinstance(node, ast.If | ast.While | ast.IfExp):
            yield index, node, "negate", f"if {_short(node.test)} -> if not (...)"
        elif isinstance(node, ast.Return) and not _returns_none(node):
            yield index, node, "return-none", f"return {_short(node.value)} -> return None"
        if isinstance(node, ast.stmt | ast.ExceptHandler | ast.match_case | ast.Module):
            for name in STATEMENT_BODIES:
                for position, statement in enumerate(getattr(node, name, None) or ()):
                    if id(statement) not in skipped and _deletable(statement):
                        yield index, node, f"delete:{name}:{position}", f"delete: {_short(statement)}"


def mutants(path: str, source: str) -> list[Mutant]:
    tree = ast.parse(source)
    in_functions = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for part in ([node.body] if isinstance(node, ast.Lambda) else node.body)
        for inner in ast.walk(part)
    }
    found = []
    for index, node, kind, description in _points(tree):
        target = node
        if kind.startswith("delete:"):
            _, name, position = kind.split(":")
            target = getattr(node, name)[int(position)]
        line, col = target.lineno, target.col_offset  # type: ignore[attr-defined]
        spanned = node.test if kind == "negate" else target  # type: ignore[attr-defined]
        last = max(line, spanned.end_lineno or line)
        found.append(Mutant(path, line, col, index, kind, description, id(target) not in in_functions, last))
    return found


def mutate(source: str, mutant: Mutant) -> ast.Module:
    """The tree of ``source`` with ``mutant`` applied; ``source`` itself is not changed."""
    tree = ast.parse(source)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == mutant.node)
    kind = mutant.kind
    if kind.startswith("compare"):
        i = int(kind.removeprefix("compare"))
        node.ops[i] = COMPARE_FLIPS[type(node.ops[i])]()  # type: ignore[attr-defined]
    elif kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()  # type: ignore[attr-defined]
    elif kind == "arith":
        node.op = ARITHMETIC_FLIPS[type(node.op)]()  # type: ignore[attr-defined]
    elif kind == "bool":
        node.value = not node.value  # type: ignore[attr-defined]
    elif kind in ("int+1", "int-1"):
        node.value += 1 if kind == "int+1" else -1  # type: ignore[attr-defined]
    elif kind == "negate":
        test = node.test  # type: ignore[attr-defined]
        node.test = ast.copy_location(ast.UnaryOp(ast.Not(), test), test)  # type: ignore[attr-defined]
    elif kind == "return-none":
        value = node.value  # type: ignore[attr-defined]
        node.value = ast.copy_location(ast.Constant(None), value)  # type: ignore[attr-defined]
    elif kind.startswith("delete:"):
        _, name, position = kind.split(":")
        body = getattr(node, name)
        body[int(position)] = ast.copy_location(ast.Pass(), body[int(position)])
    else:
        raise ValueError(f"unknown mutation {kind}")
    return ast.fix_missing_locations(tree)


class MutantFinder(importlib.abc.MetaPathFinder):
    """Serves the mutated tree for one file, whichever name imports it; every other import is as usual."""

    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = str(path.resolve())
        self.code = compile(tree, self.path, "exec")
        self.import_error = ""
        """What the mutated module raised when imported, if it did (see :func:`verdict`)."""

    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or os.path.realpath(spec.origin) != self.path:
            return None
        spec.loader = _MutantLoader(self)
        spec.cached = None
        return spec


class _MutantLoader(importlib.abc.Loader):
    def __init__(self, finder: MutantFinder) -> None:
        self.finder = finder

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        return None

    def exec_module(self, module) -> None:  # type: ignore[no-untyped-def]
        try:
            exec(self.finder.code, module.__dict__)  # noqa: S102  (the module's own code, one node changed)
        except BaseException as error:
            self.finder.import_error = f"{type(error).__name__}: {error}"
            raise


# --------------------------------------------------------------------------------------------- coverage


@dataclass
class Reach:
    """Which tests reach which line of each module, and how long each test took unmutated."""

    lines: dict[str, dict[int, list[str]]]
    """Module path -> line -> test node ids."""
    durations: dict[str, float]
    imported: dict[str, list[str]] = field(default_factory=dict)
    """Module path -> tests that ran while it was reached at import only (module-level lines)."""


def _digest(paths: Iterable[Path]) -> str:
    hasher = hashlib.sha256()
    for path in sorted(paths):
        hasher.update(str(path.relative_to(ROOT)).encode())
        hasher.update(path.read_bytes())
    return hasher.hexdigest()


def _test_files(folders: Sequence[str]) -> tuple[list[Path], list[Path]]:
    """The test modules of ``folders``, and the helpers they share (conftests and other modules)."""
    found = sorted(
        {p for f in folders for p in ([ROOT / f] if f.endswith(".py") else (ROOT / f).rglob("*.py"))}
    )
    helpers = [p for p in (ROOT / "tests").glob("*.py") if not p.name.startswith("test_")]
    helpers += [p for p in found if not p.name.startswith("test_")]
    return [p for p in found if p.name.startswith("test_")], sorted(set(helpers))


def measure_reach(targets: Sequence[str], tests: Sequence[str]) -> Reach:
    """Which tests reach which line: one coverage run (in a fresh process) of the test modules whose
    measure is not cached, each cached by its own hash, the helpers' and the targets'."""
    modules, helpers = _test_files(tests)
    shared = _digest([*(ROOT / t for t in targets), *helpers])
    keyed = {m: CACHE / f"reach-{_digest([m])[:16]}-{shared[:16]}.json" for m in modules}
    missing = [m for m, cached in keyed.items() if not cached.exists()]
    if missing:
        CACHE.mkdir(exist_ok=True)
        progress(f"measuring which tests reach which line: {len(missing)} test module(s) changed")
        out = CACHE / f"reach-run-{os.getpid()}.json"
        names = [str(m.relative_to(ROOT)) for m in missing]
        command = [sys.executable, "-m", "benchmarks.mutate", "--_reach", str(out), *names, "--", *targets]
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        blob = json.loads(out.read_text())
        for module, name in zip(missing, names, strict=True):
            mine = lambda tests, name=name: sorted(t for t in tests if t.split("::", 1)[0] == name)  # noqa: E731
            keyed[module].write_text(
                json.dumps(
                    {
                        "lines": {
                            path: {line: mine(found) for line, found in by_line.items()}
                            for path, by_line in blob["lines"].items()
                        },
                        "durations": {t: d for t, d in blob["durations"].items() if mine([t])},
                        "imported": {path: mine(found) for path, found in blob["imported"].items()},
                    }
                )
            )
        out.unlink()
    reach = Reach({}, {}, {})
    for cached in keyed.values():
        blob = json.loads(cached.read_text())
        reach.durations.update(blob["durations"])
        for path, by_line in blob["lines"].items():
            merged = reach.lines.setdefault(path, {})
            for line, found in by_line.items():
                merged[line] = sorted({*merged.get(line, []), *found})
        for path, found in blob["imported"].items():
            reach.imported[path] = sorted({*reach.imported.get(path, []), *found})
    return reach


def _reach_run(out: Path, tests: Sequence[str], targets: Sequence[str]) -> None:
    """In a fresh process: run ``tests`` under coverage with one context per test, save what reached what."""
    import coverage
    import pytest

    paths = {str((ROOT / t).resolve()): t for t in targets}
    cov = coverage.Coverage(data_file=None, include=list(paths), config_file=False)
    durations: dict[str, float] = {}

    class PerTest:
        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_protocol(self, item, nextitem):  # type: ignore[no-untyped-def]
            cov.switch_context(item.nodeid)
            started = time.perf_counter()
            try:
                return (yield)
            finally:
                durations[item.nodeid] = time.perf_counter() - started
                cov.switch_context("")

    cov.start()
    try:
        status = pytest.main(["-q", *tests], plugins=[PerTest()])
    finally:
        cov.stop()
    if status not in (0, 5):
        raise SystemExit(f"the tests do not pass unmutated (pytest exit {status}): fix them first")
    data = cov.get_data()
    lines: dict[str, dict[int, list[str]]] = {}
    imported: dict[str, list[str]] = {}
    for measured in data.measured_files():
        target = paths.get(str(Path(measured).resolve()))
        if target is None:
            continue
        by_line = data.contexts_by_lineno(measured)
        lines[target] = {line: sorted(c for c in ctx if c) for line, ctx in by_line.items()}
        imported[target] = sorted({c for ctx in by_line.values() for c in ctx if c})
    out.write_text(json.dumps({"lines": lines, "durations": durations, "imported": imported}))


def tests_for(reach: Reach, mutant: Mutant) -> list[str]:
    """The tests that reach the mutant's lines, fastest first; a mutant outside any function
    (:attr:`Mutant.at_import`) is reached by every test that reaches its module."""
    by_line = reach.lines.get(mutant.path, {})
    lines = range(mutant.line, max(mutant.line, mutant.last_line) + 1)
    found = {test for line in lines for test in by_line.get(str(line)) or ()}
    if mutant.at_import:
        found |= set(reach.imported.get(mutant.path, ()))
    return sorted(found, key=lambda t: (reach.durations.get(t, 0.0), t))


# --------------------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: str
    """``killed``, ``timeout`` (counted as killed), ``survived``, ``no tests`` (none reaches the line),
    ``equivalent`` (listed in :data:`EQUIVALENT`), ``error`` (the check broke) or ``not run`` (budget)."""
    detail: str = ""
    """The first test that failed, or what broke."""


def _cache_key(mutant: Mutant, source_hash: str, tests: Sequence[str]) -> str:
    files = {(ROOT / t.split("::", 1)[0]) for t in tests}
    for f in list(files):
        for parent in f.parents:
            if parent == ROOT.parent:
                break
            if (parent / "conftest.py").exists():
                files.add(parent / "conftest.py")
    hasher = hashlib.sha256(f"{mutant.path}|{source_hash}|{mutant.key}|".encode())
    hasher.update("\n".join(sorted(tests)).encode())  # the set, not its order: durations vary by run
    hasher.update(_digest(files).encode())
    return hasher.hexdigest()


def verdict(
    status: int, failed: Sequence[str], import_error: str = "", mutant_erred: bool = False
) -> tuple[str, str]:
    """What a mutant's test run (pytest's exit ``status``) says of it. A test that fails kills it. A run
    that errors outside any test (a collection error (2), pytest's own error (3), a usage error (4))
    kills it only when the mutant is in the error: the mutated module would not import
    (``import_error``), or the error's traceback runs through the mutated file (``mutant_erred``, a
    test module's top-level code calling it). Any other such error (a broken test file, a test id
    pytest cannot find) is the check's fault, not the mutant's: reported, never counted."""
    if status == 0:
        return "survived", ""
    if status == 1:
        return "killed", failed[0] if failed else ""
    if status in (2, 3, 4) and (import_error or mutant_erred):
        cause = f"the mutant does not import ({import_error})" if import_error else "the mutated file raised"
        return "killed", f"pytest exit {status}: {cause}"
    return "error", f"pytest exit {status}" + (
        ": an error the mutated file has no part in" if status in (2, 3) else ""
    )


def _raised_in(error: BaseException | None, path: str) -> bool:
    """Whether ``error`` (or an exception it was raised from or during) ran through the file ``path``."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        trace = error.__traceback__
        while trace is not None:
            if os.path.realpath(trace.tb_frame.f_code.co_filename) == path:
                return True
            trace = trace.tb_next
        error = error.__cause__ or error.__context__
    return False


class _Watch:
    """pytest plugin of a mutant's child: the first test that failed, and whether an error outside any
    test (collecting a module, a hook of pytest's) ran through the mutated file ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.failed: list[str] = []
        self.mutant_erred = False

    def pytest_runtest_logreport(self, report):  # type: ignore[no-untyped-def]
        if report.failed and not self.failed:
            self.failed.append(report.nodeid)

    def pytest_exception_interact(self, node, call, report):  # type: ignore[no-untyped-def]
        if report.when == "collect":  # a failing test is pytest exit 1 already
            self.mutant_erred |= _raised_in(call.excinfo.value if call.excinfo else None, self.path)

    def pytest_internalerror(self, excrepr, excinfo):  # type: ignore[no-untyped-def]
        self.mutant_erred |= _raised_in(excinfo.value, self.path)


def _child(mutant: Mutant, source: str, tests: Sequence[str], write: int) -> None:
    """In a forked child: import hook for the mutated module, run its tests, report, exit."""
    import pytest

    try:
        finder = MutantFinder(ROOT / mutant.path, mutate(source, mutant))
        sys.meta_path.insert(0, finder)
        watch = _Watch(finder.path)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        status = pytest.main(["-q", "-x", *tests], plugins=[watch])
        result = verdict(int(status), watch.failed, finder.import_error, watch.mutant_erred)
    except BaseException as error:  # a mutant that cannot even compile is reported, not counted
        result = ("error", f"{type(error).__name__}: {error}")
    os.write(write, json.dumps(result).encode())
    os._exit(0)


@dataclass
class _Running:
    mutant: Mutant
    pid: int
    read: int
    deadline: float
    key: str
    output: bytes = b""


def run(
    targets: Sequence[str],
    reach: Reach,
    *,
    workers: int,
    budget: float,
    equivalent: dict[tuple[str, int, str], str],
    cache: dict[str, list[str]],
    save: Callable[[], None],
) -> list[Outcome]:
    """Every mutant of ``targets``: from the cache, judged equivalent, or played in a forked child."""
    started = time.monotonic()
    outcomes: list[Outcome] = []
    queue: list[tuple[Mutant, str, list[str], str]] = []
    for path in targets:
        source = (ROOT / path).read_text()
        source_hash = hashlib.sha256(source.encode()).hexdigest()
        for mutant in mutants(path, source):
            reason = equivalent.get((mutant.path, mutant.line, mutant.description))
            if reason is not None:
                outcomes.append(Outcome(mutant, "equivalent", reason))
                continue
            tests = tests_for(reach, mutant)
            if not tests:
                outcomes.append(Outcome(mutant, "no tests"))
                continue
            key = _cache_key(mutant, source_hash, tests)
            if key in cache:
                outcomes.append(Outcome(mutant, *cache[key]))
                continue
            queue.append((mutant, source, tests, key))
    progress(f"{len(queue)} mutants to play, {len(outcomes)} from the cache or judged without tests")
    running: dict[int, _Running] = {}
    played = 0
    try:
        while queue or running:
            while queue and len(running) < workers and time.monotonic() - started < budget:
                mutant, source, tests, key = queue.pop(0)
                read, write = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(read)
                    _child(mutant, source, tests, write)
                os.close(write)
                limit = TIMEOUT_MARGIN + TIMEOUT_FACTOR * sum(reach.durations.get(t, 1.0) for t in tests)
                running[read] = _Running(mutant, pid, read, time.monotonic() + limit, key)
            if not running:
                break
            ready, _, _ = select.select(list(running), [], [], 1.0)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if chunk:
                    running[fd].output += chunk
                    continue
                job = running.pop(fd)
                os.close(fd)
                os.waitpid(job.pid, 0)
                try:
                    status, detail = json.loads(job.output or b'["error", "the child died"]')
                except ValueError:
                    status, detail = "error", "unreadable result"
                if status != "error":
                    cache[job.key] = [status, detail]
                outcomes.append(Outcome(job.mutant, status, detail))
                played += 1
                if played % 20 == 0:
                    save()
                    progress(f"  {played} played, {len(queue)} queued, {time.monotonic() - started:.0f} s")
            for fd, job in list(running.items()):
                if time.monotonic() > job.deadline:
                    os.kill(job.pid, signal.SIGKILL)
                    os.waitpid(job.pid, 0)
                    os.close(fd)
                    del running[fd]
                    cache[job.key] = ["timeout", ""]
                    outcomes.append(Outcome(job.mutant, "timeout"))
    finally:  # stopped (Ctrl-C, kill): no child outlives the run, and what was played is kept
        for job in running.values():
            os.kill(job.pid, signal.SIGKILL)
            os.waitpid(job.pid, 0)
        save()
    outcomes.extend(Outcome(m, "not run") for m, *_ in queue)
    return outcomes


# --------------------------------------------------------------------------------------------- report


#: The detail of a kill judged before an errored run needed the mutant in its error (:func:`verdict`).
STALE_KILL = ": the run errored"


def load_results(path: Path) -> dict[str, list[str]]:
    """The cached results saved at ``path``, less kills judged under the old errored-run rule, which
    are played again."""
    if not path.exists():
        return {}
    return {k: v for k, v in json.loads(path.read_text()).items() if not v[1].endswith(STALE_KILL)}


def load_equivalent(path: Path) -> dict[tuple[str, int, str], str]:
    """``path:line | mutation | reason`` lines; ``#`` starts a comment line."""
    found: dict[tuple[str, int, str], str] = {}
    if not path.exists():
        return found
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ", 2)]
        if len(parts) != 3 or not parts[2]:
            raise SystemExit(f"{path.name}:{number}: expected 'path:line | mutation | reason'")
        where, description, reason = parts
        file, _, at = where.rpartition(":")
        found[(file, int(at), description)] = reason
    return found


@dataclass
class ModuleScore:
    path: str
    outcomes: list[Outcome]

    def count(self, *statuses: str) -> int:
        return sum(o.status in statuses for o in self.outcomes)

    @property
    def killed(self) -> int:
        return self.count("killed", "timeout")

    @property
    def scored(self) -> int:
        """Mutants that count: all but the equivalent ones and those the budget left unplayed."""
        return self.count("killed", "timeout", "survived", "no tests")


def score(outcomes: Sequence[Outcome]) -> list[ModuleScore]:
    by_path: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_path.setdefault(outcome.mutant.path, []).append(outcome)
    return [
        ModuleScore(path, sorted(found, key=lambda o: o.mutant.line))
        for path, found in sorted(by_path.items())
    ]


def _percent(killed: int, total: int) -> str:
    return f"{100 * killed / total:.0f}%" if total else "-"


def render(scores: Sequence[ModuleScore], *, survivors: bool = True) -> str:
    lines = [
        "| Module | Killed / scored | % | Survived | No test reaches | Equivalent | Not run (budget) |",
        "|---|---|---|---|---|---|---|",
    ]
    groups: dict[str, list[ModuleScore]] = {}
    for s in scores:
        groups.setdefault(s.path.split("/", 1)[0], []).append(s)
        lines.append(
            f"| {s.path} | {s.killed}/{s.scored} | {_percent(s.killed, s.scored)} | {s.count('survived')} | "
            f"{s.count('no tests')} | {s.count('equivalent')} | {s.count('not run')} |"
        )
    for group, members in groups.items():
        killed, scored = sum(m.killed for m in members), sum(m.scored for m in members)
        lines.append(
            f"| **{group}/ (all)** | **{killed}/{scored}** | **{_percent(killed, scored)}** | | | | |"
        )
    if survivors:
        listed = [o for s in scores for o in s.outcomes if o.status in ("survived", "no tests", "error")]
        if listed:
            lines += ["", "Survivors (no test failed on them):", ""]
            lines += [f"- `{o.mutant.where}` {o.mutant.description}" + _suffix(o) for o in listed]
    return "\n".join(lines)


def _suffix(outcome: Outcome) -> str:
    if outcome.status == "no tests":
        return " (no test reaches the line)"
    if outcome.status == "error":
        return f" (the check broke: {outcome.detail})"
    return ""


def write_markdown(path: Path, section: str) -> None:
    write_between(path, section, MARKDOWN_BEGIN, MARKDOWN_END)


def warm_up() -> None:
    """Import what every test imports and load the AWS service models once, before any child forks."""
    os.environ.update(FAKE_AWS)
    for name in PRELOAD:
        __import__(name)
    # The pattern modules, for the names unit tests import from them (a route table, an index name):
    # importing aws_cdk costs about 2 s. Children never synthesize, so never talk to its jsii process.
    for module in sorted((ROOT / "patterns").glob("*.py")):
        importlib.import_module(f"patterns.{module.stem}")
    import boto3

    for service in WARM_SERVICES:
        boto3.client(service)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--_reach"]:
        split = argv.index("--")
        _reach_run(Path(argv[1]), argv[2:split], argv[split + 1 :])
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mutate", description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="path globs narrowing the configured modules (default: all)")
    parser.add_argument(
        "--budget", type=float, default=3600, help="seconds of mutants to start (default 3600)"
    )
    parser.add_argument("--workers", type=int, default=1, help="mutants at once (default 1)")
    parser.add_argument("--equivalent", type=Path, default=EQUIVALENT, help="the equivalent-mutant list")
    parser.add_argument("--markdown", type=Path, help="also write the figures between markers in this page")
    parser.add_argument(
        "--tests", nargs="+", help="test folders or files (default: those configured for the modules)"
    )
    args = parser.parse_args(argv)
    targets, tests = modules(args.only)
    if not targets:
        parser.error("no configured module matches")
    started = time.monotonic()
    os.chdir(ROOT)
    reach = measure_reach(targets, args.tests or tests)
    warm_up()
    CACHE.mkdir(exist_ok=True)
    cache_file = CACHE / "results.json"
    cache = load_results(cache_file)

    def save() -> None:
        """Merge into what other runs saved meanwhile, and replace the file whole: runs may overlap."""
        if cache_file.exists():
            cache.update({k: v for k, v in load_results(cache_file).items() if k not in cache})
        scratch = cache_file.with_name(f"results-{os.getpid()}.json")
        scratch.write_text(json.dumps(cache, sort_keys=True))
        scratch.replace(cache_file)

    equivalent = load_equivalent(args.equivalent)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill stops the children and saves
    outcomes = run(
        targets,
        reach,
        workers=args.workers,
        budget=args.budget,
        equivalent=equivalent,
        cache=cache,
        save=save,
    )
    judged = {(o.mutant.path, o.mutant.line, o.mutant.description) for o in outcomes}
    for path, line, description in sorted(set(equivalent) - judged):
        if path in targets:
            progress(
                f"{args.equivalent.name}: {path}:{line} | {description} matches no mutant now: update it"
            )
    scores = score(outcomes)
    print(render(scores))
    total = len(outcomes)
    print(f"\n{total} mutants of {len(scores)} module(s) in {time.monotonic() - started:.0f} s")
    if args.markdown:
        write_markdown(args.markdown, "## Mutation score\n\n" + render(scores, survivors=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
