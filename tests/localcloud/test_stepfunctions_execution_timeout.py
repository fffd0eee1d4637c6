"""An execution's ``TimeoutSeconds`` against a Wait that ends at the same moment: ``drain`` waits
for it as for any Wait (the timeout does not turn it into a moment drain may skip), and the
execution has ended by then. One small cloud from a hand-written template (no synth)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import LocalCloud
from localcloud.core.assembly import StackArtifact
from localcloud.core.clock import FIXED_START
from tests.localcloud.state_machines import states_role

pytestmark = pytest.mark.localcloud

DEFINITION = {
    "StartAt": "Pause",
    "TimeoutSeconds": 10,
    "States": {
        "Pause": {"Type": "Wait", "Seconds": 10, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}
TEMPLATE = {
    "Resources": {
        "Role": states_role(),
        "Edge": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "DefinitionString": json.dumps(DEFINITION),
                "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            },
        },
    }
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(StackArtifact("SfnTimeoutEdge", TEMPLATE, Path(".")), start=FIXED_START) as running:
        yield running


def test_a_wait_ending_at_the_executions_timeout_is_waited_for_by_drain(cloud):
    start = cloud.clock.elapsed()
    execution = cloud.start_execution("Edge", {})
    cloud.drain()

    assert execution.status != "RUNNING"
    assert cloud.clock.elapsed() - start == 10
