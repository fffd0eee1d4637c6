"""Performance figures for the project: synth time, handler cold init, asset sizes, test-suite time.

Run from the repository root (``make bench`` also rewrites the figures in docs/benchmarks.md)::

    python benchmarks/bench.py [--skip-tests] [--markdown docs/benchmarks.md]

Start-up cost is what is measured, so every timing runs in a fresh subprocess. The script prints
each figure next to its target and asserts nothing: timings on a small shared machine are too noisy
to fail a build on, so the goals are checked by reading the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python benchmarks/bench.py``: the registry must be importable
    sys.path.insert(0, str(ROOT))

from benchmarks.markdown import write_between  # noqa: E402
from patterns.registry import PATTERNS  # noqa: E402

FUNCTIONS_DIR = ROOT / "functions"
HELLO_WORLD_DIR = ROOT / "benchmarks" / "hello_world"

SYNTH_RUNS = 5
INIT_RUNS = 5
SYNTH_RATIO_TARGET = 3.0
INIT_RATIO_TARGET = 1.4
ASSET_BYTES_TARGET = 100_000

REGION = "us-east-1"
ACCOUNT = "123456789012"
#: Credentials and region that cannot reach a real account; handlers build their clients with them.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
MARK = "BENCH_SECONDS"
TEST_COMMAND = ("-m", "pytest", "-q", "-n", "auto", "--dist", "loadfile")
TEST_SUMMARY = re.compile(r"\b(passed|failed|errors?|no tests ran)\b.* in [\d.]+s")
MARKDOWN_BEGIN = "<!-- bench:begin (written by benchmarks/bench.py --markdown) -->"
MARKDOWN_END = "<!-- bench:end -->"


def timed_script(body: str, setup: str = "") -> str:
    """Source for ``python -c`` that times ``body`` alone, so interpreter start is left out."""
    return "\n".join(
        [
            "import sys, time",
            setup,
            "_start = time.perf_counter()",
            body,
            f"print({MARK!r}, time.perf_counter() - _start)",
        ]
    )


SYNTH_ALL = timed_script(
    "from patterns.stack import build_app\nbuild_app(builtin_validation=False, outdir=sys.argv[1]).synth()"
)
SYNTH_EMPTY = timed_script(
    "from aws_cdk import App, Stack\n"
    "app = App(builtin_cloud_formation_validation=False, outdir=sys.argv[1])\n"
    "Stack(app, 'EmptyStack')\n"
    "app.synth()"
)
#: The same empty stack in the project's app (feature flags, cdk-nag packs): what the patterns add.
SYNTH_EMPTY_PROJECT_APP = timed_script(
    "from aws_cdk import Stack\n"
    "from patterns.stack import new_app\n"
    "app = new_app(builtin_validation=False, outdir=sys.argv[1])\n"
    "Stack(app, 'EmptyStack')\n"
    "app.synth()"
)
IMPORT_MODULE = timed_script("importlib.import_module(sys.argv[1])", setup="import importlib")


# --------------------------------------------------------------------------------------------- running


def run_timed(script: str, *args: str, env: Mapping[str, str]) -> float:
    """Run ``script`` in a fresh interpreter and return the seconds it measured itself."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            return float(line.split()[1])
    raise RuntimeError(f"benchmark run {args} exited {done.returncode}:\n{done.stderr[-4000:]}")


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- (a) synth


@dataclass
class SynthTimes:
    """Median seconds of each app, and the last full cloud assembly (reused for the other figures)."""

    full: float
    empty: float
    empty_project_app: float
    assembly: Path


def measure_synth(workdir: Path) -> SynthTimes:
    """Time every stack, one empty stack, and one empty stack in the project's app.

    The runs alternate between the apps so that machine noise falls on all alike; each run writes
    to a fresh output folder, as a first ``cdk synth`` does.
    """
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    scripts = {"all": SYNTH_ALL, "empty": SYNTH_EMPTY, "empty-project-app": SYNTH_EMPTY_PROJECT_APP}
    samples: dict[str, list[float]] = {name: [] for name in scripts}
    for run in range(SYNTH_RUNS):
        for name, script in scripts.items():
            samples[name].append(run_timed(script, str(workdir / f"{name}-{run}"), env=env))
    full, empty, project = (statistics.median(samples[name]) for name in scripts)
    return SynthTimes(full, empty, project, workdir / f"all-{SYNTH_RUNS - 1}")


