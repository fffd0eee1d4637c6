"""Synchronous invokes made from inside a handler, from its own thread or from threads it starts.

Each nested run gets its own modules, path, environment and role, and puts its caller's back
exactly; calls from different threads start at the same virtual moment and overlap, calls from one
thread follow each other, the caller lasts until the latest call it waited for, and a caller's read
timeout falls on the virtual clock while the callee runs on.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Duration, Stack

from tests.localcloud.conftest import pk_table, python_function

pytestmark = pytest.mark.localcloud

CHILDREN = ("ChildA", "ChildB", "ChildC")
READ_TIMEOUT_URL = (
    'Read timeout on endpoint URL: "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/'
)
#: Real seconds after which a call that has not returned counts as a deadlock.
DEADLOCK_AFTER = 60


def build(stack: Stack) -> None:
    children = {}
    for name in CHILDREN:
        table = pk_table(stack, f"{name}Table")
        child = python_function(
            stack,
            name,
            "nested_child",
            environment={"WHO": name[-1].lower(), "TABLE_NAME": table.table_name},
            timeout=Duration.seconds(10),
        )
        table.grant_write_data(child)
        children[name] = child
    middle = python_function(
        stack,
        "Middle",
        "nested_parent",
        environment={
            "WHO": "middle",
            "CHILD_A": children["ChildA"].function_arn,
            "CHILD_B": children["ChildB"].function_arn,
        },
    )
    parent = python_function(
        stack,
        "Parent",
        "nested_parent",
        environment={
            "WHO": "parent",
            "PARENT_ONLY": "yes",
            "MIDDLE": middle.function_arn,
            **{f"CHILD_{name[-1]}": fn.function_arn for name, fn in children.items()},
        },
        timeout=Duration.seconds(10),
    )
    for callee in (children["ChildA"], children["ChildB"], middle):
        callee.grant_invoke(parent)
    for callee in (children["ChildA"], children["ChildB"]):
        callee.grant_invoke(middle)


@pytest.fixture
def cloud(synth, run):
    return run(synth("NestedInvokes", build))


def calls(*targets: str, **payload: Any) -> list[dict[str, Any]]:
    return [{"to": target, "payload": payload} for target in targets]


def spans(cloud, name: str) -> list:
    return cloud.trace.find("invoke", target=cloud.function(name).name)


def span(cloud, name: str):
    [found] = spans(cloud, name)
    return found


def keys(cloud, table: str) -> set[str]:
    items = cloud.client("dynamodb").scan(TableName=cloud.physical_id(table))["Items"]
    return {item["pk"]["S"] for item in items}


def within_real_time(seconds: float, work: Callable[[], Any]) -> Any:
    """``work()`` on a thread of its own, failing the test if it has not returned after ``seconds``
    of real time: a deadlock shows as a failure rather than a run that never ends."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds}s: the nested invokes deadlocked"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# ---------------------------------------------------------------------------------------- isolation


@pytest.mark.parametrize("how", ["pool", "threads"])
def test_children_called_at_once_from_threads_each_run_with_their_own_environment_modules_and_table(
    cloud, how
):
    environ, path, modules = dict(os.environ), sys.path[:], dict(sys.modules)
    answer = cloud.invoke("Parent", {"calls": calls("CHILD_A", "CHILD_B", key="k1"), "how": how})["Payload"]
    a, b = answer["answers"]
    assert (a["who"], a["table"]) == ("a", cloud.physical_id("ChildATable"))
    assert (b["who"], b["table"]) == ("b", cloud.physical_id("ChildBTable"))
    for child in (a, b):
        assert child["parent_only"] is None, "a child never sees its caller's environment"
        assert (child["common"], child["common_now"]) == ("child", "child"), "nor its caller's modules"
    assert (keys(cloud, "ChildATable"), keys(cloud, "ChildBTable")) == ({"k1"}, {"k1"})
    assert (answer["who"], answer["common"]) == ("parent", "parent")
    assert answer["leak"] is None, "what a child did to its environment stays with it"
    assert cloud.trace.find("denied") == []
    assert dict(os.environ) == environ, "the test process's environment is as it was"
    assert sys.path == path
    assert {n: m for n, m in sys.modules.items() if n.split(".")[0] in {"common", "handler"}} == {
        n: m for n, m in modules.items() if n.split(".")[0] in {"common", "handler"}
    }


