"""shared/observability.py: what ``instrument`` gives every handler (a ColdStart metric on the first
invocation only, the handler's metrics flushed as EMF, log keys that do not outlive their
invocation) and the switch for SDK tracing. The traced path itself needs the X-Ray SDK, which
only the deployed function has (the construct adds it with PATTERN_SDK_TRACING=true)."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider import cold_start

from shared import observability
from shared.observability import instrument, logger, metrics

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, False), ("false", False), ("true", True), ("TRUE", True), ("yes", False), ("", False)],
)
def test_sdk_tracing_is_on_only_when_the_construct_says_true(monkeypatch, value, enabled):
    if value is None:
        monkeypatch.delenv("PATTERN_SDK_TRACING", raising=False)
    else:
        monkeypatch.setenv("PATTERN_SDK_TRACING", value)
    assert observability.sdk_tracing_enabled() is enabled


def emitted(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_the_first_invocation_counts_a_cold_start_and_each_flushes_its_metrics(
    monkeypatch, capsys, lambda_context
):
    monkeypatch.delenv("PATTERN_SDK_TRACING", raising=False)
    monkeypatch.setattr(cold_start, "is_cold_start", True)

    @instrument
    def handler(event, context):
        metrics.add_metric(name="Things", unit=MetricUnit.Count, value=event["n"])
        return {"done": event["n"]}

    capsys.readouterr()
    assert handler({"n": 2}, lambda_context) == {"done": 2}
    assert handler({"n": 3}, lambda_context) == {"done": 3}
    blobs = emitted(capsys.readouterr().out)
    names = [[m["Name"] for d in b["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]] for b in blobs]
    assert names.count(["ColdStart"]) == 1, names
    assert [b["Things"] for b in blobs if "Things" in b] == [[2.0], [3.0]], "each invocation flushes its own"
    cold = next(b for b in blobs if "ColdStart" in b)
    assert cold["function_name"] == lambda_context.function_name


def test_log_keys_added_in_one_invocation_are_gone_in_the_next(monkeypatch, lambda_context):
    monkeypatch.delenv("PATTERN_SDK_TRACING", raising=False)
    seen: list[dict] = []

    @instrument
    def handler(event, context):
        seen.append(dict(logger.get_current_keys()))
        if event.get("tag"):
            logger.append_keys(tag=event["tag"])
        metrics.add_metric(name="Handled", unit=MetricUnit.Count, value=1)

    handler({"tag": "first"}, lambda_context)
    handler({}, lambda_context)
    assert "tag" not in seen[1], "the first invocation's key is cleared"
    assert seen[1]["function_request_id"] == lambda_context.aws_request_id, "the context is in each line"
