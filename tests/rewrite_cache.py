"""Test modules' assertion rewriting, kept between runs where no bytecode may be written beside them.

pytest rewrites the ``assert`` statements of every test module and conftest at import, and keeps
the result in ``__pycache__`` beside the module, unless bytecode writing is off
(``PYTHONDONTWRITEBYTECODE``, as in shared or read-only checkouts): then every process rewrites
every module again. Under xdist each worker collects the whole suite, so that was seconds of CPU per
worker before the first test ran. Here the rewritten code goes to ``.pytest_cache/rewritten``
instead, in pytest's own format: checked against the source's hash, pytest's version and Python's
magic number at each read, so an edited module is rewritten again. Written atomically, so workers
that rewrite the same module at once do no harm; a folder that cannot be written is only slower.

Modules outside the checkout that pytest rewrites too (every module of a plugin's distribution:
all of hypothesis, imported after this is registered) are kept under ``OUTSIDE`` in the same cache,
by their absolute folder: xdist's controller rewrites them first, so its workers only read them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CACHE_DIR = Path(".pytest_cache") / "rewritten"
#: Where, under ``CACHE_DIR``, modules from outside the checkout are kept, by their absolute folder.
OUTSIDE = "_outside"


def register(config: pytest.Config) -> None:
    """Keep rewritten modules under the checkout's cache when bytecode is not written beside them."""
    if not sys.dont_write_bytecode:
        return  # pytest keeps them in __pycache__ itself
    from _pytest.assertion import rewrite

    needed = ("get_cache_dir", "_rewrite_test", "_write_pyc", "assertstate_key", "PYC_TAIL")
    if not all(hasattr(rewrite, name) for name in needed):
        return  # another pytest than this was written for: rewrite as pytest does
    root = config.rootpath.resolve()
    cache = root / CACHE_DIR
    pytest_cache_dir, pytest_rewrite_test = rewrite.get_cache_dir, rewrite._rewrite_test

    def cache_dir(file_path: Path) -> Path:
        folder = file_path.resolve().parent
        try:
            return cache / folder.relative_to(root)
        except ValueError:  # outside the checkout
            return cache / OUTSIDE / folder.relative_to(folder.anchor)

    def rewrite_test(fn: Path, config: pytest.Config):
        source_hash, code = pytest_rewrite_test(fn, config)
        folder = cache_dir(fn)
        if folder != pytest_cache_dir(fn) and rewrite.try_makedirs(folder):
            pyc = folder / (fn.name[:-3] + rewrite.PYC_TAIL)
            rewrite._write_pyc(config.stash[rewrite.assertstate_key], code, source_hash, pyc)
        return source_hash, code

    rewrite.get_cache_dir = cache_dir
    rewrite._rewrite_test = rewrite_test
    config.add_cleanup(lambda: _restore(rewrite, pytest_cache_dir, pytest_rewrite_test))


def remember_skips(config: pytest.Config) -> None:
    """pytest's answer to "could this module need rewriting?", kept per module name for the run.

    pytest's import hook asks it at every import, and every cold start of a handler imports its
    modules again: each time pytest built a path from the name and matched it against the test-file
    patterns (40 microseconds an import). The answer depends on the name, the session's paths and
    the modules marked for rewriting; it is worked out again when either of the last two changes.
    """
    from _pytest.assertion import rewrite

    hook = rewrite.AssertionRewritingHook
    bailout = hook._early_rewrite_bailout
    installed = next((finder for finder in sys.meta_path if isinstance(finder, hook)), None)
    needed = ("session", "_session_paths_checked", "_basenames_to_check_rewrite", "_must_rewrite")
    if installed is None or not all(name in vars(installed) for name in needed):
        return  # no rewriting, or another pytest than this was written for: ask pytest every time

    def early_rewrite_bailout(self, name: str, state) -> bool:
        key = (
            self.session,
            self._session_paths_checked,
            len(self._basenames_to_check_rewrite),
            len(self._must_rewrite),
        )
        known = self.__dict__.get("_tests_known_skips")
        if known is None or known[0] != key:
            known = self._tests_known_skips = (key, {})
        skip = known[1].get(name)
        if skip is None:
            skip = known[1][name] = bailout(self, name, state)
        return skip

    hook._early_rewrite_bailout = early_rewrite_bailout
    config.add_cleanup(lambda: setattr(hook, "_early_rewrite_bailout", bailout))


def _restore(rewrite, get_cache_dir, rewrite_test) -> None:
    rewrite.get_cache_dir, rewrite._rewrite_test = get_cache_dir, rewrite_test
