"""The mutation tool's mutants, the import hook that plays them, and its equivalent-mutant list."""

from __future__ import annotations

import importlib
import json
import re
import sys

import pytest

from benchmarks.mutate import (
    ROOT,
    Mutant,
    MutantFinder,
    Outcome,
    Reach,
    load_equivalent,
    modules,
    mutants,
    mutate,
    render,
    score,
    verdict,
)
from benchmarks.mutate import tests_for as reaching

pytestmark = pytest.mark.infra

SOURCE = '''"""Docstring: never mutated."""
import logging

logger = logging.getLogger()
LIMIT: int = 10


def check(value, items):
    """Docstring."""
    logger.info("checking")
    if value < LIMIT and value in items:
        items.append(value)
        return value + 1
    items[0] = None
    raise ValueError("no")
'''


def descriptions(source: str = SOURCE) -> list[tuple[int, str]]:
    return sorted((m.line, m.description) for m in mutants("m.py", source))


def test_each_kind_of_mutant_is_found_once_and_docstrings_annotations_and_logs_are_left_alone():
    assert descriptions() == [
        (5, "10 -> 11"),
        (5, "10 -> 9"),
        (11, "< -> <="),
        (11, "and -> or"),
        (11, "if value < LIMIT and value in items -> if not (...)"),
        (11, "in -> not in"),
        (12, "delete: items.append(value)"),
        (13, "+ -> -"),
        (13, "1 -> 0"),
        (13, "1 -> 2"),
        (13, "return value + 1 -> return None"),
        (14, "0 -> -1"),
        (14, "0 -> 1"),
        (14, "delete: items[0] = None"),
        (15, "delete: raise ValueError('no')"),
    ]


@pytest.mark.parametrize(
    ("description", "value", "expected"),
    [
        ("< -> <=", 10, ([10, 10], 11)),  # unmutated, 10 fails the guard and raises
        ("in -> not in", 3, ValueError),
        ("and -> or", 20, ([20, 20], 21)),
        ("return value + 1 -> return None", 3, ([3, 3], None)),
        ("+ -> -", 3, ([3, 3], 2)),
        ("delete: raise ValueError('no')", 20, ([None], None)),
        ("delete: items.append(value)", 3, ([3], 4)),
    ],
)
def test_a_mutant_changes_that_one_node(description, value, expected):
    [mutant] = [m for m in mutants("m.py", SOURCE) if m.description == description]
    namespace: dict = {}
    exec(compile(mutate(SOURCE, mutant), "m.py", "exec"), namespace)  # noqa: S102  (the test's own source)
    items = [value]
    try:
        outcome = namespace["check"](value, items)
        outcome = (items, outcome)
    except ValueError:
        outcome = ValueError
    assert outcome == expected


