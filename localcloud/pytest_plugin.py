"""The pytest plugin, loaded through the ``pytest11`` entry point once ``localcloud`` is installed.

Its fixture, ``local_cloud_for``, starts a local cloud for your own CDK stack and stops it when the
test ends; a failing test's report carries the cloud's trace::

    def test_an_order_is_stored(local_cloud_for):
        cloud = local_cloud_for(OrdersStack(App(context=SYNTH_CONTEXT), "Orders"))
        ...

It imports neither moto nor the CDK until a test asks for a cloud, so a session that uses none
pays nothing for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from localcloud.testing import cloud_for

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

#: The CDK's CloudFormation schema check costs seconds per synth; ``cdk synth`` and your CI still run it.
VALIDATION = "CDK_VALIDATION"

#: The attribute of a test item that holds the clouds its fixture started, for the report.
CLOUDS = "localcloud_clouds"

#: A failing test's section when its cloud saw nothing: the failure came before any event.
NOTHING_RECORDED = "(nothing recorded: no send, delivery or invocation happened in this cloud)"


def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """Turn the CDK's built-in template validation off for the session, unless ``CDK_VALIDATION`` is
    set: its Node process reads the variable once, when the first test module imports the CDK."""
    os.environ.setdefault(VALIDATION, "false")


@pytest.fixture
def local_cloud_for(request: pytest.FixtureRequest) -> Iterator[Callable[..., LocalCloud]]:
    """Start a local cloud for a CDK stack: ``local_cloud_for(stack)``, ``local_cloud_for(app,
    "MyStack")`` or ``local_cloud_for("cdk.out", "MyStack")``; keyword arguments go to
    ``LocalCloud`` (``enforce_iam``, ``parameters``, ``start``, ``strict_runtime``). The cloud stops when the test ends;
    when it fails, its report shows the cloud's trace."""
    clouds: list[LocalCloud] = []
    setattr(request.node, CLOUDS, clouds)

    def start(target: Any, stack_name: str | None = None, **kwargs: Any) -> LocalCloud:
        cloud = cloud_for(target, stack_name, **kwargs)
        cloud.start()
        clouds.append(cloud)
        return cloud

    yield start
    for cloud in reversed(clouds):
        cloud.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failing test that started a cloud shows what happened in it, as a tree."""
    report = yield
    if report.failed and call.when == "call":
        for cloud in getattr(item, CLOUDS, []):
            tree = cloud.trace.tree() or NOTHING_RECORDED
            report.sections.append((f"local cloud trace: {cloud.stack_name}", tree))
    return report
