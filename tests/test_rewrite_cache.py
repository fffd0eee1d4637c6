"""Rewritten test modules are kept under the checkout's cache, never beside the module, and a module
that changed is rewritten again."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
from _pytest.assertion import rewrite

from tests import rewrite_cache


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """pytest's rewriting as :func:`rewrite_cache.register` leaves it for a checkout at ``tmp_path``."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    cleanups = []
    rewrite_cache.register(SimpleNamespace(rootpath=tmp_path, add_cleanup=cleanups.append))
    yield tmp_path / rewrite_cache.CACHE_DIR
    for cleanup in cleanups:
        cleanup()


def failure(code) -> str:
    namespace = {}
    exec(code, namespace)  # noqa: S102 - the test module this test wrote
    with pytest.raises(AssertionError) as raised:
        namespace["test_numbers"]()
    return str(raised.value)


def test_a_rewritten_module_is_kept_in_the_cache_and_rewritten_when_it_changes(cached, tmp_path, request):
    module = tmp_path / "tests" / "test_numbers.py"
    module.parent.mkdir()
    module.write_text("def test_numbers():\n    numbers = [1, 2]\n    assert numbers == [1, 3]\n")
    assert rewrite.get_cache_dir(module) == cached / "tests"
    rewrite._rewrite_test(module, request.config)
    [kept] = (cached / "tests").glob("test_numbers.*.pyc")
    assert not list(tmp_path.glob("**/__pycache__")), "nothing is written beside the module"
    assert "At index 1 diff: 2 != 3" in failure(rewrite._read_pyc(module, kept)), "kept as rewritten"
    module.write_text(module.read_text().replace("[1, 3]", "[1, 4]"))
    assert rewrite._read_pyc(module, kept) is None, "a changed module is not read from the cache"


def test_a_module_outside_the_checkout_is_kept_under_its_absolute_folder(tmp_path, monkeypatch, request):
    """A plugin's modules (hypothesis, from the venv) are rewritten once per run, not once per worker."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    checkout, site = tmp_path / "checkout", tmp_path / "site-packages" / "plugin"
    site.mkdir(parents=True)
    cleanups = []
    rewrite_cache.register(SimpleNamespace(rootpath=checkout, add_cleanup=cleanups.append))
    try:
        module = site / "test_numbers.py"
        module.write_text("def test_numbers():\n    numbers = [1, 2]\n    assert numbers == [1, 3]\n")
        outside = checkout / rewrite_cache.CACHE_DIR / rewrite_cache.OUTSIDE
        assert rewrite.get_cache_dir(module) == outside / site.relative_to(site.anchor)
        rewrite._rewrite_test(module, request.config)
        [kept] = (outside / site.relative_to(site.anchor)).glob("test_numbers.*.pyc")
        assert not list(site.glob("__pycache__")), "nothing is written beside the module"
        assert "At index 1 diff: 2 != 3" in failure(rewrite._read_pyc(module, kept))
    finally:
        for cleanup in cleanups:
            cleanup()


def test_pytest_is_left_as_it_was_after_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    before, cleanups = (rewrite.get_cache_dir, rewrite._rewrite_test), []
    rewrite_cache.register(SimpleNamespace(rootpath=tmp_path, add_cleanup=cleanups.append))
    assert (rewrite.get_cache_dir, rewrite._rewrite_test) != before
    for cleanup in cleanups:
        cleanup()
    assert (rewrite.get_cache_dir, rewrite._rewrite_test) == before


def test_a_skipped_module_is_remembered_until_it_is_marked_for_rewriting(request):
    """The answer stays pytest's: a module marked for rewriting after it was skipped (a plugin's, by
    ``register_assert_rewrite``) is no longer skipped, and a test file never is."""
    [hook] = [finder for finder in sys.meta_path if isinstance(finder, rewrite.AssertionRewritingHook)]
    state = request.config.stash[rewrite.assertstate_key]
    name = "helpers_for_rewrite_check.plain"
    try:
        assert hook._early_rewrite_bailout(name, state) is True
        assert hook._early_rewrite_bailout(name, state) is True
        hook.mark_rewrite("helpers_for_rewrite_check")
        assert hook._early_rewrite_bailout(name, state) is False, "marked since: no longer skipped"
        assert hook._early_rewrite_bailout("helpers_for_rewrite_check.test_things", state) is False
    finally:
        hook._must_rewrite.discard("helpers_for_rewrite_check")
        hook._marked_for_rewrite_cache.clear()
