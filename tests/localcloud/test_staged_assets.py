"""An unstaged assembly whose assets were temporary folders of the synthesis is pointed at staged
copies of just those, made by one staged synthesis, reused for later ones (``serve --watch``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud import LocalCloudError, staged_assets
from localcloud.core.assembly import load_stack
from localcloud.staged_assets import STAGED, restage_lost_assets

pytestmark = pytest.mark.localcloud


@pytest.fixture(autouse=True)
def nothing_staged_yet(monkeypatch):
    monkeypatch.setattr(staged_assets, "_staged", {})


def write_assembly(directory: Path, sources: dict[str, str], *, stage: str | None = None) -> Path:
    """A cloud assembly with one stack whose function ``Fn`` is the asset ``fn``; inside a nested
    assembly (a ``Stage``) when ``stage`` names one."""
    inner = directory / f"assembly-{stage}" if stage else directory
    inner.mkdir(parents=True, exist_ok=True)
    files = {i: {"source": {"path": p, "packaging": "zip"}, "destinations": {}} for i, p in sources.items()}
    (inner / "S.assets.json").write_text(json.dumps({"version": "1", "files": files}))
    function = {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": sources.get("fn")}}
    resources = {"Fn": function} if "fn" in sources else {}
    (inner / "S.template.json").write_text(json.dumps({"Resources": resources}))
    artifacts = {
        "S.assets": {"type": "cdk:asset-manifest", "properties": {"file": "S.assets.json"}},
        "S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "S.template.json"}},
    }
    (inner / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    if stage:
        nested = {"type": "cdk:cloud-assembly", "properties": {"directoryName": f"assembly-{stage}"}}
        (directory / "manifest.json").write_text(json.dumps({"artifacts": {stage: nested}}))
    return inner


class StagedSynth:
    """The app synthesized with staging: each asset id's folder ``asset.<id>`` holding ``ids[id]``."""

    def __init__(self, ids: dict[str, str]) -> None:
        self.ids, self.into = ids, []

    def __call__(self, into: str) -> None:
        self.into.append(Path(into))
        sources = {}
        for asset_id, text in self.ids.items():
            (Path(into) / f"asset.{asset_id}").mkdir(parents=True)
            (Path(into) / f"asset.{asset_id}" / "index.py").write_text(text)
            sources[asset_id] = f"asset.{asset_id}"
        write_assembly(Path(into), sources)


@pytest.mark.parametrize("stage", [None, "Dev"])
def test_only_the_lost_assets_point_at_staged_copies(tmp_path, stage):
    project = tmp_path / "project" / "site"
    project.mkdir(parents=True)
    gone = str(tmp_path / "jsii-kernel-x" / "handler")
    outdir = tmp_path / "out"
    inner = write_assembly(outdir, {"fn": gone, "site": str(project), "t": "S.template.json"}, stage=stage)
    staged = StagedSynth({"fn": "HANDLER", "site": "SITE COPY"})

    moved = restage_lost_assets(outdir, staged)

    assert staged.into == [outdir / STAGED]
    copy = outdir / STAGED / "asset.fn"
    assert moved == {gone: copy}
    sources = json.loads((inner / "S.assets.json").read_text())["files"]
    assert {i: a["source"]["path"] for i, a in sources.items()} == {
        "fn": str(copy),
        "site": str(project),  # the project's folder stays unstaged: a debugger's breakpoints hit
        "t": "S.template.json",
    }
    assert (load_stack(inner, "S").asset_path("Fn") / "index.py").read_text() == "HANDLER"


def test_a_later_synthesis_reuses_the_staged_copies_without_synthesizing_again(tmp_path):
    gone = str(tmp_path / "s3-deploymentAbc")
    first = StagedSynth({"fn": "DATA"})
    restage_lost_assets(write_assembly(tmp_path / "one", {"fn": gone}), first)
    again = StagedSynth({"fn": "DATA"})
    moved = restage_lost_assets(write_assembly(tmp_path / "two", {"fn": gone}), again)
    assert again.into == [] and moved == {gone: tmp_path / "one" / STAGED / "asset.fn"}


def test_an_assembly_with_nothing_lost_is_left_as_it_is(tmp_path):
    project = tmp_path / "functions"
    project.mkdir()
    outdir = write_assembly(tmp_path / "out", {"fn": str(project)})
    before = (outdir / "S.template.json").read_text()
    staged = StagedSynth({"fn": "X"})
    assert restage_lost_assets(outdir, staged) == {}
    assert staged.into == [] and (outdir / "S.template.json").read_text() == before


def test_a_lost_asset_the_staged_synthesis_does_not_make_stays_a_clear_error(tmp_path):
    """An app that synthesizes a different asset each run (a timestamp in it) cannot be matched."""
    gone = str(tmp_path / "cdk-custom-resourceXyz")
    outdir = write_assembly(tmp_path / "out", {"fn": gone})
    assert restage_lost_assets(outdir, StagedSynth({"other": "X"})) == {}
    with pytest.raises(LocalCloudError, match=r"Fn: asset .*cdk-custom-resourceXyz does not exist: it was"):
        load_stack(outdir, "S").asset_path("Fn")
