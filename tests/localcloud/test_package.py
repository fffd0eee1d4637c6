"""``localcloud`` as a package of its own: built by pip offline, installed, used without this repository.

The wheel is built from ``distribution/localcloud/`` as ``pip install <folder>`` builds it; its
metadata must pin exactly what the package imports, at requirements.lock's versions, and register
the pytest plugin; a pytest run whose path holds only the unpacked wheel must find the plugin by
its entry point and run a stack in it.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

pytestmark = pytest.mark.localcloud

ROOT = Path(__file__).resolve().parents[2]
#: Modules imported by localcloud but brought by whoever uses it: the CDK by the user's app (only
#: ``cloud_for`` and ``from_stack`` touch it), pytest by pytest (only the plugin imports it).
BROUGHT_BY_THE_USER = {"aws_cdk", "pytest"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir"]
    subprocess.run(  # noqa: S603  # this interpreter's pip on this repository's folder
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(ROOT / "distribution/localcloud"),
        ],
        check=True,
        timeout=120,
    )
    (built,) = out.glob("*.whl")
    assert built.name == "localcloud-0.1.0-py3-none-any.whl"
    return zipfile.ZipFile(built)


def backend(folder: Path):
    """The build backend of ``folder``, loaded as pip loads it (``backend-path``), under its own name."""
    spec = importlib.util.spec_from_file_location(f"backend_{id(folder)}", folder / "build_backend.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def unpacked(wheel: zipfile.ZipFile, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed as pip installs a pure wheel: unpacked into a folder on the path."""
    target = tmp_path_factory.mktemp("site")
    wheel.extractall(target)  # noqa: S202  # the wheel just built here
    return target


def metadata(wheel: zipfile.ZipFile, name: str) -> str:
    return wheel.read(f"localcloud-0.1.0.dist-info/{name}").decode()


def locked() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {normalized(name): version for name, version in pins}


def third_party_imports(wheel: zipfile.ZipFile) -> set[str]:
    """The distributions that provide what the wheel's modules import, other than the stdlib."""
    modules = set()
    for name in wheel.namelist():
        if name.endswith(".py"):
            for node in ast.walk(ast.parse(wheel.read(name))):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    modules -= {*sys.stdlib_module_names, "localcloud", *BROUGHT_BY_THE_USER}
    providers = importlib.metadata.packages_distributions()
    unknown = {module for module in modules if module not in providers}
    assert not unknown, f"imported but installed by no distribution: {unknown}"
    return {normalized(dist) for module in modules for dist in providers[module]}


def test_it_requires_what_it_imports_pinned_as_the_lock_pins_it(wheel):
    requirements = Parser().parsestr(metadata(wheel, "METADATA")).get_all("Requires-Dist")
    parsed = [re.fullmatch(r"([\w.-]+)(?:\[([\w,]+)\])?==([\w.]+)", line) for line in requirements]
    assert all(parsed), f"not an exact pin: {[r for r, p in zip(requirements, parsed, strict=True) if not p]}"
    pins = {normalized(match[1]): match[3] for match in parsed}
    assert {name: locked().get(name) for name in pins} == pins
    assert set(pins) == third_party_imports(wheel)
    # moto's extras: its Step Functions interpreter, Cognito's tokens, SSM (AppConfig) needs YAML.
    extras = next(match[2] for match in parsed if match[1] == "moto")
    assert set(extras.split(",")) == {"cognitoidp", "ssm", "stepfunctions"}


def test_it_registers_the_pytest_plugin(wheel):
    assert metadata(wheel, "entry_points.txt") == "[pytest11]\nlocalcloud = localcloud.pytest_plugin\n"


def test_it_holds_the_package_and_nothing_else(wheel):
    git = ["git", "ls-files", "localcloud"]  # the package's sources, as a clone has them
    tracked = subprocess.run(git, cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()  # noqa: S603
    names = wheel.namelist()
    assert sorted(name for name in names if not name.startswith("localcloud-0.1.0.dist-info/")) == sorted(
        tracked
    )
    assert "localcloud/services/cloudfront/harness.js" in names
    record = [line.split(",") for line in metadata(wheel, "RECORD").splitlines()]
    assert sorted(path for path, _, _ in record) == sorted(names)
    for path, digest, size in record:
        if digest:
            content = wheel.read(path)
            encoded = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={encoded}", len(content)), path


def test_its_sdist_builds_the_same_wheel(wheel, tmp_path):
    name = backend(ROOT / "distribution/localcloud").build_sdist(str(tmp_path))
    with tarfile.open(tmp_path / name) as sdist:
        sdist.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked" / "localcloud-0.1.0"
    assert (unpacked / "localcloud" / "services" / "cloudfront" / "harness.js").is_file()
    rebuilt = backend(unpacked).build_wheel(str(tmp_path))
    assert (tmp_path / rebuilt).read_bytes() == Path(wheel.filename).read_bytes()


TINY_TEST = """
import os
import sys

import localcloud


def test_the_installed_plugin_runs_a_stack(local_cloud_for):
    assert localcloud.__file__.startswith(os.environ["SITE"])
    assert not any(os.path.isfile(os.path.join(entry or ".", "app.py")) for entry in sys.path)
    assert os.environ["CDK_VALIDATION"] == "false"
    cloud = local_cloud_for("cdk.out")
    sqs = cloud.client("sqs")
    sqs.send_message(QueueUrl=cloud.outputs["QueueUrl"], MessageBody="hello")
    messages = sqs.receive_message(QueueUrl=cloud.outputs["QueueUrl"])["Messages"]
    assert [message["Body"] for message in messages] == ["hello"]
    assert cloud.physical_id("Tiny/Inbox") == cloud.outputs["QueueUrl"]
"""


def test_an_app_elsewhere_uses_the_installed_wheel(unpacked, tmp_path):
    """A pytest run with only the wheel on its path finds the plugin by its entry point."""
    (tmp_path / "cdk.out").mkdir()
    template = {
        "Resources": {
            "Inbox": {"Type": "AWS::SQS::Queue", "Metadata": {"aws:cdk:path": "Tiny/Inbox/Resource"}}
        },
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Inbox"}}},
    }
    manifest = {
        "version": "48.0.0",
        "artifacts": {
            "Tiny": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "Tiny.json"}}
        },
    }
    (tmp_path / "cdk.out" / "Tiny.json").write_text(json.dumps(template))
    (tmp_path / "cdk.out" / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "test_tiny.py").write_text(textwrap.dedent(TINY_TEST))
    environment = {
        name: value for name, value in os.environ.items() if name not in {"PYTHONPATH", "CDK_VALIDATION"}
    }
    done = subprocess.run(
        # Other plugins of this environment are the app's business; they only cost time here.
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            "test_tiny.py",
        ],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(unpacked), "SITE": str(unpacked)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
