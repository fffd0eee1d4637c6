"""Test-wide setup: fake AWS credentials, no network but loopback, one synth per session."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import file_order, hypothesis_codecs, rewrite_cache

# Set before boto3, moto or the CDK load: tests must never find real credentials or a real region.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_DEPRECATED": "quiet",
        "CDK_DISABLE_VERSION_CHECK": "1",
        # The CDK's own CloudFormation schema check loads its schemas into each process's Node (4 s
        # of CPU) at the first synth; cfn-lint gates every registered stack instead. As the local
        # cloud's pytest plugin sets it for users (docs/localcloud.md).
        "CDK_VALIDATION": "false",
        "POWERTOOLS_METRICS_NAMESPACE": "Tests",
        "POWERTOOLS_DEV": "false",
    }
)
for _name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory):
    """Every registered stack, synthesized once per run, with cdk-nag as a synth-time gate.

    CDK's own CloudFormation validator is off here (it costs seconds per process); cfn-lint runs
    in the infra tests instead. Under xdist the first worker to need it synthesizes into the run's
    shared temporary folder and the others read that cloud assembly (:func:`shared_synth`).
    """
    from aws_cdk import cx_api

    from patterns.stack import UNSTAGED, build_app

    def synthesize(outdir: Path) -> None:
        # Unstaged assets (`cdk synth --no-staging`): handlers run from functions/<id>/ itself, so a
        # debugger's breakpoints there stop (docs/localcloud.md, "Debugging a handler").
        build_app(builtin_validation=False, outdir=str(outdir), context=UNSTAGED).synth()

    assembly = cx_api.CloudAssembly(str(shared_synth(tmp_path_factory, "cdk.out", synthesize)))
    # What the synth left on the heap lives as long as the session: keep the collector off it, or
    # every full collection walks it again (seconds, over the suite).
    gc.collect()
    gc.freeze()
    return assembly


def shared_synth(
    tmp_path_factory: pytest.TempPathFactory, name: str, synthesize: Callable[[Path], None]
) -> Path:
    """The folder ``synthesize`` filled, once per test run: xdist's workers share one synthesis.

    A synthesis is seconds of CPU in this process and in CDK's node process; each worker used to
    repeat it. The first worker to get here synthesizes under a lock in the run's shared base
    folder; the others wait for it and read the result. Without xdist it is an ordinary temporary
    folder.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        outdir = tmp_path_factory.mktemp(name)
        synthesize(outdir)
        return outdir
    import fcntl

    shared = tmp_path_factory.getbasetemp().parent
    outdir, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(outdir, ignore_errors=True)  # a worker that failed half-way
            synthesize(outdir)
            done.touch()
    return outdir


@pytest.fixture
def run(request: pytest.FixtureRequest):
    """Start a local cloud for a stack artifact: ``cloud = run(artifact)``; it stops with the test."""
    from localcloud import LocalCloud
    from localcloud.core.clock import FIXED_START

    clouds = request.node.local_clouds = []

    def start(artifact, **kwargs):
        # The tests' timestamps do not depend on the day they run (a served cloud starts at now).
        kwargs.setdefault("start", FIXED_START)
        cloud = LocalCloud(artifact, **kwargs)
        cloud.start()
        clouds.append(cloud)
        return cloud

    yield start
    for cloud in clouds:
        cloud.stop()


@pytest.fixture
def local_cloud(cloud_assembly, run):
    """Start the local cloud for a registered pattern's stack: ``cloud = local_cloud("scalable_webhook")``,
    or one of its variants': ``local_cloud("storage_first", variant="dynamodb")``.

    The stacks are the session's one synthesis; each cloud is fresh and stops with the test. When
    the test fails, the trace of what happened is added to its report.
    """
    from localcloud.core.assembly import load_stack
    from patterns.registry import get

    def start(pattern_id: str, variant: str | None = None, **kwargs):
        pattern = get(pattern_id)
        name = pattern.stack_name if variant is None else pattern.variant_stack_name(variant)
        return run(load_stack(cloud_assembly.directory, name), **kwargs)

    return start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failing local-cloud test shows what happened in the cloud, as a tree."""
    report = yield
    if report.failed and call.when == "call":
        for cloud in getattr(item, "local_clouds", []):
            report.sections.append((f"local cloud trace: {cloud.stack_name}", cloud.trace.tree()))
    return report


def pytest_configure(config: pytest.Config) -> None:
    """Collect garbage less often: moto and the local cloud make many short-lived objects, and at
    Python's default thresholds the collector took a fifth of the suite's time.

    Under ``--dist loadfile`` xdist hands out files in collection order, not by its own count of
    tests per file, so the slowest files go first (:func:`pytest_collection_modifyitems`).
    hypothesis is told which characters UTF-8 encodes instead of encoding each (:mod:`tests.hypothesis_codecs`).
    Which modules pytest need not rewrite is remembered by name (:func:`tests.rewrite_cache.remember_skips`).
    """
    gc.set_threshold(100_000, 20, 20)
    if getattr(config.option, "dist", "no") == "loadfile":
        config.option.loadscopereorder = False
    file_order.register(config)
    rewrite_cache.register(config)
    rewrite_cache.remember_skips(config)
    hypothesis_codecs.register()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """One full collection at the end, then the survivors frozen: pytest collects twice more at
    exit (to report exceptions raised in finalizers) and each full pass over a worker's heap of
    millions of objects cost it seconds. What is garbage now is still collected, and reported."""
    gc.collect()
    gc.freeze()


#: The test files that take longest (from ``--durations=0``), slowest first: the order of files no run
#: has measured yet in this checkout (tests/file_order.py), so a fresh checkout still starts with them.
SLOWEST_FILES = (
    "tests/localcloud/test_core.py",
    "tests/infra/test_overrides.py",
    "tests/e2e/test_serve.py",
    "tests/localcloud/test_rds.py",
    "tests/e2e/test_serve_cdk_builtins.py",
    "tests/e2e/test_try_lines.py",
    "tests/localcloud/test_package.py",
    "tests/infra/test_gates.py",
    "tests/localcloud/test_streams.py",
    "tests/localcloud/test_elasticache.py",
    "tests/localcloud/test_stepfunctions.py",
    "tests/e2e/test_scenarios.py",
    "tests/localcloud/test_apigateway_cognito.py",
    "tests/e2e/test_sfn_crud.py",
    "tests/localcloud/test_apigateway_integrations.py",
    "tests/e2e/test_fuzz_sfn_crud.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slowest files first (:mod:`tests.file_order`)."""
    file_order.sort_items(config, items, SLOWEST_FILES)
