"""The console of the demo and of serve: the trace and the checks, without moto's failure events or
the functions' log and metric lines, which ``--logs`` still shows; and a page per run."""

from __future__ import annotations

import pytest

from localcloud.console import stack_output
from scenarios.__main__ import main

pytestmark = pytest.mark.e2e

#: What the noise looked like: moto's Step Functions interpreter on each failed state (sfn_crud's
#: 404s end in a Fail state), and Powertools' EMF metric lines.
MOTO_FAILURE = "ERROR moto.stepfunctions.parser.asl.component.eval_component: Exception=FailureEventException"
EMF = '{"_aws":'


def test_a_failed_execution_logs_nothing_on_the_console_and_its_failure_is_in_the_trace(local_cloud, capsys):
    cloud = local_cloud("sfn_crud")
    with stack_output(show=False):
        assert cloud.api().get("/items/nothing-here").status == 404
    assert capsys.readouterr() == ("", "")
    [execution] = cloud.trace.find(kind="sync-execution")
    assert execution.outcome == "FAILED", "the failure moto logged is in the trace"
    assert "sync-execution api:Api -> Pattern/Workflow" in cloud.trace.tree()
    with stack_output(show=True):
        assert cloud.api().get("/items/nothing-here").status == 404
    out, err = capsys.readouterr()
    assert out == "" and MOTO_FAILURE in err, "--logs: what moto logged, on stderr"


def test_the_demo_prints_its_trace_and_checks_and_writes_its_page(cloud_assembly, capsys, tmp_path):
    assert (
        main(["simple_web_service", "--assembly", cloud_assembly.directory, "--report", str(tmp_path)]) == 0
    )
    out, err = capsys.readouterr()
    assert err == "" and EMF not in out, "the functions' metric lines stay in their log groups"
    assert "invoke api:Api -> Pattern/ItemsFunction: ok" in out, "named by construct path"
    assert "| simple_web_service | " in out
    page = tmp_path / "SimpleWebServiceStack.html"
    assert f"report: {page}" in out
    assert "participant A3 as Pattern/ItemsFunction" in page.read_text()
