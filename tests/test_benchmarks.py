"""The benchmark reads the synthesized templates: check it still finds every function as Lambda would."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench import HELLO_WORLD, asset_size, discover_functions, lambda_environment
from patterns.registry import PATTERNS

pytestmark = pytest.mark.infra


def test_every_registered_function_is_found_with_its_code_layer_and_environment(cloud_assembly):
    functions, skipped = discover_functions(Path(cloud_assembly.directory))
    assert skipped == []
    assert {f.source for f in functions} == {
        f"functions/{folder}" for p in PATTERNS for folder in p.functions
    }
    for function in functions:
        assert (function.code / f"{function.module}.py").is_file(), function.label
        assert function.layers and all(layer.name == "python" for layer in function.layers), "as /opt/python"
        shared = [layer for layer in function.layers if (layer / "shared" / "observability.py").is_file()]
        assert len(shared) == 1, f"{function.label}: the shared layer, once"
        assert "POWERTOOLS_SERVICE_NAME" in function.environment


def test_tokens_in_the_environment_become_plausible_values():
    env = lambda_environment({"QUEUE_URL": {"Ref": "Queue"}, "TABLE_NAME": {"Ref": "T"}, "LEVEL": "INFO"})
    assert env["QUEUE_URL"].startswith("https://sqs.")
    assert env["LEVEL"] == "INFO" and isinstance(env["TABLE_NAME"], str)


def test_asset_size_counts_the_files_and_their_zip():
    total, zipped = asset_size(HELLO_WORLD.code)
    assert total == sum(p.stat().st_size for p in HELLO_WORLD.code.rglob("*") if p.is_file())
    assert zipped > 0


@pytest.fixture(scope="module")
def async_bench():
    from benchmarks import async_bench

    return async_bench


def test_every_asynchronous_driver_does_its_work_on_both_sides(cloud_assembly, async_bench):
    """Two messages through each driver, both sides: a driver whose work stops being done raises."""
    assembly = Path(cloud_assembly.directory)
    for driver in async_bench.DRIVERS:
        assert async_bench.local_run(assembly, driver, 2) >= 0, driver.pattern
        assert async_bench.raw_run(driver, 2) >= 0, driver.pattern


def test_the_async_drivers_cover_the_registered_asynchronous_rows(async_bench):
    registered = {p.id for p in PATTERNS}
    asynchronous = {"notifier", "fifo_consumer", "frugal_consumer", "pub_sub", "distributed_trigger"}
    asynchronous |= {"streamer", "realtime_analytics", "event_driven", "fan_out_fan_in", "map_reduce"}
    assert {d.pattern for d in async_bench.DRIVERS} == asynchronous & registered
    assert {d.stack for d in async_bench.DRIVERS} <= {p.stack_name for p in PATTERNS}


def test_a_driver_that_does_less_than_asked_is_refused(async_bench):
    driver = async_bench.DRIVERS[0]
    lazy = async_bench.Driver(driver.pattern, driver.stack, driver.path, driver.local, lambda: lambda ks: 0)
    with pytest.raises(RuntimeError, match="raw moto did 0 of"):
        async_bench.raw_run(lazy, 2)


def _shape(attributes: dict) -> dict:
    return {name: {kind: len(value) for kind, value in typed.items()} for name, typed in attributes.items()}


def _item_calls(monkeypatch, operations: frozenset[str] = frozenset({"PutItem", "GetItem"})) -> list[tuple]:
    """Each item call of ``operations`` made from now on, as what moto is given to do: the
    operation, every other parameter's name, the condition and update expressions and attribute
    names, and each attribute's and expression value's type and size."""
    import botocore.client

    calls: list[tuple] = []
    make_api_call = botocore.client.BaseClient._make_api_call

    def recorded(client, operation, params):
        if operation in operations:
            others = sorted(set(params) - {"TableName", "Item", "Key"})
            expressions = [params.get(name) for name in ("ConditionExpression", "UpdateExpression")]
            names = params.get("ExpressionAttributeNames")
            values = _shape(params.get("ExpressionAttributeValues", {}))
            calls.append(
                (operation, others, *expressions, names, _shape(params.get("Item") or params["Key"]), values)
            )
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recorded)
    return calls


def test_the_raw_http_baseline_makes_the_calls_the_served_handler_makes(cloud_assembly, monkeypatch):
    """The HTTP ratio divides by moto doing what the handler asks of it, no smaller items or calls."""
    from benchmarks import localcloud_bench as lc
    from localcloud import LocalCloud
    from localcloud.core.assembly import load_stack

    calls = _item_calls(monkeypatch)
    with lc._quiet(), LocalCloud(load_stack(cloud_assembly.directory, "SimpleWebServiceStack")) as cloud:
        created = cloud.api().post("/items", json={"name": "item 0", "price_cents": 0})
        assert cloud.api().get(f"/items/{created.json()['id']}").status_code == 200
    served, calls[:] = calls[:], []
    monkeypatch.setattr(lc, "HTTP_ITEMS", 1)
    with lc.RawLoop() as loop:
        loop.round()
    assert [operation for operation, *_ in served] == ["PutItem", "GetItem"]
    assert calls == served


@pytest.mark.parametrize("name", ["WEBHOOKS", "READINGS"])
def test_the_raw_delivery_baselines_make_the_calls_the_handlers_make(
    cloud_assembly, monkeypatch, async_bench, name
):
    """The delivery ratios divide by moto doing what the worker and the processor ask of it: the same
    items, conditions and updates, one per message."""
    from benchmarks import localcloud_bench as lc

    driver = getattr(async_bench, name)
    calls = _item_calls(monkeypatch, frozenset({"PutItem", "UpdateItem"}))
    with lc.CloudDeliveryLoop(Path(cloud_assembly.directory), driver, messages=3) as local:
        local.round()
    handled, calls[:] = sorted(calls, key=repr), []
    with lc.RawDeliveryLoop(driver, messages=3) as raw:
        raw.round()
    assert len(handled) == 3
    assert sorted(calls, key=repr) == handled


def test_a_delivery_round_that_stores_less_than_it_sent_is_refused(async_bench):
    from benchmarks import localcloud_bench as lc

    driver = async_bench.WEBHOOKS
    lazy = async_bench.Driver(driver.pattern, driver.stack, driver.path, driver.local, lambda: lambda ks: 0)
    with (
        lc.RawDeliveryLoop(lazy, messages=2) as loop,
        pytest.raises(RuntimeError, match="raw moto did 0 of 2"),
    ):
        loop.round()


def test_a_raw_side_that_fails_to_set_up_stops_its_mock(async_bench):
    """A failed set-up must not leave moto's mock on for what runs next in the process."""
    from moto.core.models import MockAWS

    from benchmarks import localcloud_bench as lc

    def unreachable_table() -> None:
        raise ConnectionError("no table")

    driver = async_bench.WEBHOOKS
    broken = async_bench.Driver(driver.pattern, driver.stack, driver.path, driver.local, unreachable_table)
    mocks = MockAWS._nested_count
    with pytest.raises(ConnectionError), lc.RawDeliveryLoop(broken):
        pass
    assert MockAWS._nested_count == mocks


def test_a_raw_delivery_loop_runs_in_an_interpreter_without_the_local_cloud(async_bench):
    """The raw side's interpreter refuses to run if the drivers' module imported the local cloud."""
    from benchmarks import localcloud_bench as lc

    with lc.FreshRawLoop(async_bench.READINGS.pattern) as loop:
        wall, cpu = loop.round()
    assert wall > 0 and cpu > 0
    with pytest.raises(RuntimeError, match="exited with 1"), lc.FreshRawLoop("no_such_pattern") as loop:
        loop.round()


def test_each_table_on_the_benchmarks_page_has_one_header_row():
    """The generated block's tables: a header, its separator, then rows, never the header again."""
    from benchmarks.bench import MARKDOWN_BEGIN, MARKDOWN_END

    page = (Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md").read_text()
    block = page.split(MARKDOWN_BEGIN, 1)[1].split(MARKDOWN_END, 1)[0]
    tables = [chunk.strip().splitlines() for chunk in block.split("###")[1:]]
    for lines in tables:
        rows = [line for line in lines if line.startswith("|")]
        assert rows[1].startswith("|---"), lines[0]
        assert rows.count(rows[0]) == 1, f"{lines[0]}: header row {rows.count(rows[0])} times"
