"""CDK apps written the way other people write them: default constructs, no house helpers.

Each app lives in its own folder here (``<app>/app.py`` with a ``build(app)`` that adds its stacks
to the ``App`` it is given, and its handler code beside it), and is listed in ``APPS``. All of them
are synthesized once per session into one assembly, so a test file pays for one synth at most;
``other_apps`` is that assembly's directory, for ``cloud_for(other_apps, "StackName")``.
"""

from __future__ import annotations

import gc
import importlib
from pathlib import Path

import pytest

from localcloud.testing import SYNTH_CONTEXT
from tests.conftest import shared_synth

#: The apps, by folder name. Each folder's ``app.py`` has ``build(app: aws_cdk.App) -> None``.
APPS: list[str] = [
    "zip_site",
    "cognito_api",
    "vpc_endpoint",
    "rest_spec",
    "tenant_seeder",
    "canary",
    "http_jwt",
]

pytestmark = pytest.mark.localcloud


@pytest.fixture(scope="session")
def other_apps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every app in ``APPS`` synthesized into one cloud assembly; its directory."""
    from aws_cdk import App

    def synthesize(outdir: Path) -> None:
        app = App(
            context=dict(SYNTH_CONTEXT),
            outdir=str(outdir),
            # CDK's own CloudFormation validator costs seconds per process; cfn-lint is not the point here.
            builtin_cloud_formation_validation=False,
        )
        for name in APPS:
            importlib.import_module(f"tests.other_apps.{name}.app").build(app)
        app.synth()

    directory = shared_synth(tmp_path_factory, "other-apps.out", synthesize)
    gc.collect()
    gc.freeze()
    return directory
