"""``serve --watch``: re-synthesize when the app's sources change, and swap the stack in place.

What is watched is what ``cdk watch`` would watch: the files under the folder of ``cdk.json`` that
its ``watch.include`` globs name (every file, if it has none) and its ``watch.exclude`` globs do
not, never the assembly (``cdk.out``, or cdk.json's ``output``), hidden files and folders, virtual
environments, ``node_modules`` or ``__pycache__``. This project's cdk.json names ``app.py``,
``patterns/``, ``functions/`` and ``shared/``.

Polling, not notifications: a wall-clock thread compares the files' modification times and sizes
every half second, and acts once they have been still for ``debounce`` seconds, so an editor's
save (or a ``git checkout``) makes one redeploy, not one per file. A synth that fails is reported
and the old stack goes on serving.
"""

from __future__ import annotations

import fnmatch
import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from localcloud.redeploy import Changes, RedeployFailed, diff, swap

if TYPE_CHECKING:
    from localcloud.core.assembly import StackArtifact
    from localcloud.server import LocalServer

#: Never watched, whatever cdk.json says: build output, environments, caches and hidden entries.
ALWAYS_EXCLUDED = ("cdk.out", ".*", "node_modules", ".venv", "venv", "__pycache__", "*.pyc")
POLL_SECONDS = 0.5
DEBOUNCE_SECONDS = 0.3


class Watch:
    """The watched files of a folder, and which of them changed once they have settled."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        include: Iterable[str] = ("**",),
        exclude: Iterable[str] = (),
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.root = Path(root)
        self.include = list(include)
        self.exclude = [*ALWAYS_EXCLUDED, *exclude]
        self.debounce = debounce
        self._seen = self.scan()
        self._pending: set[str] = set()
        self._changed_at = 0.0

    @classmethod
    def of_app(cls, app_dir: str | os.PathLike[str] = ".", **kwargs: float) -> Watch:
        """The files ``cdk watch`` would watch for the app whose ``cdk.json`` is in ``app_dir``."""
        config_file = Path(app_dir) / "cdk.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        rules = config.get("watch", {})
        include = rules.get("include", ["**"])
        exclude = [*_listed(rules.get("exclude", [])), config.get("output", "cdk.out")]
        return cls(app_dir, include=_listed(include), exclude=exclude, **kwargs)

    def scan(self) -> dict[str, tuple[int, int]]:
        """Relative path -> (modification time in ns, size) of every watched file."""
        found = {}
        for folder, dirs, files in os.walk(self.root):
            relative = Path(folder).relative_to(self.root)
            dirs[:] = sorted(d for d in dirs if not self._excluded((relative / d).as_posix()))
            for name in files:
                path = (relative / name).as_posix()
                if self._excluded(path) or not any(_matches(path, glob) for glob in self.include):
                    continue
                try:
                    stat = os.stat(os.path.join(folder, name))
                except FileNotFoundError:  # removed while we looked: the next scan sees it gone
                    continue
                found[path] = (stat.st_mtime_ns, stat.st_size)
        return found

    def poll(self, now: float) -> list[str]:
        """The files changed, added or removed since the last report, once none has changed for
        ``debounce`` seconds up to ``now`` (wall-clock seconds, any origin); else ``[]``."""
        current = self.scan()
        if current != self._seen:
            self._pending |= {
                p for p in current.keys() | self._seen.keys() if current.get(p) != self._seen.get(p)
            }
            self._seen = current
            self._changed_at = now
            return []
        if self._pending and now - self._changed_at >= self.debounce:
            changed, self._pending = sorted(self._pending), set()
            return changed
        return []

    def __len__(self) -> int:
        return len(self._seen)

    def _excluded(self, path: str) -> bool:
        name = path.rsplit("/", 1)[-1]
        return any(_matches(path, glob) or fnmatch.fnmatchcase(name, glob) for glob in self.exclude)


def _matches(path: str, glob: str) -> bool:
    """``patterns/**`` matches everything under ``patterns/``; ``**/x`` matches ``x`` at any depth."""
    return fnmatch.fnmatchcase(path, glob) or (glob.startswith("**/") and _matches(path, glob[3:]))


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class Reloader:
    """Redeploys ``server``'s stack from ``synthesize()`` when ``watch`` reports a change.

    :meth:`check` does one round (tests call it directly); :meth:`start` runs it every
    ``interval`` seconds on a thread, for ``serve --watch``.
    """

    def __init__(
        self,
        server: LocalServer,
        watch: Watch,
        synthesize: Callable[[], StackArtifact],
        *,
        out: Callable[[str], None] = print,
    ) -> None:
        self.server = server
        self.watch = watch
        self.synthesize = synthesize
        self.out = out
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self, now: float | None = None) -> Changes | None:
        """Poll once; on a settled change, synthesize and swap. The changes made, or None."""
        changed = self.watch.poll(os.times().elapsed if now is None else now)
        if not changed:
            return None
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        self.out(f"changed: {shown}; synthesizing")
        try:
            artifact = self.synthesize()
        except Exception as error:  # any failure of the app keeps the old stack
            self.out(f"synth failed, the previous stack serves on: {error}")
            return None
        if not diff(self.server.cloud.artifact.template, artifact.template).any:
            self.out("  no resource changed: the stack serves on as it is")
            return None
        try:
            changes = swap(self.server, artifact)
        except RedeployFailed as failure:
            self.out(str(failure))
            return None
        for line in changes.lines():
            self.out(f"  {line}")
        self.out(
            f"redeployed in {changes.seconds:.2f} s; front doors: "
            + ", ".join(door.url for door in self.server.front_doors)
        )
        return changes

    def start(self, interval: float = POLL_SECONDS) -> Reloader:
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="localcloud-watch", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.check()
            except Exception as error:  # the watch must outlive any one redeploy
                self.out(f"redeploy failed: {type(error).__name__}: {error}")