# --------------------------------------------------------------------------------------------- functions


@dataclass
class Function:
    """A handler as Lambda would load it: its code folder, layers on the path and its environment."""

    label: str
    source: str
    handler: str
    code: Path
    layers: tuple[Path, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return handler_module(self.handler)

    def process_env(self) -> dict[str, str]:
        """Only what a Lambda process has: the function's variables, fake credentials, no config files.

        Bytecode is not written: Lambda's code folder is read-only, and the assets stay as shipped.
        """
        return {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join(str(p) for p in (self.code, *self.layers)),
            "PYTHONDONTWRITEBYTECODE": "1",
            **FAKE_AWS,
            **self.environment,
        }


def handler_module(handler: str) -> str:
    """``items.handler`` -> ``items``: the module Lambda imports at cold start."""
    return handler.rsplit(".", 1)[0]


HELLO_WORLD = Function("hello world (baseline)", "benchmarks/hello_world", "handler.handler", HELLO_WORLD_DIR)


def stack_templates(assembly: Path) -> dict[str, dict[str, Any]]:
    """Each stack's template, found through the cloud assembly's manifest."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    return {
        name: json.loads((assembly / artifact["properties"]["templateFile"]).read_text())
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


#: CDK's own singleton functions (inline code that runs at deploy time), not the patterns' handlers.
CDK_BUILT_IN_HANDLERS = ("BucketNotificationsHandler",)


def discover_functions(assembly: Path) -> tuple[list[Function], list[str]]:
    """Python functions built from a code asset, once per (asset, handler); and the others' labels."""
    found: dict[tuple[Path, str], Function] = {}
    skipped: list[str] = []
    for stack, template in stack_templates(assembly).items():
        resources = template.get("Resources", {})
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Lambda::Function" or _cdk_provider(logical_id, resource):
                continue
            function = template_function(assembly, stack, logical_id, resources)
            if function is None:
                skipped.append(resource_label(stack, logical_id, resource))
            else:
                found.setdefault((function.code, function.handler), function)
    return list(found.values()), skipped


def _cdk_provider(logical_id: str, resource: Mapping[str, Any]) -> bool:
    """CDK's own handler (``BucketDeployment``'s singleton, ``Custom::CDK...``, the inline
    ``BucketNotificationsHandler``): not the project's code."""
    if logical_id.startswith(CDK_BUILT_IN_HANDLERS):
        return True
    parts = resource.get("Metadata", {}).get("aws:cdk:path", "").split("/")
    return len(parts) > 1 and parts[1].startswith("Custom::CDK")


def template_function(
    assembly: Path, stack: str, logical_id: str, resources: Mapping[str, Any]
) -> Function | None:
    """The function of one template resource, or None for inline or non-Python code."""
    resource = resources[logical_id]
    props, asset = resource["Properties"], resource.get("Metadata", {}).get("aws:asset:path")
    if asset is None or not str(props.get("Runtime", "")).startswith("python"):
        return None
    return Function(
        label=resource_label(stack, logical_id, resource),
        source=source_folder(stack, props["Handler"], assembly / asset),
        handler=props["Handler"],
        code=assembly / asset,
        layers=layer_dirs(assembly, resources, props.get("Layers", [])),
        environment=lambda_environment(props.get("Environment", {}).get("Variables", {})),
    )


def resource_label(stack: str, logical_id: str, resource: Mapping[str, Any]) -> str:
    """The construct path (``Stack/Pattern/Items``), which reads better than a logical id."""
    path = resource.get("Metadata", {}).get("aws:cdk:path", f"{stack}/{logical_id}")
    return path.removesuffix("/Resource")


def source_folder(stack: str, handler: str, code: Path) -> str:
    """The registry's ``functions/`` folder holding this handler, to name its asset in the tables."""
    module_file = handler_module(handler).replace(".", "/") + ".py"
    folders = [folder for p in PATTERNS if stack in p.stack_names() for folder in p.functions]
    matches = [folder for folder in folders if (FUNCTIONS_DIR / folder / module_file).is_file()]
    return f"functions/{matches[0]}" if matches else code.name


def layer_dirs(assembly: Path, resources: Mapping[str, Any], layers: Sequence[Any]) -> tuple[Path, ...]:
    """The ``python/`` folders of layers built from an asset; Powertools is the local install."""
    dirs = []
    for layer in layers:
        resource = resources.get(layer.get("Ref", "")) if isinstance(layer, dict) else None
        asset = (resource or {}).get("Metadata", {}).get("aws:asset:path")
        if asset:
            dirs.append(assembly / asset / "python")
    return tuple(dirs)


def lambda_environment(variables: Mapping[str, Any]) -> dict[str, str]:
    """Template variables with each deploy-time token (Ref, GetAtt, Join...) replaced by a fake."""
    return {name: value if isinstance(value, str) else dummy_value(name) for name, value in variables.items()}


def dummy_value(name: str) -> str:
    """A well-formed stand-in: handlers keep these at import (table names, queue URLs) but call nothing."""
    slug = name.lower().replace("_", "-")
    if name.endswith("_URL"):
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{slug}"
    if name.endswith("_ARN"):
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{slug}"
    return slug


# --------------------------------------------------------------------------------------------- (b) cold init


def measure_cold_init(functions: Sequence[Function]) -> list[float]:
    """Median milliseconds to import each handler module, with runs interleaved to spread noise."""
    samples: list[list[float]] = [[] for _ in functions]
    for _ in range(INIT_RUNS):
        for function, runs in zip(functions, samples, strict=True):
            runs.append(1000 * run_timed(IMPORT_MODULE, function.module, env=function.process_env()))
    return [statistics.median(runs) for runs in samples]


# --------------------------------------------------------------------------------------------- (c) assets


def asset_size(directory: Path) -> tuple[int, int]:
    """Bytes of the folder's files, and of a deflate zip of them as CDK uploads it."""
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(directory))
    return sum(path.stat().st_size for path in files), buffer.getbuffer().nbytes


