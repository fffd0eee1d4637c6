"""Who may import whom (docs/architecture.md): runtime code never reaches build-time code."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Folder -> top-level packages its modules must never import.
FORBIDDEN = {
    "functions": {"aws_cdk", "constructs", "cdk_nag", "patterns", "localcloud", "tests"},
    "shared": {"aws_cdk", "constructs", "cdk_nag", "patterns", "localcloud", "tests"},
    "localcloud": {"patterns", "functions", "shared", "scenarios", "tests"},
    "patterns": {"functions", "shared", "localcloud", "tests"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_imports_respect_the_layers(folder):
    breaches = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[folder])
        for path in (ROOT / folder).rglob("*.py")
    }
    assert {path: names for path, names in breaches.items() if names} == {}


# ---------------------------------------------------------------------------------------- the local cloud

LOCALCLOUD = ROOT / "localcloud"
#: The test-facing modules at the package root, which build on everything below them.
FACADE = {"localcloud.cloud", "localcloud.server", "localcloud.__main__", "localcloud"}


#: What a pure helper may import of the package.
LIB_MAY_USE = ("localcloud.lib", "localcloud.errors")


def localcloud_imports(path: Path) -> set[str]:
    """Every ``localcloud`` module ``path`` imports, type-only imports included: ``from a import b``
    counts as ``a`` and as ``a.b``, since ``b`` may be a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, path)
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return {name for name in names if name == "localcloud" or name.startswith("localcloud.")}


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module ``from ... import`` names, relative imports resolved against ``path``'s package."""
    if node.level == 0:
        return node.module or ""
    package = (
        module_name(path).split(".") if path.name == "__init__.py" else module_name(path).split(".")[:-1]
    )
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def owner(module: str) -> str | None:
    """The service a module belongs to (``localcloud.services.sqs.queues`` -> ``sqs``), if any."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["localcloud", "services"] else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def breaches(folder: str, refused: Callable[[str, str], bool]) -> dict[str, list[str]]:
    """``{file: [imports refused]}`` for the modules under ``localcloud/<folder>``."""
    found = {}
    for path in sorted((LOCALCLOUD / folder).rglob("*.py")):
        module = module_name(path)
        bad = sorted(name for name in localcloud_imports(path) if refused(module, name))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_the_kernel_imports_no_service():
    assert breaches("core", lambda _, name: name in FACADE or owner(name) is not None) == {}


def test_no_service_imports_another():
    """Services meet through the kernel (``kernel.service(name)``), never by importing each other;
    ``services/__init__.py``, the list of services, is the one module that names them all."""

    def refused(module: str, name: str) -> bool:
        if module == "localcloud.services":
            return False
        return name in FACADE or (owner(name) is not None and owner(name) != owner(module))

    assert breaches("services", refused) == {}


def test_relative_imports_count_as_the_modules_they_name(tmp_path, monkeypatch):
    """``from ..sqs import queues`` inside a service names the SQS service as plainly as the
    absolute import would."""
    sns = tmp_path / "localcloud" / "services" / "sns"
    sns.mkdir(parents=True)
    (sns / "__init__.py").write_text("from . import topics\n")
    (sns / "topics.py").write_text("from ..sqs import queues\nfrom ...core.kernel import Kernel\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert localcloud_imports(sns / "topics.py") == {
        "localcloud.services.sqs",
        "localcloud.services.sqs.queues",
        "localcloud.core.kernel",
        "localcloud.core.kernel.Kernel",
    }
    assert localcloud_imports(sns / "__init__.py") >= {"localcloud.services.sns.topics"}


def test_lib_imports_neither_the_kernel_nor_services():
    """Pure helpers: they may use one another and raise the package's errors, nothing more."""

    def refused(_: str, name: str) -> bool:
        return not any(name == allowed or name.startswith(f"{allowed}.") for allowed in LIB_MAY_USE)

    assert breaches("lib", refused) == {}


def claims() -> dict[str, list[str]]:
    """Resource type -> the services whose ``SERVICE`` provisions it."""
    from localcloud.services import SERVICES

    claimed: dict[str, list[str]] = {}
    for service in SERVICES:
        for resource_type in service.provisioners:
            claimed.setdefault(resource_type, []).append(service.name)
    return claimed


def test_every_resource_type_is_claimed_by_exactly_one_service(cloud_assembly):
    used = {
        resource["Type"]
        for stack in cloud_assembly.stacks
        for resource in stack.template.get("Resources", {}).values()
    }
    claimed = claims()
    assert {t: claimed.get(t, []) for t in sorted(used) if len(claimed.get(t, [])) != 1} == {}
    assert {t: names for t, names in claimed.items() if len(names) != 1} == {}


def test_every_service_package_is_in_the_list_of_services():
    """A service folder left out of ``services/__init__.py`` would never run: nothing scans for it."""
    import importlib

    from localcloud.services import SERVICES

    folders = sorted(path.parent.name for path in (LOCALCLOUD / "services").glob("*/__init__.py"))
    left_out = [
        folder
        for folder in folders
        if importlib.import_module(f"localcloud.services.{folder}").SERVICE not in SERVICES
    ]
    assert left_out == []


def test_services_use_only_the_kernels_public_interface():
    """``cloud._x`` or ``kernel._x`` in a service would couple it to the kernel's insides again."""

    def private_reads(path: Path) -> list[str]:
        found = []
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
                continue
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
            if name in {"cloud", "kernel"} and not node.attr.startswith("__"):
                found.append(f"{name}.{node.attr} (line {node.lineno})")
        return found

    reads = {
        str(path.relative_to(ROOT)): private_reads(path)
        for path in sorted((LOCALCLOUD / "services").rglob("*.py"))
    }
    assert {path: found for path, found in reads.items() if found} == {}
