"""Small purpose-built stacks for testing the local cloud's semantics one at a time."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_

from localcloud.core.assembly import StackArtifact, load_stack
from patterns.stack import SYNTH_METADATA

FUNCTIONS = Path(__file__).parent / "functions"


def python_function(
    scope: Stack, construct_id: str, folder: str, handler: str = "handler.handler", **kwargs
) -> lambda_.Function:
    """A function from ``tests/localcloud/functions/<folder>``, on the Python the tests run on."""
    return lambda_.Function(
        scope,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler=handler,
        code=lambda_.Code.from_asset(str(FUNCTIONS / folder)),
        **kwargs,
    )


def listening(port: int) -> bool:
    """Whether something accepts connections on the loopback ``port`` (a real server of a cloud)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def pk_table(scope: Stack, construct_id: str, **kwargs) -> dynamodb.Table:
    """An on-demand table keyed by a string ``pk``: where test functions record what they saw."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        removal_policy=RemovalPolicy.DESTROY,
        **kwargs,
    )


@pytest.fixture(scope="session")
def synth(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, Callable[[Stack], None]], StackArtifact]:
    """Synthesize a stack that ``build`` fills, once per session per name, with asset metadata."""
    built: dict[str, StackArtifact] = {}

    def synthesize(name: str, build: Callable[[Stack], None]) -> StackArtifact:
        if name not in built:
            outdir = tmp_path_factory.mktemp(f"cdk-{name}")
            # CDK's own CloudFormation validator costs seconds per synth; cfn-lint runs in tests/infra.
            app = App(outdir=str(outdir), context=SYNTH_METADATA, builtin_cloud_formation_validation=False)
            build(Stack(app, name))
            app.synth()
            built[name] = load_stack(outdir, name)
        return built[name]

    return synthesize
