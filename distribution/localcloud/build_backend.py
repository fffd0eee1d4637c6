"""A PEP 517 build backend for the ``localcloud`` package, on the standard library alone.

Why not setuptools: the package's source is the repository's ``localcloud/`` folder, two levels
up, which setuptools will not package from outside the project folder; and with no build
requirement, ``pip install`` of this folder works offline and the suite can build the wheel with
nothing installed. The wheel holds ``localcloud/`` (every file but caches: ``harness.js`` too) and
its metadata, read from ``pyproject.toml``; it is the same, byte for byte, for the same sources.
An sdist carries ``localcloud/`` beside this file, and builds from there.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TAG = "py3-none-any"
#: Zip and tar entries get this time, so a build repeats exactly (zip cannot go before 1980).
EPOCH = (1980, 1, 1, 0, 0, 0)


def _project() -> dict[str, Any]:
    return tomllib.loads((HERE / "pyproject.toml").read_text())["project"]


def _source() -> Path:
    """``localcloud/`` beside this file (an unpacked sdist), else the repository's."""
    for candidate in (HERE / "localcloud", HERE.parents[1] / "localcloud"):
        if (candidate / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(f"no localcloud package beside {HERE} or two folders up")


def package_files() -> list[tuple[str, Path]]:
    """``(archive name, file)`` for every file of the package but bytecode caches and dotfiles."""
    source = _source()
    files = []
    for path in sorted(source.rglob("*")):
        parts = path.relative_to(source).parts
        if not path.is_file() or path.suffix == ".pyc" or "__pycache__" in parts:
            continue
        if any(part.startswith(".") for part in parts):
            continue
        files.append(("/".join(("localcloud", *parts)), path))
    return files


def _dist_name() -> str:
    project = _project()
    return f"{project['name'].replace('-', '_')}-{project['version']}"


def _metadata() -> str:
    project = _project()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
        *(f"Requires-Dist: {requirement}" for requirement in project.get("dependencies", [])),
    ]
    return "\n".join(lines) + "\n"


def _entry_points() -> str:
    sections = []
    for group, entries in _project().get("entry-points", {}).items():
        sections.append(f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items()))
    return "\n".join(sections)


def _dist_info() -> dict[str, bytes]:
    return {
        "METADATA": _metadata().encode(),
        "WHEEL": f"Wheel-Version: 1.0\nGenerator: build_backend\nRoot-Is-Purelib: true\nTag: {TAG}\n".encode(),
        "entry_points.txt": _entry_points().encode(),
        "top_level.txt": b"localcloud\n",
    }


# ---------------------------------------------------------------------------------------- PEP 517


def get_requires_for_build_wheel(config_settings: Any = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: Any = None) -> list[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Any = None) -> str:
    dist_info = f"{_dist_name()}.dist-info"
    folder = Path(metadata_directory) / dist_info
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in _dist_info().items():
        (folder / name).write_bytes(content)
    return dist_info


def build_wheel(wheel_directory: str, config_settings: Any = None, metadata_directory: Any = None) -> str:
    name = f"{_dist_name()}-{TAG}.whl"
    dist_info = f"{_dist_name()}.dist-info"
    entries = [(arcname, path.read_bytes()) for arcname, path in package_files()]
    entries += [(f"{dist_info}/{file}", content) for file, content in _dist_info().items()]
    record = [f"{arcname},sha256={_digest(content)},{len(content)}" for arcname, content in entries]
    record.append(f"{dist_info}/RECORD,,")
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(Path(wheel_directory) / name, "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname, content in entries:
            info = zipfile.ZipInfo(arcname, EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, content)
    return name


def build_sdist(sdist_directory: str, config_settings: Any = None) -> str:
    root = _dist_name()
    name = f"{root}.tar.gz"
    entries = [
        ("pyproject.toml", (HERE / "pyproject.toml").read_bytes()),
        ("build_backend.py", Path(__file__).read_bytes()),
        ("PKG-INFO", _metadata().encode()),
        *((arcname, path.read_bytes()) for arcname, path in package_files()),
    ]
    with tarfile.open(Path(sdist_directory) / name, "w:gz", format=tarfile.PAX_FORMAT) as sdist:
        for arcname, content in entries:
            info = tarfile.TarInfo(f"{root}/{arcname}")
            info.size, info.mode, info.mtime = len(content), 0o644, 315532800
            sdist.addfile(info, io.BytesIO(content))
    return name


def _digest(content: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
