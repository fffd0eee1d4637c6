"""The slowest files go first, as the cache remembers them from the last runs."""

from __future__ import annotations

import json
from types import SimpleNamespace

from tests import file_order


def config(tmp_path, measured=None):
    if measured is not None:
        (tmp_path / file_order.CACHE_FILE).parent.mkdir()
        (tmp_path / file_order.CACHE_FILE).write_text(json.dumps(measured))
    return SimpleNamespace(rootpath=tmp_path)


def ids(items):
    return [item.nodeid for item in items]


def test_unmeasured_files_lead_in_the_hand_kept_order_then_measured_ones_slowest_first(tmp_path):
    items = [SimpleNamespace(nodeid=f"{path}::test") for path in ("a.py", "b.py", "c.py", "d.py", "e.py")]
    file_order.sort_items(config(tmp_path, {"a.py": 1.0, "b.py": 9.0, "c.py": 4.0}), items, ["e.py", "c.py"])
    assert ids(items) == ["e.py::test", "d.py::test", "b.py::test", "c.py::test", "a.py::test"]


def test_without_a_cache_the_hand_kept_slow_files_go_first(tmp_path):
    items = [SimpleNamespace(nodeid=f"{path}::test") for path in ("a.py", "b.py", "c.py")]
    file_order.sort_items(config(tmp_path), items, ["c.py"])
    assert ids(items) == ["c.py::test", "a.py::test", "b.py::test"]


def test_a_run_adds_its_files_seconds_and_drops_files_that_are_gone(tmp_path):
    for name in ("kept.py", "ran.py"):
        (tmp_path / name).touch()
    recorder = file_order.FileSeconds(config(tmp_path, {"kept.py": 2.0, "ran.py": 5.0, "gone.py": 3.0}))
    for when, seconds in (("setup", 0.5), ("call", 1.25), ("teardown", 0.25)):
        recorder.pytest_runtest_logreport(
            SimpleNamespace(nodeid="ran.py::test_x", when=when, duration=seconds)
        )
    recorder.pytest_sessionfinish()
    assert file_order.read(tmp_path) == {"kept.py": 2.0, "ran.py": 2.0}


def test_a_duration_measured_on_a_frozen_clock_is_left_out_and_xdist_reports_are_timed_on_arrival(
    tmp_path, monkeypatch
):
    (tmp_path / "ran.py").touch()
    recorder = file_order.FileSeconds(config(tmp_path))
    recorder.pytest_runtest_logreport(SimpleNamespace(nodeid="ran.py::test_a", duration=1767193458.0))
    worker = SimpleNamespace(gateway=SimpleNamespace(id="gw0"))
    for arrival, duration in ((100.0, 0.5), (103.0, -5.0), (103.5, 1e9)):
        monkeypatch.setattr(file_order.time, "monotonic", lambda arrival=arrival: arrival)
        recorder.pytest_runtest_logreport(
            SimpleNamespace(nodeid="ran.py::test_b", duration=duration, node=worker)
        )
    recorder.pytest_sessionfinish()
    assert file_order.read(tmp_path) == {"ran.py": 0.5 + 3.0 + 0.5}


def test_while_the_first_worker_synthesizes_the_others_start_on_files_that_need_no_synth(tmp_path):
    needs = {"a.py": True, "b.py": True, "c.py": False, "d.py": True, "e.py": False}
    items = [
        SimpleNamespace(nodeid=f"{path}::test", fixturenames=["cloud_assembly"] if synth else ["tmp_path"])
        for path, synth in needs.items()
    ]
    three_workers = SimpleNamespace(rootpath=tmp_path, workerinput={"workercount": 3})
    file_order.sort_items(three_workers, items, ["a.py", "b.py", "c.py", "d.py", "e.py"])
    assert ids(items) == ["a.py::test", "c.py::test", "e.py::test", "b.py::test", "d.py::test"]
    one_worker = config(tmp_path)
    file_order.sort_items(one_worker, items, ["a.py", "b.py", "c.py", "d.py", "e.py"])
    assert ids(items) == ["a.py::test", "b.py::test", "c.py::test", "d.py::test", "e.py::test"]


def test_a_first_file_that_needs_no_synth_keeps_the_order(tmp_path):
    items = [
        SimpleNamespace(nodeid=f"{path}::test", fixturenames=["cloud_assembly"] if path != "a.py" else [])
        for path in ("a.py", "b.py", "c.py")
    ]
    file_order.sort_items(SimpleNamespace(rootpath=tmp_path, workerinput={"workercount": 2}), items, [])
    assert ids(items) == ["a.py::test", "b.py::test", "c.py::test"]


def test_the_summary_says_how_long_the_first_worker_to_finish_sat_idle(tmp_path, monkeypatch):
    recorder, lines = file_order.FileSeconds(config(tmp_path)), []
    for arrival, worker in ((10.0, "gw0"), (12.0, "gw1"), (15.5, "gw1")):
        monkeypatch.setattr(file_order.time, "monotonic", lambda arrival=arrival: arrival)
        node = SimpleNamespace(gateway=SimpleNamespace(id=worker))
        recorder.pytest_runtest_logreport(SimpleNamespace(nodeid="a.py::t", duration=0.1, node=node))
    recorder.pytest_terminal_summary(SimpleNamespace(write_line=lines.append))
    assert lines == ["file order: the first worker finished 5.5 s early"]