def test_each_child_call_is_checked_against_the_callers_role_and_hangs_under_its_invocation(cloud):
    answer = cloud.invoke("Parent", {"calls": calls("CHILD_A", "CHILD_C"), "how": "pool"})["Payload"]
    allowed, refused = answer["answers"]
    assert allowed["who"] == "a"
    assert refused == {"error": "AccessDeniedException"}
    parent = span(cloud, "Parent")
    [denied] = cloud.trace.find("denied")
    assert (denied.source, denied.parent) == (cloud.function("Parent").name, parent.id)
    assert denied.detail == f"lambda:InvokeFunction on {cloud.function('ChildC').arn}"
    assert span(cloud, "ChildA").parent == parent.id
    assert spans(cloud, "ChildC") == [], "a refused call runs nothing"


# ---------------------------------------------------------------------------------------- virtual time


def test_calls_from_different_threads_start_together_and_the_caller_lasts_until_the_latest(cloud):
    cloud.function("ChildA").duration, cloud.function("ChildB").duration = 0.5, 0.2
    answer = cloud.invoke("Parent", {"calls": calls("CHILD_A", "CHILD_B"), "how": "pool"})["Payload"]
    a, b, parent = span(cloud, "ChildA"), span(cloud, "ChildB"), span(cloud, "Parent")
    assert (a.at, a.ended, b.at, b.ended) == (0, 0.5, 0, 0.2), "the two calls overlap"
    assert (parent.at, parent.ended) == (0, 0.5), "the caller waited for the slower one, not the sum"
    assert [child["remaining_ms"] for child in answer["answers"]] == [10_000, 10_000]


def test_calls_from_one_thread_follow_each_other_and_use_up_the_callers_time(cloud):
    cloud.function("ChildA").duration, cloud.function("ChildB").duration = 0.5, 0.2
    answer = cloud.invoke("Parent", {"calls": calls("CHILD_A", "CHILD_B"), "how": "sequence"})["Payload"]
    a, b, parent = span(cloud, "ChildA"), span(cloud, "ChildB"), span(cloud, "Parent")
    assert (a.at, a.ended) == (0, 0.5)
    assert (b.at, b.ended) == (0.5, pytest.approx(0.7)), "the second call starts when the first returned"
    assert parent.ended == pytest.approx(0.7)
    assert answer["remaining_ms"] == [9500, 9300], "the caller's remaining time counts what it waited"
    assert [child["remaining_ms"] for child in answer["answers"]] == [10_000, 10_000]


def test_a_callers_own_duration_outlasting_its_calls_decides_its_end(cloud):
    cloud.function("Parent").duration, cloud.function("ChildA").duration = 2.0, 0.5
    cloud.invoke("Parent", {"calls": calls("CHILD_A"), "how": "pool"})
    assert span(cloud, "Parent").ended == 2.0


def test_a_callee_slower_than_the_read_timeout_times_the_call_out_at_that_moment_and_runs_on(cloud):
    cloud.function("ChildA").duration, cloud.function("ChildB").duration = 2.5, 0.3
    answer = cloud.invoke(
        "Parent", {"calls": calls("CHILD_A", "CHILD_B", key="late"), "how": "pool", "read_timeout": 1}
    )["Payload"]
    slow, fast = answer["answers"]
    assert slow["error"] == "ReadTimeoutError" and slow["message"].startswith(READ_TIMEOUT_URL)
    assert fast["who"] == "b"
    parent, a = span(cloud, "Parent"), span(cloud, "ChildA")
    assert parent.ended == 1.0, "the caller stopped waiting at its read timeout"
    assert (a.at, a.ended, a.outcome) == (0, 2.5, "ok"), "the callee ran on to its end"
    assert keys(cloud, "ChildATable") == {"late"}
    [timeout] = cloud.trace.find("timeout")
    assert (timeout.at, timeout.parent, timeout.target, timeout.outcome) == (
        1.0,
        parent.id,
        a.target,
        "ReadTimeoutError",
    )


