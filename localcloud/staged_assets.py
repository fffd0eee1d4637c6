"""Assets an unstaged synthesis cannot keep, staged by a second synthesis (for ``serve``).

``serve`` synthesizes the app unstaged (``cdk synth --no-staging``), so each function runs from its
source folder and a debugger's breakpoints there hit. The assembly then names each asset by its
source path, and some sources are temporary folders of the synthesis that are gone once it ends:

- CDK's own handler code (``log_retention``, ``BucketDeployment``) and the ``AwsCliLayer`` zip,
  which the CDK reads from the copy of itself jsii extracts into a folder of the app's process,
  removed when that process exits;
- ``Source.data`` / ``Source.json_data`` folders and custom resource providers' code
  (``auto_delete_objects``), which the CDK writes into a temporary folder and removes as soon as
  the asset is (not) staged, while the app still runs.

Where such an asset is missing, the app is synthesized once more with staging, into a folder inside
the assembly, and the unstaged assembly is pointed at the staged copies of just those assets,
matched by asset hash (staging does not change it); the project's own folders stay unstaged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: The folder, inside the unstaged assembly, the staged synthesis writes to.
STAGED = "localcloud.staged"

#: Staged copies by asset hash, reused by later synthesis in this process (``serve --watch``).
_staged: dict[str, Path] = {}


def restage_lost_assets(outdir: str | Path, synthesize_staged: Callable[[str], object]) -> dict[str, Path]:
    """Point the assembly in ``outdir`` at staged copies of its assets whose source folder or file
    is gone, running ``synthesize_staged(folder)`` (the app, with staging) only for hashes not
    staged before; the source paths it replaced, with their copies."""
    outdir = Path(outdir)
    if not (outdir / "manifest.json").is_file():  # the app wrote no assembly: the loader will say so
        return {}
    lost = {
        asset_id: path
        for _, files in _asset_manifests(outdir)
        for asset_id, path in _sources(files).items()
        if path.is_absolute() and not path.exists()
    }
    if not lost:
        return {}
    if any(asset_id not in _staged or not _staged[asset_id].exists() for asset_id in lost):
        staged = outdir / STAGED
        synthesize_staged(str(staged))
        for manifest, files in _asset_manifests(staged):
            _staged.update((i, manifest.parent / p) for i, p in _sources(files).items())
    moved = {str(path): _staged[asset_id] for asset_id, path in lost.items() if asset_id in _staged}
    for manifest, files in _asset_manifests(outdir):
        for asset in files["files"].values():
            asset["source"]["path"] = str(moved.get(asset["source"]["path"], asset["source"]["path"]))
        manifest.write_text(json.dumps(files, indent=1))
    for template_file in _templates(outdir):
        template = json.loads(template_file.read_text())
        for resource in template.get("Resources", {}).values():
            metadata = resource.get("Metadata", {})
            if metadata.get("aws:asset:path") in moved:
                metadata["aws:asset:path"] = str(moved[metadata["aws:asset:path"]])
        template_file.write_text(json.dumps(template, indent=1))
    return moved


def _sources(files: dict[str, Any]) -> dict[str, Path]:
    return {asset_id: Path(asset["source"]["path"]) for asset_id, asset in files.get("files", {}).items()}


def _artifacts(directory: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Each artifact of the assembly in ``directory`` and of its nested assemblies (stages), with
    the directory its paths are relative to."""
    manifest = json.loads((directory / "manifest.json").read_text())
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") == "cdk:cloud-assembly":
            yield from _artifacts(directory / artifact["properties"]["directoryName"])
        else:
            yield directory, artifact


def _asset_manifests(directory: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for folder, artifact in _artifacts(directory):
        if artifact.get("type") == "cdk:asset-manifest":
            path = folder / artifact["properties"]["file"]
            yield path, json.loads(path.read_text())


def _templates(directory: Path) -> Iterator[Path]:
    for folder, artifact in _artifacts(directory):
        if artifact.get("type") == "aws:cloudformation:stack":
            yield folder / artifact["properties"]["templateFile"]
