"""What a person reads from the local cloud: a trace named by construct path with repeats counted,
its sequence diagram as a page, a console without the stack's noise, a clock that starts today."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from localcloud.console import stack_output
from localcloud.core.clock import FIXED_START, VirtualClock
from localcloud.core.trace import Trace
from localcloud.report import MERMAID_URL, html_report, write_report

WORKER = "WebhookStack-PatternWorker1F4436B3-10BD118F16CF"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/WebhookStack-PatternInboxQueue42F-EE376C20D269"


def webhook_trace(requests: int = 25) -> Trace:
    """``requests`` webhooks in, each sent on to the queue; the first batch delivered to the worker."""
    trace = Trace()
    trace.name_resources(
        {
            "Worker": "WebhookStack/Pattern/Worker/Resource",
            "Inbox": "WebhookStack/Pattern/Inbox/Queue/Resource",
        },
        {"Worker": WORKER, "Inbox": QUEUE_URL},
    )
    queue = f"sqs:{QUEUE_URL.rsplit('/', 1)[-1]}"
    for number in range(requests):
        request = trace.record(
            "request", "client", "api:Api", "POST /prod/webhooks", at=number, outcome="202"
        )
        trace.record(
            "send",
            "api:Api",
            queue,
            f"message {number:08d}-aaaa-bbbb-cccc-dddddddddddd",
            at=number,
            parent=request.id,
        )
    trace.record("deliver", queue, WORKER, "batch of 10", at=requests, outcome="deleted")
    trace.record("request", "client", "api:Api", "POST /prod/webhooks", at=requests, outcome="400")
    return trace


def test_spans_are_named_by_construct_path_and_by_physical_name_on_demand():
    trace = webhook_trace(1)
    tree = trace.tree()
    assert "- [t=1s] deliver sqs:Pattern/Inbox/Queue -> Pattern/Worker batch of 10: deleted" in tree
    assert WORKER not in tree
    physical = trace.tree(physical=True)
    assert f"-> {WORKER} batch of 10" in physical and "Pattern/Worker" not in physical
    assert trace.lines()[-2].endswith(
        "deliver sqs:Pattern/Inbox/Queue -> Pattern/Worker batch of 10: deleted"
    )
    trace.record("integrate", "api:Api", f"sqs:SendMessage as {WORKER}", at=2)
    assert trace.lines()[-1].endswith("integrate api:Api -> sqs:SendMessage as Pattern/Worker: ok")


def test_repeated_sibling_spans_print_once_counted_unless_asked_for_in_full():
    trace = webhook_trace(25)
    tree = trace.tree().splitlines()
    assert tree == [
        "- [t=0s..24s] 25 x request client -> api:Api POST /prod/webhooks: 202",
        "  - [t=0s] send api:Api -> sqs:Pattern/Inbox/Queue message 00000000-aaaa-bbbb-cccc-dddddddddddd: ok",
        "- [t=25s] deliver sqs:Pattern/Inbox/Queue -> Pattern/Worker batch of 10: deleted",
        "- [t=25s] request client -> api:Api POST /prod/webhooks: 400",
    ], "alike but for ids and times: counted; another outcome or another cause: its own line"
    assert len(trace.tree(full=True).splitlines()) == 25 * 2 + 2


def test_the_sequence_diagram_names_participants_by_path_and_counts_repeats():
    diagram = webhook_trace(25).mermaid().splitlines()
    assert "    participant A3 as sqs:Pattern/Inbox/Queue" in diagram
    assert "    participant A4 as Pattern/Worker" in diagram
    assert "    A1->>A2: 25 x request: POST /prod/webhooks (202)" in diagram
    assert len(webhook_trace(25).mermaid(full=True).splitlines()) == 1 + 4 + 25 * 2 + 2


def test_the_diagram_escapes_what_would_end_a_mermaid_statement():
    trace = Trace()
    trace.record("invoke", "a", "b", "x; y # z", at=0)
    assert trace.mermaid().splitlines()[-1] == "    A1->>A2: invoke: x  y   z (ok)"


def test_the_report_is_a_page_that_renders_the_diagram_with_pinned_mermaid(tmp_path):
    trace = webhook_trace(3)
    trace.record("invoke", "client", "a<b>", "", at=9)
    page = html_report("Webhook <run>", trace)
    assert "<title>Webhook &lt;run&gt;</title>" in page
    assert "A1-&gt;&gt;A2: 3 x request: POST /prod/webhooks (202)" in page, "the diagram, escaped"
    assert "a&lt;b&gt;" in page and "<b>" not in page
    assert f'import mermaid from "{MERMAID_URL}"' in page and "@11." in MERMAID_URL, "a pinned version"
    assert page.count("<script") == 1 and page.count("https://") == 1, "nothing else is fetched"
    written = write_report(tmp_path / "reports" / "run.html", "run", trace)
    assert written.read_text() == html_report("run", trace)


def test_the_stacks_noise_stays_off_the_console_unless_asked_for(capsys):
    moto = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")
    with stack_output(show=False) as console:
        print('{"_aws": {"CloudWatchMetrics": []}}')
        moto.error("Exception=FailureEventException, Error=States.TaskFailed")
        print("POST /prod/items -> 201", file=console)
    out, err = capsys.readouterr()
    assert (out, err) == ("POST /prod/items -> 201\n", "")
    with stack_output(show=True) as console:
        print('{"_aws": {}}')
        moto.error("Exception=FailureEventException")
    out, err = capsys.readouterr()
    assert (
        out == ""
        and err
        == '{"_aws": {}}\nERROR moto.stepfunctions.parser.asl.component.eval_component: Exception=FailureEventException\n'
    )
    assert logging.getLogger("moto").handlers == [] and logging.getLogger("moto").propagate, "restored"


def test_a_clock_given_no_start_starts_now_to_the_second_and_a_given_start_is_kept():
    clock = VirtualClock()
    clock.start()
    try:
        started = clock.now()
        assert started.microsecond == 0
    finally:
        clock.stop()
    assert abs(started - datetime.now(UTC)) < timedelta(seconds=5), "today, not 2026-01-01"
    fixed = VirtualClock(FIXED_START)
    fixed.start()
    try:
        assert fixed.now() == FIXED_START
    finally:
        fixed.stop()
