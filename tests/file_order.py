"""The order test files are handed out in under ``--dist loadfile``: the slowest first, as the last
runs measured them.

xdist gives a whole file to one worker, so a long file that starts last runs on alone while the
other worker idles. A hand-kept list of slow files goes stale as files are added and sped up; the
seconds each file took are kept in pytest's cache (``.pytest_cache``) after every run, and the next
run sorts by them. Files the cache does not know yet (new files, or a fresh checkout) go first, in
the order of the hand-kept list, then collection order; every worker reads the same cache, so all
collect the same order, as xdist requires.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pytest

CACHE_FILE = Path(".pytest_cache") / "file-seconds.json"
#: Longer than any one test phase takes: a longer duration was measured on a frozen clock.
PLAUSIBLE_SECONDS = 600


def file_of(nodeid: str) -> str:
    return nodeid.partition("::")[0]


def sort_items(config: pytest.Config, items: list[pytest.Item], slowest_files: Sequence[str]) -> None:
    """Unmeasured files first (the known slow ones leading), then measured files, slowest first."""
    measured = read(config.rootpath)
    rank = {path: position for position, path in enumerate(slowest_files)}

    def key(item: pytest.Item) -> tuple[int, float]:
        path = file_of(item.nodeid)
        if path in measured:
            return 1, -measured[path]
        return 0, rank.get(path, len(rank))

    items.sort(key=key)
    _while_the_first_waits(items, _workers(config) - 1)


#: The session fixture whose first user synthesizes every registered stack while the other workers
#: wait for it (``shared_synth`` in ``tests/conftest.py``).
SHARED_SYNTH = "cloud_assembly"


def _workers(config: pytest.Config) -> int:
    workerinput = getattr(config, "workerinput", None)
    return int(workerinput.get("workercount", 1)) if workerinput else 1


def _while_the_first_waits(items: list[pytest.Item], others: int) -> None:
    """When the first file handed out needs the session's synth, the next ``others`` files (one per
    other worker) are the slowest that do not: they run while the first worker synthesizes, instead
    of every worker waiting seconds on the same synth (new files go first, and most need it)."""
    files: dict[str, bool] = {}
    for item in items:
        path = file_of(item.nodeid)
        files[path] = files.get(path, False) or SHARED_SYNTH in getattr(item, "fixturenames", ())
    order = list(files)
    if others < 1 or not order or not files[order[0]]:
        return
    free = [path for path in order if not files[path]][:others]
    order = [order[0], *free, *(path for path in order[1:] if path not in free)]
    position = {path: index for index, path in enumerate(order)}
    items.sort(key=lambda item: position[file_of(item.nodeid)])


class FileSeconds:
    """Sums each file's seconds where reports arrive (xdist's controller, or the one process) and
    keeps them in the cache at the end of the run.

    Under xdist a file's share is the wall time between one report of its worker and the next, read
    on the controller, whose clock no test freezes: a test that freezes time (freezegun) makes its
    own report's duration meaningless, billions of seconds or negative. Without xdist, and for a
    worker's first report, the report's duration is taken where it is plausible.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.last_report: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        now = time.monotonic()
        worker = getattr(getattr(report, "node", None), "gateway", None)
        previous = self.last_report.get(worker.id) if worker is not None else None
        if worker is not None:
            self.last_report[worker.id] = now
        if previous is not None:
            self.seconds[file_of(report.nodeid)] += now - previous
        elif 0 <= report.duration < PLAUSIBLE_SECONDS:
            self.seconds[file_of(report.nodeid)] += report.duration

    def pytest_terminal_summary(self, terminalreporter) -> None:
        """How long the first worker to finish sat idle: what a long file handed out late costs."""
        if len(self.last_report) > 1:
            ends = sorted(self.last_report.values())
            terminalreporter.write_line(
                f"file order: the first worker finished {ends[-1] - ends[0]:.1f} s early"
            )

    def pytest_sessionfinish(self) -> None:
        if not self.seconds:
            return
        root = self.config.rootpath
        kept = {path: s for path, s in read(root).items() if (root / path).exists()}
        kept.update({path: round(s, 3) for path, s in self.seconds.items()})
        (root / CACHE_FILE).parent.mkdir(exist_ok=True)
        (root / CACHE_FILE).write_text(json.dumps(kept, indent=0, sort_keys=True))


def read(root: Path) -> dict[str, float]:
    """What the last runs measured; nothing if no run left it (or it is unreadable)."""
    try:
        return json.loads((root / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def register(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # an xdist worker's reports reach the controller too
        config.pluginmanager.register(FileSeconds(config), "file-seconds")