def test_after_a_read_timeout_the_next_call_of_that_thread_starts_at_the_timeout(cloud):
    cloud.function("ChildA").duration, cloud.function("ChildB").duration = 2.5, 0.3
    answer = cloud.invoke(
        "Parent", {"calls": calls("CHILD_A", "CHILD_B"), "how": "sequence", "read_timeout": 1}
    )["Payload"]
    assert answer["answers"][0]["error"] == "ReadTimeoutError"
    assert answer["remaining_ms"] == [9000, 8700]
    b = span(cloud, "ChildB")
    assert (b.at, b.ended) == (1.0, 1.3)
    assert span(cloud, "Parent").ended == 1.3


# ---------------------------------------------------------------------------------------- no deadlock


def test_a_child_fanning_out_from_its_own_threads_while_its_caller_calls_from_two_more_never_deadlocks(
    cloud,
):
    cloud.function("ChildA").duration = 0.4
    fan_out = {"to": "MIDDLE", "payload": {"calls": calls("CHILD_A", "CHILD_B", key="deep"), "how": "pool"}}
    event = {"calls": [fan_out, *calls("CHILD_B", key="direct")], "how": "mixed"}
    answer = within_real_time(DEADLOCK_AFTER, lambda: cloud.invoke("Parent", event)["Payload"])
    middle, direct = answer["answers"]
    assert [child["who"] for child in middle["answers"]] == ["a", "b"]
    assert (middle["who"], middle["leak"], direct["who"]) == ("middle", None, "b")
    assert (answer["who"], answer["leak"], answer["common"]) == ("parent", None, "parent")
    assert keys(cloud, "ChildBTable") == {"deep", "direct"}
    parent, middle_span = span(cloud, "Parent"), span(cloud, "Middle")
    assert middle_span.parent == parent.id and span(cloud, "ChildA").parent == middle_span.id
    assert sorted(s.parent for s in spans(cloud, "ChildB")) == sorted([parent.id, middle_span.id])
    assert (middle_span.ended, parent.ended) == (0.4, 0.4)


# ---------------------------------------------------------------------------------------- threads left running


def test_a_thread_left_running_makes_its_call_within_the_next_invocation(cloud):
    cloud.invoke("Parent", {"calls": calls("CHILD_A", key="later"), "how": "leave-running"})
    assert spans(cloud, "ChildA") == [], "the thread waits; nothing ran"
    cloud.advance(30)
    answer = cloud.invoke("Parent", {"how": "resume"})["Payload"]
    assert answer["answers"][0]["who"] == "a"
    first, second = spans(cloud, "Parent")
    assert (first.at, second.at) == (0, 30)
    child = span(cloud, "ChildA")
    assert (child.at, child.parent) == (30, first.id), "it runs in the environment's next invocation"
    assert keys(cloud, "ChildATable") == {"later"}


def test_a_thread_left_running_that_calls_between_invocations_gets_a_clear_error(cloud):
    cloud.invoke("Parent", {"calls": calls("CHILD_A"), "how": "leave-running"})
    [thread] = [t for t in threading.enumerate() if t.name == "nested-left-running"]
    thread.release.set()
    thread.join(DEADLOCK_AFTER)
    assert thread.outcome["error"] == "InvocationEnded"
    assert "Lambda freezes the execution environment between invocations" in thread.outcome["message"]
    assert spans(cloud, "ChildA") == []
