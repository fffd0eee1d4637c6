"""A layer built for another machine: its native distributions stood in for by this machine's installs.

A layer built for a function's architecture (pip's ``--platform`` wheels: an arm64 function's layer
holds aarch64 shared objects) cannot be imported by a process on another machine type. Offline,
each distribution of such a layer whose native code is for another machine is left out of the
function's path, so its import finds the distribution of the same name installed here; only the
same version may stand in. A different version, or none installed, is refused when the stack
starts, naming the package and both versions: the tests would otherwise run other code than the
layer ships, which AWS would never do. So is a top-level folder such a distribution shares with
another of the layer (a namespace package), which leaving out would take the other's files too.

A distribution is what its ``*.dist-info`` says: ``METADATA`` names it and its version, ``RECORD``
lists its files; a shared object's machine is read from its ELF header, as the loader reads it.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import os
import platform
import re
import sys
import tempfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from localcloud.core.assets import _private as private_folder
from localcloud.errors import LocalCloudError

#: ELF ``e_machine`` values of the machines Lambda and developers run on.
ELF_MACHINES = {0x03: "x86", 0x3E: "x86_64", 0x28: "arm", 0xB7: "aarch64", 0xF3: "riscv64", 0x15: "ppc64"}
#: Files the loader maps: extension modules and the libraries wheels vendor (``libjpeg.so.62.4.0``).
NATIVE = re.compile(r"\.(so|pyd|dylib)(\.[0-9.]+)?$")
#: Where the views of such layers are made: a folder of this user's only, as for extracted zips
#: (a view another user of the machine planted would run their code as this user's functions).
VIEWS = Path(tempfile.gettempdir(), f"localcloud-layer-views-{getattr(os, 'getuid', lambda: 'user')()}")
#: Entries two distributions may both list without sharing code: scripts outside the folder
#: (``../../bin/...``) and top-level modules' bytecode caches.
NOT_SHARED_CODE = frozenset({"..", "__pycache__"})
#: ``platform.machine()`` spellings of the ELF names, for an interpreter that is not an ELF file.
MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "i686": "x86", "i386": "x86"}


def machine_of(path: Path) -> str | None:
    """The machine ``path``'s native code is for, from its header; None when it is not native code."""
    try:
        with path.open("rb") as file:
            header = file.read(20)
    except OSError:
        return None
    if header[:4] == b"\x7fELF" and len(header) == 20:
        number = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
        return ELF_MACHINES.get(number, f"ELF machine {number:#x}")
    if header[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "macOS"
    if header[:2] == b"MZ":
        return "Windows"
    return None


def this_machine() -> str:
    """The machine this interpreter runs on, named as :func:`machine_of` names it."""
    found = machine_of(Path(sys.executable).resolve())
    if found is not None:
        return found
    machine = platform.machine().lower()
    return MACHINE_ALIASES.get(machine, machine)


@dataclass(frozen=True)
class LayerDistribution:
    """One distribution a layer ships: its name and version, its top-level entries, and the machine
    its native code is for when that is not this one."""

    name: str
    version: str
    entries: frozenset[str]
    foreign_machine: str | None


def distributions(python_dir: Path, here: str | None = None) -> list[LayerDistribution]:
    """Every distribution installed in a layer's ``python/`` folder, read from its ``*.dist-info``."""
    here = here or this_machine()
    found = []
    for info in sorted(python_dir.glob("*.dist-info")):
        metadata = HeaderParser().parsestr((info / "METADATA").read_text(errors="replace"))
        record = info / "RECORD"
        if not record.is_file():
            raise LocalCloudError(f"{info}: no RECORD, so the files of {metadata['Name']} are unknown")
        with record.open(newline="") as file:
            files = [row[0] for row in csv.reader(file) if row and row[0]]
        machines = {machine_of(python_dir / name) for name in files if NATIVE.search(name)}
        foreign = sorted(m for m in machines if m is not None and m != here)
        found.append(
            LayerDistribution(
                name=metadata["Name"],
                version=metadata["Version"],
                entries=frozenset({PurePosixPath(name).parts[0] for name in files} | {info.name}),
                foreign_machine=foreign[0] if foreign else None,
            )
        )
    return found


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def runnable_layer(layer_dir: Path, where: str) -> Path:
    """``layer_dir`` as this process can run it: itself, or a folder whose ``python/`` holds the same
    entries minus the distributions built for another machine, which the installed ones stand in for.

    :raises LocalCloudError: a distribution built for another machine that is not installed here in
        the same version; ``where`` names the layer in the message.
    """
    python = layer_dir / "python"
    if not python.is_dir():
        return layer_dir
    here = this_machine()
    found = distributions(python, here)
    foreign = [d for d in found if d.foreign_machine is not None]
    if not foreign:
        return layer_dir
    _refuse_shared_entries(foreign, [d for d in found if d.foreign_machine is None], where)
    for dist in foreign:
        installed = _installed_version(dist.name)
        if installed != dist.version:
            found = f"{dist.name} {installed} is installed" if installed else f"{dist.name} is not installed"
            raise LocalCloudError(
                f"{where}: the layer ships {dist.name} {dist.version} built for {dist.foreign_machine}, "
                f"which this {here} machine cannot load; the local cloud runs the installed {dist.name} "
                f"in its place only in the same version, and {found}: install {dist.name}=={dist.version}, "
                f"or build the layer from the version installed here"
            )
    left_out = frozenset().union(*(d.entries for d in foreign))
    kept = sorted(entry.name for entry in python.iterdir() if entry.name not in left_out)
    digest = hashlib.sha256("\0".join([str(python.resolve()), *kept]).encode()).hexdigest()[:16]
    view = private_folder(VIEWS) / digest
    if not view.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f"{digest}.", dir=VIEWS))
        (staging / "python").mkdir()
        for name in kept:
            (staging / "python" / name).symlink_to(python.resolve() / name)
        try:
            os.rename(staging, view)
        except OSError:  # another process made the same view first
            _remove(staging)
    return view


def _refuse_shared_entries(
    foreign: list[LayerDistribution], kept: list[LayerDistribution], where: str
) -> None:
    """A top-level folder a left-out distribution shares with a kept one (a namespace package) would
    take the kept one's files with it: its import would find an installed copy, or nothing."""
    for left_out in foreign:
        for other in kept:
            shared = sorted(left_out.entries & other.entries - NOT_SHARED_CODE)
            if shared:
                raise LocalCloudError(
                    f"{where}: {', '.join(shared)} holds both {left_out.name} {left_out.version} built "
                    f"for {left_out.foreign_machine}, which the local cloud leaves out for the installed "
                    f"copy, and {other.name} {other.version}, which it cannot leave out with it: build "
                    f"{other.name} into a layer of its own, or build the layer for this machine"
                )


def _remove(staging: Path) -> None:
    for link in (staging / "python").iterdir():
        link.unlink()
    (staging / "python").rmdir()
    staging.rmdir()