def test_the_import_hook_serves_the_mutant_for_its_file_only(tmp_path, monkeypatch):
    (tmp_path / "target_mod.py").write_text("def answer():\n    return 1 + 1\n")
    (tmp_path / "other_mod.py").write_text("def answer():\n    return 1 + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    source = (tmp_path / "target_mod.py").read_text()
    [mutant] = [m for m in mutants("target_mod.py", source) if m.description == "+ -> -"]
    finder = MutantFinder(tmp_path / "target_mod.py", mutate(source, mutant))
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    for name in ("target_mod", "other_mod"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert importlib.import_module("target_mod").answer() == 0
    assert importlib.import_module("other_mod").answer() == 2
    assert (tmp_path / "target_mod.py").read_text() == source, "the file is never edited"


def test_the_import_hook_keeps_what_a_mutant_that_breaks_import_raised(tmp_path, monkeypatch):
    (tmp_path / "dated_mod.py").write_text("import datetime\n\nSTART = datetime.date(2026, 1, 1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    source = (tmp_path / "dated_mod.py").read_text()
    [month] = [m for m in mutants("dated_mod.py", source) if m.description == "1 -> 0"][:1]
    finder = MutantFinder(tmp_path / "dated_mod.py", mutate(source, month))
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    monkeypatch.delitem(sys.modules, "dated_mod", raising=False)
    with pytest.raises(ValueError, match="month"):
        importlib.import_module("dated_mod")
    assert finder.import_error.startswith("ValueError: month must be in 1..12")


@pytest.mark.parametrize(
    ("status", "import_error", "mutant_erred", "expected"),
    [
        (0, "", False, "survived"),
        (1, "", False, "killed"),
        (2, "", True, "killed"),  # a test module whose top-level code calls the mutant, which raises
        (2, "ValueError: month must be in 1..12", False, "killed"),  # collecting imports the mutant
        (2, "", False, "error"),  # a test file broken for its own reasons: nothing said of the mutant
        (3, "", True, "killed"),  # the mutant crashed pytest itself (a hook of a conftest calls it)
        (3, "", False, "error"),
        (4, "ValueError: month must be in 1..12", False, "killed"),  # a conftest importing it failed
        (4, "", False, "error"),  # a test id pytest cannot find: the tool's fault, not the mutant's
        (5, "", False, "error"),
    ],
)
def test_a_run_that_errors_kills_the_mutant_only_when_the_mutant_is_in_the_error(
    status, import_error, mutant_erred, expected
):
    found, detail = verdict(status, ["t.py::a"] if status == 1 else [], import_error, mutant_erred)
    assert found == expected
    assert f"exit {status}" in detail or status < 2
    assert import_error in detail


def test_a_mutant_outside_any_function_is_reached_by_every_test_of_its_module():
    reach = Reach(
        lines={"m.py": {"5": ["t::c"], "11": ["t::b"]}},
        durations={"t::a": 2.0, "t::b": 1.0, "t::c": 3.0},
        imported={"m.py": ["t::a", "t::b", "t::c"]},
    )
    at = {m.line: m for m in mutants("m.py", SOURCE)}
    assert reaching(reach, at[11]) == ["t::b"]
    assert at[5].at_import and not at[11].at_import
    assert reaching(reach, at[5]) == ["t::b", "t::a", "t::c"], "only t::c imported it first; fastest first"
    assert reaching(reach, at[12]) == [], "a line no test runs"


def test_a_condition_over_several_lines_is_reached_by_the_tests_of_any_of_them():
    """Coverage credits a multi-line ``if`` to the line of its first operand, not the ``if`` itself."""
    source = "def f(a, b):\n    if (\n        a\n        or b\n    ):\n        return 1\n    return 2\n"
    reach = Reach(lines={"m.py": {"3": ["t::a"], "4": ["t::b"], "6": ["t::c"]}}, durations={})
    found = {m.description: m for m in mutants("m.py", source)}
    assert reaching(reach, found["if a or b -> if not (...)"]) == ["t::a", "t::b"], "not the body's t::c"
    assert reaching(reach, found["or -> and"]) == ["t::a", "t::b"]
    assert reaching(reach, found["return 1 -> return None"]) == ["t::c"]


def test_equivalent_mutants_are_read_with_their_reason_and_left_out_of_the_score(tmp_path):
    listed = tmp_path / "equivalent.txt"
    listed.write_text("# comment\n\nm.py:5 | 10 -> 11 | the limit is only a default\n")
    assert load_equivalent(listed) == {("m.py", 5, "10 -> 11"): "the limit is only a default"}
    listed.write_text("m.py:5 | 10 -> 11\n")
    with pytest.raises(SystemExit, match=re.escape("expected 'path:line | mutation | reason'")):
        load_equivalent(listed)
    mutant = Mutant("m.py", 5, 0, 1, "int+1", "10 -> 11")
    outcomes = [
        Outcome(mutant, "killed"),
        Outcome(mutant, "timeout"),
        Outcome(mutant, "survived"),
        Outcome(mutant, "equivalent", "why"),
        Outcome(mutant, "not run"),
    ]
    [module] = score(outcomes)
    assert (module.killed, module.scored) == (2, 3)
    assert "| m.py | 2/3 | 67% | 1 | 0 | 1 | 1 |" in render([module])
    assert "- `m.py:5` 10 -> 11" in render([module])


def test_the_configured_modules_exist_and_every_handler_is_mutated():
    targets, tests = modules()
    handlers = {str(p.relative_to(ROOT)) for p in ROOT.glob("functions/*/*.py")}
    assert handlers <= set(targets)
    assert all((ROOT / t).is_file() for t in targets) and tests == ["tests/localcloud", "tests/unit"]
    assert modules(["functions/router/*"])[1] == ["tests/unit"]


#: What ``played`` runs in a fresh interpreter: each mutant forked and played as ``run`` plays it.
PLAYER = """
import json, os, sys
from benchmarks.mutate import _child, mutants
results = []
for target, description, test in json.loads(sys.argv[1]):
    source = open(target).read()
    [mutant] = [m for m in mutants(target, source) if m.description == description]
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        _child(mutant, source, [test, "-p", "no:cacheprovider"], write)
    os.close(write)
    output = b""
    while chunk := os.read(read, 65536):
        output += chunk
    os.close(read)
    os.wait()
    results.append(json.loads(output))
print(json.dumps(results))
"""
#: A module and a test file of it that cannot be collected for its own reasons (an import that
#: does not exist), and a module that a test file's top-level code calls.
PLAYED = {
    "counted_mod.py": "def double(n):\n    return n + n\n",
    "test_counted_mod.py": "import counted_mod\nimport no_such_module_anywhere\n\n\ndef test_double():\n    pass\n",
    "checked_mod.py": "def checked(n):\n    if n < 0:\n        raise ValueError(n)\n    return n\n",
    "test_checked_mod.py": "from checked_mod import checked\n\nVALUE = checked(1)\n\n\ndef test_value():\n    assert VALUE == 1\n",
}
CASES = [
    ("counted_mod.py", "+ -> -", "test_counted_mod.py"),
    ("checked_mod.py", "< -> <=", "test_checked_mod.py"),
    ("checked_mod.py", "if n < 0 -> if not (...)", "test_checked_mod.py"),
]


@pytest.fixture(scope="module")
def played(tmp_path_factory) -> list[tuple[str, str]]:
    """The outcome of each of :data:`CASES`, played as ``make mutate`` plays a mutant (a forked child
    running its tests). The forks happen in a fresh interpreter, single-threaded as the tool's warm
    process is: forking a test worker other tests left threads in could deadlock."""
    import os
    import subprocess

    folder = tmp_path_factory.mktemp("played")
    for name, text in PLAYED.items():
        (folder / name).write_text(text)
    cases = [[str(folder / module), description, str(folder / test)] for module, description, test in CASES]
    done = subprocess.run(  # noqa: S603  (this interpreter, the test's own script)
        [sys.executable, "-c", PLAYER, json.dumps(cases)],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # the verdict needs no third-party plugin
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return [tuple(result) for result in json.loads(done.stdout.strip().splitlines()[-1])]


def test_a_test_file_that_cannot_be_collected_for_its_own_reasons_does_not_kill_a_mutant(played):
    """A collection error the mutated file has no part in says nothing of the mutant: it is the
    check that broke, reported as an error, never a kill."""
    status, detail = played[0]
    assert (status, detail.split(":")[0]) == ("error", "pytest exit 2")


def test_a_collection_error_raised_from_the_mutated_file_kills_the_mutant(played):
    """A test module whose top-level code calls the mutated function: a mutant that makes it raise
    is killed; one the module still imports past is played as usual."""
    assert played[1] == ("survived", "")
    status, detail = played[2]
    assert status == "killed" and detail == "pytest exit 2: the mutated file raised", detail


def test_a_kill_cached_under_the_rule_that_counted_any_errored_run_is_played_again(tmp_path):
    """Results saved before an errored run needed the mutant in its error say "the run errored":
    they are dropped when the cache is read, so the mutant is judged again under today's rule."""
    from benchmarks.mutate import load_results

    saved = tmp_path / "results.json"
    assert load_results(saved) == {}
    saved.write_text(
        '{"a": ["killed", "pytest exit 2: the run errored"], "b": ["killed", "t.py::x"],'
        ' "c": ["killed", "pytest exit 2: the mutated file raised"], "d": ["survived", ""]}'
    )
    assert load_results(saved) == {
        "b": ["killed", "t.py::x"],
        "c": ["killed", "pytest exit 2: the mutated file raised"],
        "d": ["survived", ""],
    }
