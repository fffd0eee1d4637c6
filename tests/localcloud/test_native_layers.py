"""A layer built for another machine runs offline only on the installed distribution of the same
version; any other version, or none, is refused at start, naming the package and both versions."""

from __future__ import annotations

import importlib.metadata
import re

import pytest

from localcloud import LocalCloudError
from localcloud.services.lambda_.native_layers import distributions, machine_of, runnable_layer, this_machine

pytestmark = pytest.mark.localcloud

ELF_NUMBERS = {"x86_64": 0x3E, "aarch64": 0xB7}
OTHER = "aarch64" if this_machine() != "aarch64" else "x86_64"
#: A real installed distribution (pinned in requirements.lock) the hand-made layer claims to ship.
INSTALLED = "pillow"


def elf(machine: str) -> bytes:
    """The first bytes of a 64-bit little-endian shared object for ``machine``."""
    return b"\x7fELF\x02\x01\x01" + bytes(11) + ELF_NUMBERS[machine].to_bytes(2, "little") + bytes(44)


def make_layer(root, name, version, *, machine, package="PIL"):
    """A layer folder as ``pip install --target python/`` leaves it: one distribution with an
    extension module and a vendored library, and a pure module of the layer's own beside it."""
    python = root / "python"
    (python / package).mkdir(parents=True)
    (python / package / "__init__.py").write_text("raise ImportError('the layer copy was imported')\n")
    (python / package / "_imaging.cpython-313-x-linux-gnu.so").write_bytes(elf(machine))
    (python / f"{name}.libs").mkdir()
    (python / f"{name}.libs" / "libjpeg-1a2b.so.62.4.0").write_bytes(elf(machine))
    info = python / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n\nbody\n")
    files = [
        f"{package}/__init__.py",
        f"{package}/_imaging.cpython-313-x-linux-gnu.so",
        f"{name}.libs/libjpeg-1a2b.so.62.4.0",
        f"{info.name}/METADATA",
        f"{info.name}/RECORD",
    ]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    (python / "helpers.py").write_text("VALUE = 1\n")
    return root


def test_the_machine_is_read_from_the_elf_header(tmp_path):
    (tmp_path / "a.so").write_bytes(elf("aarch64"))
    (tmp_path / "b.so").write_bytes(elf("x86_64"))
    (tmp_path / "c.so").write_bytes(b"not native code at all")
    assert [machine_of(tmp_path / n) for n in ("a.so", "b.so", "c.so")] == ["aarch64", "x86_64", None]


def test_a_foreign_distribution_is_left_out_so_the_installed_same_version_stands_in(tmp_path):
    version = importlib.metadata.version(INSTALLED)
    layer = make_layer(tmp_path / "layer", INSTALLED, version, machine=OTHER)
    [dist] = distributions(layer / "python")
    assert (dist.name, dist.version, dist.foreign_machine) == (INSTALLED, version, OTHER)

    runnable = runnable_layer(layer, "ImagingLayer")

    assert runnable != layer
    assert sorted(p.name for p in (runnable / "python").iterdir()) == ["helpers.py"]
    assert (runnable / "python" / "helpers.py").read_text() == "VALUE = 1\n"
    assert runnable_layer(layer, "ImagingLayer") == runnable  # one view per layer content


def test_another_version_installed_is_refused_naming_the_package_and_both_versions(tmp_path):
    installed = importlib.metadata.version(INSTALLED)
    layer = make_layer(tmp_path / "layer", INSTALLED, "1.2.3", machine=OTHER)
    with pytest.raises(LocalCloudError) as refused:
        runnable_layer(layer, "ImagingLayer")
    message = str(refused.value)
    assert message.startswith("ImagingLayer: the layer ships pillow 1.2.3 built for " + OTHER)
    assert f"pillow {installed} is installed: install pillow==1.2.3" in message


def test_a_distribution_not_installed_here_is_refused(tmp_path):
    layer = make_layer(tmp_path / "layer", "imagingcore-nowhere", "2.0", machine=OTHER, package="imgcore")
    with pytest.raises(
        LocalCloudError,
        match=re.escape("imagingcore-nowhere is not installed: install imagingcore-nowhere==2.0"),
    ):
        runnable_layer(layer, "ImagingLayer")


def test_native_code_for_this_machine_and_pure_layers_run_as_they_are(tmp_path):
    native_here = make_layer(tmp_path / "here", "imagingcore-nowhere", "2.0", machine=this_machine())
    pure = tmp_path / "pure"
    (pure / "python" / "shared").mkdir(parents=True)
    assert runnable_layer(native_here, "Here") == native_here
    assert runnable_layer(pure, "Pure") == pure
    assert runnable_layer(tmp_path / "no-python-folder", "Bare") == tmp_path / "no-python-folder"


def test_a_folder_a_foreign_distribution_shares_with_another_is_refused_not_left_out_for_both(tmp_path):
    """Namespace packages (``google/`` of protobuf and of googleapis-common-protos): leaving out the
    foreign one's top-level folder would leave out the other's files too, so the function would run
    an installed copy of it, or fail to import it, instead of what the layer ships."""
    version = importlib.metadata.version(INSTALLED)
    layer = make_layer(tmp_path / "layer", INSTALLED, version, machine=OTHER)
    python = layer / "python"
    (python / "PIL" / "extra_pure.py").write_text("VALUE = 2\n")
    info = python / "pil-extras-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: pil-extras\nVersion: 1.0\n\nbody\n")
    (info / "RECORD").write_text(f"PIL/extra_pure.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    with pytest.raises(LocalCloudError, match=r"ImagingLayer: PIL holds both pillow .* and pil-extras 1\.0"):
        runnable_layer(layer, "ImagingLayer")
    common = "../../bin/tool,,\n__pycache__/helpers.cpython-313.pyc,,\n"
    (info / "RECORD").write_text(f"pil_extras.py,,\n{common}{info.name}/METADATA,,\n")
    pillow_record = python / f"{INSTALLED}-{version}.dist-info" / "RECORD"
    pillow_record.write_text(pillow_record.read_text() + common)
    assert runnable_layer(layer, "ImagingLayer") != layer, "scripts and bytecode caches share no code"
