"""An app of another style that uses CDK's built-in custom resources (``log_retention``,
``auto_delete_objects``, ``BucketDeployment`` with ``Source.data``), synthesized as ``serve`` and
``serve --watch`` synthesize it (its own process, unstaged) and served: the handlers and files that
were temporary folders of that process are staged, the app's own folders are not."""

from __future__ import annotations

import json
import sys
import threading
import unittest.mock
from pathlib import Path

import pytest

from localcloud import LocalCloud, staged_assets
from localcloud.__main__ import synthesize
from localcloud.aws_endpoint.door import aws_door
from localcloud.core.assembly import load_stack
from localcloud.server import LocalServer
from localcloud.staged_assets import STAGED
from tests.e2e.test_aws_endpoint import Aws

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
SITE = ROOT / "tests" / "other_apps" / "zip_site" / "site"
APP = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from aws_cdk import App
from tests.other_apps.zip_site.app import build

app = App()
build(app)
app.synth()
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("served-builtins")
    (work / "app.py").write_text(APP)
    (work / "aws-config").write_text("")
    # Staged copies another test of this process made are not reused: this synthesis makes its own.
    with unittest.mock.patch.object(staged_assets, "_staged", {}):
        outdir = synthesize("ZipSiteStack", str(work / "cdk.out"), app=f"{sys.executable} {work / 'app.py'}")
    with (
        LocalCloud(load_stack(outdir, "ZipSiteStack")) as cloud,
        LocalServer(cloud, real_time=False, extra_doors=[aws_door(0)]) as server,
    ):
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield cloud, Aws(server.front_doors[-1].url, work / "aws-config"), work
        finally:
            server.shutdown()
            thread.join()


def test_the_deployed_site_and_the_apps_own_file_are_in_the_bucket(served):
    cloud, aws, work = served
    bucket = cloud.outputs["SiteBucketName"]
    listed = aws("s3api", "list-objects-v2", "--bucket", bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["css/site.css", "index.html", "robots.txt"]
    aws("s3api", "get-object", "--bucket", bucket, "--key", "robots.txt", str(work / "robots.txt"))
    assert (work / "robots.txt").read_text() == "User-agent: *\nDisallow: /private/\n"


def test_the_function_answers_and_keeps_its_logs_a_week(served):
    cloud, aws, work = served
    name = cloud.outputs["FunctionName"]
    invoked = aws(
        "lambda", "invoke", "--function-name", name, "--payload", '{"n": 1}', str(work / "out.json")
    )
    assert invoked["StatusCode"] == 200
    answer = json.loads((work / "out.json").read_text())
    assert answer == {"quote": "Make it work, make it right, make it fast.", "site": "Quotes"}
    [group] = aws("logs", "describe-log-groups", "--log-group-name-prefix", f"/aws/lambda/{name}")[
        "logGroups"
    ]
    assert group["retentionInDays"] == 7


def test_only_the_synthesis_own_temporary_folders_were_staged(served):
    cloud, _, work = served
    manifest = json.loads((work / "cdk.out" / "ZipSiteStack.assets.json").read_text())
    sources = {Path(asset["source"]["path"]) for asset in manifest["files"].values()}
    assert SITE in sources, "the app's own folder is served from its source: breakpoints there hit"
    staged = {path.parent for path in sources if STAGED in path.parts}
    assert staged == {work / "cdk.out" / STAGED}
    assert len([path for path in sources if STAGED in path.parts]) == 5, (
        "LogRetention's, BucketDeployment's and the auto-delete provider's handlers, the AWS CLI "
        "layer and Source.data's folder"
    )
    assert all(path.exists() for path in sources if path.is_absolute())
    functions = cloud.service("lambda").functions.values()
    from_staged = sorted(fn.logical_id[:20] for fn in functions if STAGED in Path(fn.code_dir).parts)
    assert from_staged == ["CustomCDKBucketDeplo", "CustomS3AutoDeleteOb", "LogRetentionaae0aa3c"]
