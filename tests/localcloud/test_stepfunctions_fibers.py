"""The fibers Step Functions executions run on: one thread at a time, each given the turn back only
when the virtual clock reaches what it waits for (or its condition holds), oldest first, and ended
when its cloud stops; and the engine's own state: one cloud's at a time, the names it makes, the
input quota. Unit tests on a virtual clock: no cloud, no sleep."""

from __future__ import annotations

import contextvars
import signal
import uuid
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest

from localcloud.core.clock import FIXED_START, VirtualClock
from localcloud.errors import LocalCloudError
from localcloud.services.stepfunctions import TASK_TOKENS
from localcloud.services.stepfunctions.engine import (
    MAX_PAYLOAD_BYTES,
    Engine,
    StepFunctionsError,
    check_input_size,
)
from localcloud.services.stepfunctions.fibers import Scheduler, current, park

pytestmark = pytest.mark.localcloud

LABEL = contextvars.ContextVar("label", default="unset")


@pytest.fixture(autouse=True)
def bounded() -> Iterator[None]:
    """A broken hand-over leaves a thread waiting for ever: fail the test after 10 s instead."""

    def expire(*_) -> None:
        raise TimeoutError("the fibers did not hand the turn back within 10 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def clock() -> Iterator[VirtualClock]:
    clock = VirtualClock(FIXED_START)
    clock.start()
    yield clock
    clock.stop()


@pytest.fixture
def scheduler(clock) -> Iterator[Scheduler]:
    scheduler = Scheduler(clock)
    yield scheduler
    scheduler.close()


def at(seconds: float):
    return FIXED_START + timedelta(seconds=seconds)


def test_a_fiber_runs_from_the_next_poll_and_resumes_exactly_when_the_clock_reaches_its_moment(
    clock, scheduler
):
    seen: list[tuple[str, float]] = []

    def waits() -> None:
        seen.append(("started", clock.elapsed()))
        park(due=at(5))
        seen.append(("resumed", clock.elapsed()))

    fiber = scheduler.spawn(waits, "waits", owner=None)
    assert seen == [] and scheduler.next_wakeup() is None

    assert scheduler.poll() is True
    assert seen == [("started", 0)]
    assert (scheduler.next_wakeup(), scheduler.deadlines.next_wakeup()) == (at(5), None)

    clock.move_to(at(4.999))
    assert scheduler.poll() is False
    clock.move_to(at(5))
    assert scheduler.poll() is True

    assert seen == [("started", 0), ("resumed", 5)]
    assert fiber.done and scheduler.fibers == [] and scheduler.next_wakeup() is None
    assert scheduler.poll() is False


def test_a_fiber_waiting_for_a_condition_goes_on_once_it_holds_and_waits_no_longer_while_running(
    scheduler,
):
    state = {"ready": False}
    running: list[tuple] = []

    def waits() -> None:
        park(ready=lambda: state["ready"])
        me = current()
        running.append((me.ready(), me.due, me.deadline))

    scheduler.spawn(waits, "condition", owner=None)
    scheduler.poll()
    assert (scheduler.poll(), scheduler.poll()) == (False, False)
    assert scheduler.next_wakeup() is None

    state["ready"] = True
    assert scheduler.poll() is True
    assert running == [(True, None, False)]
    assert current() is None


def test_a_time_limit_is_a_deadline_drain_leaves_out_but_it_still_resumes_the_fiber(clock, scheduler):
    ends: list[float] = []

    def awaits_token() -> None:
        park(due=at(30), deadline=True)
        ends.append(clock.elapsed())

    scheduler.spawn(awaits_token, "token", owner=None)
    scheduler.poll()

    assert (scheduler.next_wakeup(), scheduler.deadlines.next_wakeup()) == (None, at(30))
    assert scheduler.deadlines.schedule is True
    assert scheduler.deadlines.poll() is False
    clock.move_to(at(30))
    assert scheduler.poll() is True
    assert ends == [30]


def test_the_earliest_moment_is_the_wake_up_and_fibers_resume_oldest_first(clock, scheduler):
    order: list[str] = []

    def waits(name: str, seconds: float):
        def target() -> None:
            park(due=at(seconds))
            order.append(name)

        return target

    scheduler.spawn(waits("late", 9), "late", owner=None)
    scheduler.spawn(waits("first", 3), "first", owner=None)
    scheduler.spawn(waits("second", 3), "second", owner=None)
    scheduler.poll()

    assert scheduler.next_wakeup() == at(3)
    clock.move_to(at(3))
    scheduler.poll()
    assert order == ["first", "second"]
    assert scheduler.next_wakeup() == at(9)


def test_a_fiber_that_an_earlier_one_made_wait_again_is_not_resumed_in_the_same_poll(scheduler):
    state = {"go": False, "open": False}
    ran: list[str] = []

    def closes() -> None:
        park(ready=lambda: state["go"])
        state["open"] = False
        ran.append("closes")

    def needs_open() -> None:
        park(ready=lambda: state["open"])
        ran.append("needs open")

    scheduler.spawn(closes, "closes", owner=None)
    scheduler.spawn(needs_open, "needs open", owner=None)
    scheduler.poll()
    state.update(go=True, open=True)  # both can go on when the next poll begins

    assert scheduler.poll() is True
    assert ran == ["closes"]
    state["open"] = True
    scheduler.poll()
    assert ran == ["closes", "needs open"]


def test_an_error_escaping_a_fiber_is_raised_to_whoever_resumed_it_naming_the_fiber(scheduler):
    def fails() -> None:
        raise ValueError("broken")

    fiber = scheduler.spawn(fails, "execution e-1", owner=None)
    with pytest.raises(
        LocalCloudError, match=r"execution e-1 failed inside the local cloud: ValueError"
    ) as raised:
        scheduler.poll()

    assert isinstance(raised.value.__cause__, ValueError)
    assert fiber.error is None and scheduler.fibers == []


def test_waiting_outside_an_executions_thread_is_refused():
    with pytest.raises(LocalCloudError, match="outside an execution's thread"):
        park(due=at(1))


def test_a_fiber_runs_in_a_copy_of_the_context_that_spawned_it(scheduler):
    seen: list[str] = []
    token = LABEL.set("spawner's")
    try:
        scheduler.spawn(lambda: seen.append(LABEL.get()), "context", owner=None)
    finally:
        LABEL.reset(token)
    scheduler.poll()

    assert seen == ["spawner's"]


def test_a_synchronous_run_drives_only_its_own_fibers_moving_the_clock_over_their_waits(clock, scheduler):
    ran: list[tuple[str, float]] = []

    def mine(name: str, seconds: float):
        def target() -> None:
            park(due=at(seconds))
            ran.append((name, clock.elapsed()))

        return target

    other = scheduler.spawn(mine("other", 1), "other", owner="someone else")
    scheduler.spawn(mine("child", 7), "child", owner="run")
    root = scheduler.spawn(mine("root", 4), "root", owner="run")

    scheduler.run_until_done(root, "run")

    assert ran == [("root", 4)]
    assert clock.elapsed() == 4
    assert not other.thread.is_alive() and not other.done  # never given a turn
    assert scheduler.next_wakeup() == at(7)


def test_a_synchronous_run_gives_its_runnable_fibers_the_turn_oldest_first(scheduler):
    order: list[str] = []
    root = scheduler.spawn(lambda: order.append("root"), "root", owner="run")
    scheduler.spawn(lambda: order.append("child"), "child", owner="run")

    scheduler.run_until_done(root, "run")

    assert order == ["root"]


def test_a_synchronous_run_waiting_for_what_cannot_come_is_refused(scheduler):
    root = scheduler.spawn(lambda: park(ready=lambda: False), "execution sync", owner="run")

    with pytest.raises(LocalCloudError, match="execution sync waits for something that cannot happen"):
        scheduler.run_until_done(root, "run")


def test_closing_ends_parked_threads_without_running_the_rest_of_them(scheduler):
    after: list[str] = []

    def waits() -> None:
        park(due=at(60))
        after.append("ran on")

    parked = scheduler.spawn(waits, "parked", owner=None)
    unstarted = scheduler.spawn(lambda: after.append("started"), "unstarted", owner=None)
    scheduler.poll()  # both get a turn: the second ends at once
    assert after == ["started"]
    scheduler.spawn(lambda: after.append("late"), "late", owner=None)

    scheduler.close()

    assert not parked.thread.is_alive() and parked.done
    assert after == ["started"] and scheduler.fibers == []
    assert unstarted.done


def test_a_fiber_closed_before_its_first_turn_never_runs_its_target(scheduler):
    after: list[str] = []
    fiber = scheduler.spawn(lambda: after.append("ran"), "closed early", owner=None)
    scheduler.close()

    scheduler.fibers.append(fiber)
    scheduler.resume(fiber)

    assert after == [] and fiber.done


# ---------------------------------------------------------------------------------------- the engine


def kernel(clock: VirtualClock) -> SimpleNamespace:
    """What the engine needs of a cloud: its clock and its pump's pollables."""
    pollables: list = []
    return SimpleNamespace(clock=clock, add_pollable=pollables.append, pollables=pollables)


def test_a_new_clouds_engine_ends_what_an_earlier_cloud_left_waiting_and_forgets_its_tokens(clock):
    earlier = Engine(kernel(clock))
    after: list[str] = []

    def waits() -> None:
        park(due=at(60))
        after.append("ran on")

    left = earlier.scheduler.spawn(waits, "left waiting", owner=None)
    earlier.scheduler.poll()
    TASK_TOKENS["token"] = "arn:aws:states:us-east-1:123456789012:stateMachine:Earlier"

    cloud = kernel(clock)
    later = Engine(cloud)

    assert left.done and not left.thread.is_alive() and earlier.scheduler.fibers == []
    assert after == [] and TASK_TOKENS == {}
    assert cloud.pollables == [later.scheduler, later.scheduler.deadlines]
    assert later.runs == {}


def test_the_names_the_engine_makes_are_uuids_numbered_per_engine_so_runs_repeat(clock):
    engine = Engine(kernel(clock))
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:M"

    names = [engine.execution_name(arn) for _ in range(2)]

    assert names == [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}/{n}")) for n in (1, 2)]
    assert Engine(kernel(clock)).execution_name(arn) == names[0]


def test_an_input_is_limited_to_256_kib_of_utf8_not_characters():
    check_input_size("x" * MAX_PAYLOAD_BYTES)
    with pytest.raises(StepFunctionsError) as refused:
        check_input_size("\u00e9" * (MAX_PAYLOAD_BYTES // 2) + "x")

    assert refused.value.code == "ValidationException"
    assert refused.value.message == (
        "1 validation error detected: Value at 'input' failed to satisfy constraint: "
        "Member must have length less than or equal to 262144"
    )
    assert str(refused.value) == f"ValidationException: {refused.value.message}"


def test_a_machine_created_at_runtime_in_a_cloud_with_none_runs_on_the_engine_and_its_clock():
    """The engine is made when the first state machine is: here by CreateStateMachine, not the template."""
    import json
    from pathlib import Path

    from localcloud import LocalCloud
    from localcloud.core.assembly import StackArtifact

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    template = {
        "Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}}}
    }
    waits = {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 7, "End": True}}}
    with LocalCloud(StackArtifact("SfnBare", template, Path(".")), start=FIXED_START) as cloud:
        arn = cloud.client("stepfunctions").create_state_machine(
            name="made-later", definition=json.dumps(waits), roleArn=cloud.resources["Role"].attributes["Arn"]
        )["stateMachineArn"]
        sfn = cloud.client("stepfunctions")
        started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": 1}))["executionArn"]
        assert sfn.describe_execution(executionArn=started)["status"] == "RUNNING"
        cloud.drain()

        finished = sfn.describe_execution(executionArn=started)
        assert (finished["status"], json.loads(finished["output"]), cloud.clock.elapsed()) == (
            "SUCCEEDED",
            {"n": 1},
            7,
        )
