"""The docs are generated from, or checked against, the registry: they cannot drift from the code."""

from __future__ import annotations

import re

import pytest

from patterns.registry import PATTERNS, README, ROOT, SOURCES, readme_with_current_table

pytestmark = pytest.mark.docs

#: What every pattern page must teach.
REQUIRED_SECTIONS = ("When to use", "When not to use", "Deploy", "Try", "Clean up", "Trade-offs", "Sources")


def test_readme_pattern_table_is_current():
    text = README.read_text()
    assert text == readme_with_current_table(text), "stale table: run `.venv/bin/python -m patterns.registry`"


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.id)
def test_pattern_page_teaches_the_pattern(pattern):
    page = ROOT / pattern.docs_page
    assert page.is_file(), f"{pattern.docs_page} is missing"
    text = page.read_text()
    assert "```mermaid" in text, "the page needs its Mermaid diagram"
    headings = re.findall(r"^#+\s+(.*)$", text, flags=re.MULTILINE)
    for section in REQUIRED_SECTIONS:
        assert any(h.startswith(section) for h in headings), f"{pattern.docs_page}: no '{section}' section"
    assert f"cdk deploy {pattern.stack_name}" in text and f"cdk destroy {pattern.stack_name}" in text
    assert f"python -m scenarios {pattern.id}" in text, "the page says how to play its scenario offline"
    assert re.search(r"^\s*- \[t=[\d.]+s", text, flags=re.MULTILINE), "the page shows its scenario's trace"


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.id)
def test_registry_entry_is_consistent(pattern):
    assert set(pattern.sources) <= set(SOURCES)
    for folder in pattern.functions:
        assert (ROOT / "functions" / folder).is_dir()
    assert pattern.construct.startswith(f"patterns.{pattern.id}:")
