"""Assets that are not a folder: zip files (``Code.from_asset("build/function.zip")``, zip layers such
as CDK's ``AwsCliLayer``), and the S3 objects a template names by bucket and key, which the cloud
assembly's asset manifests map back to files or folders on disk.

A zip is extracted once into a folder named by its content, which every later cloud in the
process reuses (keyed on the zip's path, size and modification time, so it is not hashed again),
as do later processes (the folder stays in the temporary directory).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from localcloud.errors import LocalCloudError

#: Where zips are extracted: one folder per content hash, in a folder of this user's only (code
#: another user of the machine planted in a shared one would run as this user's functions).
EXTRACTED = Path(tempfile.gettempdir(), f"localcloud-zip-assets-{getattr(os, 'getuid', lambda: 'user')()}")

#: Lambda's limit on a function's or layer's code, unzipped ("Unzipped size must be smaller than
#: 262144000 bytes"); also what keeps a zip bomb from filling the disk.
UNZIPPED_LIMIT = 262_144_000

_extracted: dict[tuple[str, int, int], Path] = {}


def extracted(zip_path: Path, what: str) -> Path:
    """The folder holding ``zip_path``'s files, extracted on first use; ``what`` names the resource."""
    stat = zip_path.stat()
    key = (str(zip_path.resolve()), stat.st_size, stat.st_mtime_ns)
    folder = _extracted.get(key)
    if folder is None or not folder.is_dir():
        folder = _extract(zip_path, what)
        _extracted[key] = folder
    return folder


def _extract(zip_path: Path, what: str) -> Path:
    digest = hashlib.sha256()
    with zip_path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    folder = _private(EXTRACTED) / digest.hexdigest()[:32]
    if folder.is_dir():
        return folder
    with open_zip(zip_path, what) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
        if unzipped >= UNZIPPED_LIMIT:
            raise LocalCloudError(
                f"{what}: {zip_path} unzips to {unzipped} bytes; Lambda refuses it: Unzipped size must "
                f"be smaller than {UNZIPPED_LIMIT} bytes"
            )
        staging = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=EXTRACTED))
        archive.extractall(staging)
    try:
        staging.rename(folder)  # whole or not at all, whoever else extracts the same zip meanwhile
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _private(root: Path) -> Path:
    """``root``, made if need be, refused unless it is a folder of this user's that no one else may write."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = root.lstat()
    owner = getattr(os, "getuid", lambda: info.st_uid)()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != owner or info.st_mode & 0o022:
        raise LocalCloudError(
            f"{root} is not a folder of this user's that only this user may write, so zip assets "
            "extracted there could be replaced by someone else's code: remove it"
        )
    return root


def missing(path: Path) -> str:
    """Why an asset is not where the assembly says, with the likely cause when it was temporary."""
    if path.is_absolute() and Path(tempfile.gettempdir()).resolve() in path.resolve().parents:
        return (
            f"asset {path} does not exist: it was a temporary folder of the synthesis, which the CDK "
            "removes once it has staged it (Source.data, custom resource providers' code) or when "
            "the app's process ends (CDK's own handlers); an unstaged synthesis (`cdk synth "
            "--no-staging`, context aws:cdk:disable-asset-staging) keeps only its path, even in "
            "this process: synthesize with staged assets (`python -m localcloud serve` stages "
            "just these itself)"
        )
    return f"asset {path} does not exist"


def open_zip(zip_path: Path | object, what: str) -> zipfile.ZipFile:
    """The archive, refused if it is not a zip or names a file outside the folder it extracts to."""
    try:
        archive = zipfile.ZipFile(zip_path)  # type: ignore[arg-type]
    except zipfile.BadZipFile:
        raise LocalCloudError(f"{what}: {zip_path} is not a zip file") from None
    for name in archive.namelist():
        parts = PurePosixPath(name.replace("\\", "/"))
        if parts.is_absolute() or ".." in parts.parts:
            archive.close()
            raise LocalCloudError(f"{what}: {zip_path} holds {name!r}, outside the folder it extracts to")
    return archive


def object_asset(directory: Path, bucket: str, key: str, pseudo: dict[str, str]) -> tuple[Path, str] | None:
    """The file or folder the assembly in ``directory`` publishes as ``s3://bucket/key``, with its
    packaging (``file``: the file as is; ``zip``: the folder, zipped on publishing); None if no
    asset manifest names that object. ``pseudo`` fills ``${AWS::AccountId}`` and its kin."""
    for asset in _file_assets(directory):
        for destination in asset["destinations"].values():
            if destination["objectKey"] != key or _substituted(destination["bucketName"], pseudo) != bucket:
                continue
            path = Path(asset["source"]["path"])
            return (path if path.is_absolute() else directory / path), asset["source"].get(
                "packaging", "file"
            )
    return None


@functools.cache
def _file_assets(directory: Path) -> tuple[dict, ...]:
    manifest = json.loads((directory / "manifest.json").read_text())
    assets: list[dict] = []
    for artifact in manifest["artifacts"].values():
        if artifact.get("type") == "cdk:asset-manifest":
            listed = json.loads((directory / artifact["properties"]["file"]).read_text())
            assets.extend(listed.get("files", {}).values())
    return tuple(assets)


def _substituted(text: str, pseudo: dict[str, str]) -> str:
    for name, value in pseudo.items():
        text = text.replace("${" + name + "}", value)
    return text