# --------------------------------------------------------------------------------------------- (d) tests


def measure_tests() -> tuple[float, str]:
    """Wall seconds of the whole suite as a developer runs it, with pytest's summary line."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *TEST_COMMAND], cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    summaries = [line.strip("= ") for line in done.stdout.splitlines() if TEST_SUMMARY.search(line)]
    return seconds, summaries[-1] if summaries else f"no summary line (exit code {done.returncode})"


# --------------------------------------------------------------------------------------------- report


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def verdict(ok: bool) -> str:
    return "pass" if ok else "over"


def machine_info() -> list[tuple[str, str]]:
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("cpus", str(os.cpu_count())),
        ("processor / machine", f"{platform.processor() or 'unknown'} / {platform.machine()}"),
        ("python", platform.python_version()),
        ("node", node_version()),
        ("aws-cdk-lib", metadata.version("aws-cdk-lib")),
    ]


def node_version() -> str:
    try:
        done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "not found"
    return done.stdout.strip()


def synth_table(times: SynthTimes) -> Table:
    ratio = times.full / times.empty
    return Table(
        f"(a) Synth time, median of {SYNTH_RUNS} fresh processes (import of aws_cdk to end of synth)",
        ["app", "seconds", "all / this"],
        [
            [
                f"all {sum(len(p.stack_names()) for p in PATTERNS)} registered stacks, cdk-nag packs as validation",
                f"{times.full:.2f}",
                "",
            ],
            ["one empty Stack in a bare App", f"{times.empty:.2f}", f"{ratio:.2f}x"],
            [
                "one empty Stack in the project's app (feature flags, cdk-nag packs)",
                f"{times.empty_project_app:.2f}",
                f"{times.full / times.empty_project_app:.2f}x",
            ],
        ],
        [
            "CDK's built-in CloudFormation validator is off in all three, as in the tests.",
            f"Target: all / bare empty app < {SYNTH_RATIO_TARGET:g}x: {verdict(ratio < SYNTH_RATIO_TARGET)}",
        ],
    )


def cold_init_table(functions: Sequence[Function], medians: Sequence[float], skipped: Sequence[str]) -> Table:
    """``functions`` and ``medians`` start with the hello-world baseline, which has no target."""
    rows = []
    for function, ms in zip(functions, medians, strict=True):
        ratio = ms / medians[0]
        status = "—" if function is functions[0] else verdict(ratio <= INIT_RATIO_TARGET)
        rows.append([function.label, function.source, function.handler, f"{ms:.0f}", f"{ratio:.2f}x", status])
    over = sum(row[-1] == "over" for row in rows)
    notes = [
        "Import of the handler module in a fresh process: imports and module-level setup, "
        "without interpreter start; shared layer on the path, Powertools from the local install.",
        f"Target: <= {INIT_RATIO_TARGET:g}x hello world: "
        + (f"over for {over} of {len(rows) - 1} handlers" if over else "pass"),
    ]
    if skipped:
        notes.append(f"Not measured (inline or non-Python code): {', '.join(skipped)}")
    return Table(
        f"(b) Cold init, median of {INIT_RUNS} fresh processes",
        ["function", "code", "handler", "median ms", "vs hello world", "target"],
        rows,
        notes,
    )


def _layer_name(function: Function, layer: Path) -> str:
    """The shared runtime layer, or a function's own layer (read heavy reporting's drivers)."""
    if (layer / "shared" / "observability.py").is_file():
        return "shared layer (shared/)"
    return f"{function.source} layer"


def asset_table(functions: Sequence[Function]) -> Table:
    """One row per distinct function asset, then the shared layer for reference (no target)."""
    code = {function.code: (function.source, True) for function in functions}
    layers = {
        layer.parent: (_layer_name(function, layer), False)
        for function in functions
        for layer in function.layers
    }
    rows = []
    for directory, (name, has_target) in {**code, **layers}.items():
        total, zipped = asset_size(directory)
        rows.append(
            [name, f"{total:,}", f"{zipped:,}", verdict(total < ASSET_BYTES_TARGET) if has_target else "—"]
        )
    target = f"< {ASSET_BYTES_TARGET // 1000} KB ({ASSET_BYTES_TARGET:,} bytes)"
    return Table(
        "(c) Asset size",
        ["asset", "bytes", "zip bytes", "target"],
        rows,
        [f"Target: {target} per function asset, unzipped."],
    )


def local_cloud_table(assembly: Path) -> Table:
    """(e) provisioning per pattern stack and (f) delivery overhead against raw moto calls."""
    from benchmarks import localcloud_bench as lc

    rows = [
        [f"provision {name}", f"{seconds:.2f}", ""]
        for name, seconds in lc.provisioning_seconds(assembly).items()
    ]
    rows += delivery_rows(assembly)
    rows += async_rows(assembly)
    rows += http_rows(assembly)
    return Table(
        "(e) Local cloud: provisioning, delivery and HTTP serving against raw moto",
        ["what", "seconds", "target"],
        rows,
        [
            f"Provisioning: median of {lc.PROVISION_RUNS} starts; target well under a second.",
            f"Delivery target: within {lc.DELIVERY_RATIO_TARGET:g}x of the raw moto calls. One cloud and one "
            f"raw interpreter play {lc.DELIVERY_ROUNDS} rounds of {lc.DELIVERY_MESSAGES} messages each, "
            "alternating round by round, after one untimed warm-up round on each side (the function's cold "
            "start; the raw side's clients, queue or stream and table are made before it); each round puts "
            "its messages in through the SDK, waits for them to be stored (the cloud drained on the virtual "
            "clock; the raw side makes the handler's calls: the same items, conditions and updates) and "
            "counts what was stored, on both sides. Each side's median, with its range in brackets; the "
            "ratios divide the medians. The raw side runs in a fresh interpreter, as the HTTP rows' does: "
            "the cloud stays up between its rounds, and a moto mock in its process would share the cloud's "
            "backends and hooks; and a program using moto alone carries neither the local cloud's changes "
            "to moto and botocore nor its heap. Those changes matter more here than for HTTP: moto alone "
            "counts an SQS queue's messages again for each message it receives, which the local cloud's "
            "changes remove, so the raw loop in the local cloud's process after its cloud stopped is "
            "shown beside, and the ratios to it are the local cloud's own overhead.",
            "Asynchronous patterns (benchmarks/async_bench.py, one driver per pattern): N messages put in at "
            "the pattern's entry through the SDK and the cloud drained on the virtual clock, against the AWS "
            "calls the handlers make, straight to moto; process CPU time, one warm-up message untimed on each "
            "side, median of 3 alternating runs; target within 2x.",
            f"HTTP target: the server adds less than {lc.HTTP_RATIO_TARGET:g}x over the raw moto calls; "
            f"the first request after `serve` answers within {lc.FIRST_REQUEST_TARGET:g} s. The served requests "
            "share one keep-alive connection, as a client library or a browser keeps one. The raw loop "
            "runs in a fresh interpreter, as a program using moto alone (in the served run's process the "
            "local cloud's changes to moto and botocore stay installed, and make the same loop cheaper: it is "
            "shown beside), and makes its client and table before its first round. One cloud and one raw "
            f"interpreter play {lc.HTTP_ROUNDS} rounds of {lc.HTTP_ITEMS} pairs each, alternating round by "
            "round, after one untimed warm-up round on each side; each side's median, with its range in "
            "brackets; the ratios divide the medians. The stage's limits are raised to the account's for "
            'the served rounds (see "Serving over HTTP" below), and one round under the stage\'s own '
            "limits, in a cloud of its own, is shown beside them.",
        ],
    )


def delivery_rows(assembly: Path) -> list[list[str]]:
    """Webhooks and stream readings delivered in the local cloud against the handlers' calls
    straight to moto (issue 10: within 2x)."""
    from benchmarks import async_bench as ab
    from benchmarks import localcloud_bench as lc

    rows: list[list[str]] = []
    spread = lc.Rounds.spread
    for driver in (ab.WEBHOOKS, ab.READINGS):
        figures = lc.delivery_figures(assembly, driver)
        local, raw, here = figures.local, figures.raw, figures.here
        wall_ratio = statistics.median(local.wall) / statistics.median(raw.wall)
        cpu_ratio = statistics.median(local.cpu) / statistics.median(raw.cpu)
        rows += [
            [f"{lc.DELIVERY_MESSAGES} {driver.path} in the local cloud", spread(local.wall), ""],
            ["the same moto calls in a loop, in a fresh process", spread(raw.wall), ""],
            [
                f"ratio local cloud / raw moto ({driver.pattern})",
                f"{wall_ratio:.2f}x",
                verdict(wall_ratio <= lc.DELIVERY_RATIO_TARGET),
            ],
            [
                "CPU seconds of those rounds, local cloud / raw moto, and their ratio",
                f"{spread(local.cpu)} / {spread(raw.cpu)}",
                f"{cpu_ratio:.2f}x",
            ],
            [
                "the raw loop in the local cloud's process (moto with the local cloud's changes): "
                "seconds and CPU seconds, and the local cloud's ratios to them",
                f"{spread(here.wall)} / {spread(here.cpu)}",
                f"{statistics.median(local.wall) / statistics.median(here.wall):.2f}x / "
                f"{statistics.median(local.cpu) / statistics.median(here.cpu):.2f}x",
            ],
        ]
    return rows


def http_rows(assembly: Path) -> list[list[str]]:
    """The simple web service served over HTTP against its handler's calls straight to moto, and how
    soon ``serve`` answers first."""
    from benchmarks import localcloud_bench as lc

    figures = lc.http_figures(assembly)
    served, raw, here = figures.served, figures.raw, figures.here
    pairs, spread = lc.HTTP_ITEMS, lc.Rounds.spread
    wall_ratio = statistics.median(served.wall) / statistics.median(raw.wall)
    cpu_ratio = statistics.median(served.cpu) / statistics.median(raw.cpu)
    rows: list[list[str]] = [
        [
            f"{pairs} POST + GET over HTTP, simple web service on localhost "
            f"({2 * pairs / statistics.median(served.wall):.0f} req/s)",
            spread(served.wall),
            "",
        ],
        [
            f"{pairs} PutItem + GetItem straight to moto, in a fresh process "
            f"({2 * pairs / statistics.median(raw.wall):.0f} calls/s)",
            spread(raw.wall),
            "",
        ],
        [
            "ratio local HTTP server / raw moto",
            f"{wall_ratio:.2f}x",
            verdict(wall_ratio <= lc.HTTP_RATIO_TARGET),
        ],
        [
            "CPU seconds of those rounds, served (client and server) / raw moto, and their ratio",
            f"{spread(served.cpu)} / {spread(raw.cpu)}",
            f"{cpu_ratio:.2f}x",
        ],
        ["the served warm-up's first POST + GET, with the function's cold start", f"{figures.first:.2f}", ""],
        [
            "the raw loop in the served run's process (moto and botocore with the local cloud's changes): "
            "seconds and CPU seconds, and the served figures' ratios to them",
            f"{spread(here.wall)} / {spread(here.cpu)}",
            f"{statistics.median(served.wall) / statistics.median(here.wall):.2f}x / "
            f"{statistics.median(served.cpu) / statistics.median(here.cpu):.2f}x",
        ],
        [
            "one round with the stage's own limits (100 per second, burst 50, per method), cold start included",
            lc.at_stage_limits(assembly),
            "",
        ],
    ]
    first = lc.first_request_after_serve()
    rows.append(
        [
            "`python -m localcloud serve simple_web_service` to its first answer, synth included",
            f"{first:.2f}",
            verdict(first < lc.FIRST_REQUEST_TARGET),
        ]
    )
    return rows


def async_rows(assembly: Path) -> list[list[str]]:
    """Messages per second through each asynchronous pattern, against the same moto calls (issue 14)."""
    from benchmarks import async_bench as ab

    rows = []
    for figure in ab.measure(assembly):
        driver = figure.driver
        rows.append(
            [
                f"{driver.pattern}: {figure.messages} messages, {driver.path}; CPU s local cloud / raw moto "
                f"({figure.messages / figure.local:.0f} / {figure.messages / figure.raw:.0f} msg/s)",
                f"{figure.local:.2f} / {figure.raw:.2f}",
                f"{figure.ratio:.2f}x {verdict(figure.ratio <= ab.RATIO_TARGET)}",
            ]
        )
    return rows


def tests_table(result: tuple[float, str] | None) -> Table:
    command = "python " + " ".join(TEST_COMMAND)
    row = (
        [command, "—", "not measured (--skip-tests)"]
        if result is None
        else [command, f"{result[0]:.1f}", result[1]]
    )
    return Table("(d) Test suite wall time", ["command", "seconds", "pytest summary"], [row])


def render_text(machine: Sequence[tuple[str, str]], tables: Sequence[Table]) -> str:
    lines = [f"{key}: {value}" for key, value in machine]
    for table in tables:
        widths = [max(len(row[i]) for row in [table.headers, *table.rows]) for i in range(len(table.headers))]
        lines += ["", table.title]
        for row in [table.headers, ["-" * width for width in widths], *table.rows]:
            lines.append(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
        lines += [f"  {note}" for note in table.notes]
    return "\n".join(lines)


def render_markdown(machine: Sequence[tuple[str, str]], tables: Sequence[Table]) -> str:
    lines = ["## Figures", "", *[f"- {key}: {value}" for key, value in machine]]
    for table in tables:
        lines += ["", f"### {table.title}", "", "| " + " | ".join(table.headers) + " |"]
        lines += ["|" + "---|" * len(table.headers), *["| " + " | ".join(row) + " |" for row in table.rows]]
        lines += ["", *[f"- {note}" for note in table.notes]] if table.notes else []
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(path: Path, section: str) -> None:
    write_between(path, section, MARKDOWN_BEGIN, MARKDOWN_END)


# --------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suite")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the figures to PATH")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        progress(f"synth: {SYNTH_RUNS} runs each of every stack and of an empty stack")
        synth = measure_synth(Path(workdir))
        functions, skipped = discover_functions(synth.assembly)
        progress("asset sizes")
        assets = asset_table(functions)
        progress(f"cold init: {INIT_RUNS} runs each of {len(functions)} handlers and hello world")
        measured = [HELLO_WORLD, *functions]
        cold_init = cold_init_table(measured, measure_cold_init(measured), skipped)
        progress("local cloud: provisioning and delivery")
        local_cloud = local_cloud_table(synth.assembly)
    if not args.skip_tests:
        progress("test suite")
    tests = tests_table(None if args.skip_tests else measure_tests())
    tables = [synth_table(synth), cold_init, assets, tests, local_cloud]
    print(render_text(machine, tables))
    if args.markdown:
        write_markdown(args.markdown, render_markdown(machine, tables))


if __name__ == "__main__":
    main()
