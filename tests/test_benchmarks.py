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


def _item_calls(monkeypatch) -> list[tuple]:
    """Each PutItem and GetItem made from now on, as what moto is given to do: the operation, every
    other parameter's name, the condition, and each attribute's type and size."""
    import botocore.client

    calls: list[tuple] = []
    make_api_call = botocore.client.BaseClient._make_api_call

    def recorded(client, operation, params):
        if operation in {"PutItem", "GetItem"}:
            attributes = params.get("Item") or params["Key"]
            shape = {
                name: {kind: len(value) for kind, value in typed.items()}
                for name, typed in attributes.items()
            }
            others = sorted(set(params) - {"TableName", "Item", "Key"})
            calls.append((operation, others, params.get("ConditionExpression"), shape))
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
    lc.raw_moto_requests()
    assert [operation for operation, *_ in served] == ["PutItem", "GetItem"]
    assert calls == served


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
