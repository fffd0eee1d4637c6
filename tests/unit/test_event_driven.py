"""The event-driven transformer against moto: streamed CSV in, JSON lines out once, bad objects rejected."""

from __future__ import annotations

import csv
import importlib
import io
import json
import sys
from types import ModuleType, SimpleNamespace

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.conftest import FUNCTIONS

pytestmark = pytest.mark.unit


def _import_rows() -> ModuleType:
    """``rows`` through the import system, as the handler imports it, so an import hook (the mutation
    tool's) serves this copy too; executing the file directly would bypass it. Not left in
    sys.modules, where another row's ``rows`` may be imported later."""
    sys.path.insert(0, str(FUNCTIONS / "event_driven"))
    sys.modules.pop("rows", None)
    try:
        return importlib.import_module("rows")
    finally:
        sys.path.remove(str(FUNCTIONS / "event_driven"))
        sys.modules.pop("rows", None)


ROWS_MODULE = _import_rows()

UPLOAD, OUTPUT = "uploads", "outputs"
HEADER = b"sku,name,quantity,price_cents\n"
GOOD = HEADER + b'A-1,"Lamp, brass",3,1299\nB-22,Chair,0,4500\n'
GOOD_LINES = [
    {"sku": "A-1", "name": "Lamp, brass", "quantity": 3, "price_cents": 1299},
    {"sku": "B-22", "name": "Chair", "quantity": 0, "price_cents": 4500},
]


@pytest.fixture
def transform(aws, load_handler):
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in (UPLOAD, OUTPUT):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    module = load_handler(
        "event_driven",
        "transform",
        UPLOAD_BUCKET_NAME=UPLOAD,
        OUTPUT_BUCKET_NAME=OUTPUT,
        INPUT_PREFIX="incoming/",
        INPUT_SUFFIX=".csv",
        OUTPUT_PREFIX="validated/",
        MAX_OBJECT_BYTES="4096",
        MAX_FIELD_BYTES="1024",
    )
    return module


def upload(module, key: str, body: bytes, bucket: str = UPLOAD) -> dict:
    """Put the object and build the event S3 sends for it (the key URL-encoded)."""
    put = module.s3.put_object(Bucket=bucket, Key=key, Body=body)
    encoded = key.replace(" ", "+")
    return {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": encoded, "size": len(body), "eTag": put["ETag"].strip('"')},
                },
            }
        ]
    }


def output(module, key: str = "validated/stock.jsonl") -> list[dict]:
    body = module.s3.get_object(Bucket=OUTPUT, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def versions(module) -> int:
    return len(module.s3.list_object_versions(Bucket=OUTPUT).get("Versions", []))


def test_a_csv_becomes_validated_json_lines_under_the_output_prefix(
    transform, lambda_context, emitted_metrics
):
    done = transform.handler(upload(transform, "incoming/stock.csv", GOOD), lambda_context)
    assert done == [
        {"key": "incoming/stock.csv", "output_key": "validated/stock.jsonl", "rows": 2, "written": True}
    ]
    assert output(transform) == GOOD_LINES
    head = transform.s3.head_object(Bucket=OUTPUT, Key="validated/stock.jsonl")
    assert head["ContentType"] == "application/x-ndjson"
    assert head["Metadata"]["source-key"] == "incoming/stock.csv"
    assert emitted_metrics() == {"ObjectsConverted": 1, "RowsConverted": 2}


def test_a_key_with_spaces_and_folders_keeps_its_path(transform, lambda_context):
    transform.handler(upload(transform, "incoming/2026/May stock.csv", GOOD), lambda_context)
    assert output(transform, "validated/2026/May stock.jsonl") == GOOD_LINES


def test_the_same_content_again_writes_nothing_and_new_content_replaces_it(transform, lambda_context):
    transform.handler(upload(transform, "incoming/stock.csv", GOOD), lambda_context)
    [again] = transform.handler(upload(transform, "incoming/stock.csv", GOOD), lambda_context)
    assert again["written"] is False and versions(transform) == 1, "no new version, no new event"
    changed = HEADER + b"A-1,Lamp,4,1299\n"
    [replaced] = transform.handler(upload(transform, "incoming/stock.csv", changed), lambda_context)
    assert replaced["written"] is True and versions(transform) == 2
    assert output(transform) == [{"sku": "A-1", "name": "Lamp", "quantity": 4, "price_cents": 1299}]


def test_an_object_overwritten_since_its_event_is_left_to_its_newer_event(transform, lambda_context):
    stale = upload(transform, "incoming/stock.csv", GOOD)
    transform.s3.put_object(Bucket=UPLOAD, Key="incoming/stock.csv", Body=HEADER)
    assert transform.handler(stale, lambda_context) == [
        {"key": "incoming/stock.csv", "skipped": "superseded"}
    ]
    assert versions(transform) == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty: expected the header"),
        (
            b"sku,name\nA-1,Lamp\n",
            "line 1: expected the header sku,name,quantity,price_cents, got 'sku,name'",
        ),
        (HEADER + b"A-1,Lamp,three,1\n", "line 2: quantity: expected a whole number, got 'three'"),
        (
            HEADER + b"a 1,,1,1\n",
            "line 2: sku: expected 1 to 32 of A-Z, 0-9 and '-', got 'a 1'; name: expected",
        ),
        (HEADER + b"A-1,Lamp,1\n", "line 2: expected 4 fields, got 3"),
        (HEADER + b"A-1,Lamp,1,9999999999\n", "line 2: price_cents: greater than 100000000"),
        (HEADER + b"A-1,L\xe9mp,1,1\n", "not UTF-8: invalid byte 0xe9"),
        (HEADER + b'A-1,"' + b"x" * 1100 + b'",1,1\n', "line 2: field larger than field limit (1024)"),
        (HEADER + b"A-1," + b"x" * 2000 + b",1,1\n", "line 2: field larger than field limit (1024)"),
        (HEADER + b'A-1,"Lamp,1,1\n', "line 2: unexpected end of data"),
    ],
)
def test_a_bad_csv_is_rejected_with_the_line_and_the_reason(body, reason):
    with pytest.raises(ROWS_MODULE.Rejected) as rejected:
        list(ROWS_MODULE.records(io.BytesIO(body), max_bytes=4096, max_field=1024))
    assert str(rejected.value).startswith(reason)


def test_a_bad_object_is_rejected_naming_bucket_and_key_and_leaves_no_output(transform, lambda_context):
    body = HEADER + b"A-1,Lamp,1,1\n" * 3 + b"A-1,Lamp,three,1\n"
    with pytest.raises(transform.ObjectRejected) as rejected:
        transform.handler(upload(transform, "incoming/bad.csv", body), lambda_context)
    reason = "line 5: quantity: expected a whole number, got 'three'"
    assert str(rejected.value) == f"s3://{UPLOAD}/incoming/bad.csv: {reason}"
    assert versions(transform) == 0, "never a partial output"


def test_an_object_over_the_cap_is_refused_before_it_is_read(transform, lambda_context):
    event = upload(transform, "incoming/big.csv", HEADER + b"A-1,Lamp,1,1\n" * 400)
    with pytest.raises(
        transform.ObjectRejected, match=r"incoming/big.csv: 5230 bytes, larger than the limit of 4096"
    ):
        transform.handler(event, lambda_context)


def test_an_object_that_grew_past_its_event_size_is_stopped_while_streaming(transform, lambda_context):
    event = upload(transform, "incoming/grew.csv", HEADER + b"A-1,Lamp,1,1\n" * 400)
    event["Records"][0]["s3"]["object"]["size"] = 10
    with pytest.raises(transform.ObjectRejected, match="larger than the limit of 4096 bytes"):
        transform.handler(event, lambda_context)


@pytest.mark.parametrize(
    ("bucket", "key", "message"),
    [
        (UPLOAD, "validated/stock.csv", "outside this function's upload filter"),
        (UPLOAD, "incoming/stock.txt", "outside this function's upload filter"),
        (OUTPUT, "incoming/stock.csv", "outside this function's upload filter"),
    ],
)
def test_an_event_outside_the_filter_is_refused(transform, lambda_context, bucket, key, message):
    with pytest.raises(transform.ObjectRejected, match=message):
        transform.handler(upload(transform, key, GOOD, bucket=bucket), lambda_context)


def test_one_bucket_whose_outputs_match_the_filter_is_refused_at_run_time_too(
    aws, load_handler, lambda_context
):
    module = load_handler(
        "event_driven",
        "transform",
        UPLOAD_BUCKET_NAME=UPLOAD,
        OUTPUT_BUCKET_NAME=UPLOAD,
        INPUT_PREFIX="data/",
        INPUT_SUFFIX="",
        OUTPUT_PREFIX="data/out/",
        MAX_OBJECT_BYTES="4096",
        MAX_FIELD_BYTES="1024",
    )
    with pytest.raises(module.ObjectRejected, match="its output would trigger this function again"):
        module.convert(UPLOAD, "data/x.csv", "etag", 10)


def test_an_event_without_records_is_refused(transform, lambda_context):
    with pytest.raises(transform.ObjectRejected, match="not an S3 event notification"):
        transform.handler({"detail": {}}, lambda_context)


NAMES = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")
ROWS = st.lists(
    st.tuples(
        st.builds(str.__add__, st.sampled_from("AZ09"), st.text("AZ09-", max_size=10)),
        NAMES,
        st.integers(0, 1_000_000),
        st.integers(0, 100_000_000),
    ),
    max_size=8,
)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(rows=ROWS)
def test_any_valid_csv_round_trips_to_the_same_records(rows):
    """What csv.writer writes (quoting, commas, quotes in names), the reader gives back typed."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["sku", "name", "quantity", "price_cents"])
    writer.writerows(rows)
    read = list(ROWS_MODULE.records(io.BytesIO(text.getvalue().encode()), max_bytes=1 << 20, max_field=1024))
    assert read == [{"sku": s, "name": n, "quantity": q, "price_cents": p} for s, n, q, p in rows]


def test_a_line_of_many_small_fields_is_cut_at_the_line_cap_before_the_parser_sees_it():
    """A field cap alone would let a line of a million one-byte fields through: the line cap stops it."""
    with pytest.raises(ROWS_MODULE.Rejected, match="line 1: longer than 4110 characters"):
        list(ROWS_MODULE.records(io.BytesIO(b"a," * 3000), max_bytes=1 << 20, max_field=1024))


# ----------------------------------------------------------------------------------------- limits at their edge


def _record(**fields: str) -> dict:
    row = {"sku": "A-1", "name": "Lamp", "quantity": "1", "price_cents": "1", **fields}
    return ROWS_MODULE.record([row["sku"], row["name"], row["quantity"], row["price_cents"]])


@pytest.mark.parametrize(
    ("field", "at_limit", "past_it", "problem"),
    [
        ("name", "n" * 200, "n" * 201, "name: expected 1 to 200 characters"),
        ("quantity", "1000000", "1000001", "quantity: greater than 1000000"),
        ("price_cents", "100000000", "100000001", "price_cents: greater than 100000000"),
        ("sku", "S" * 32, "S" * 33, "sku: expected 1 to 32 of A-Z"),
    ],
)
def test_each_field_is_accepted_at_its_limit_and_refused_one_past_it(field, at_limit, past_it, problem):
    assert _record(**{field: at_limit})[field] in (at_limit, int(at_limit) if at_limit.isdigit() else None)
    with pytest.raises(ValueError, match=f"^{problem}"):
        _record(**{field: past_it})


@pytest.mark.parametrize("name", ["   ", "Lamp\x07", "Lamp\u200b", "Lamp\u202e"])
def test_a_blank_name_or_one_with_a_control_or_format_character_is_refused(name):
    with pytest.raises(ValueError, match="name: expected 1 to 200 characters, no control characters"):
        _record(name=name)


def test_a_bad_value_is_quoted_up_to_40_characters_then_cut():
    with pytest.raises(ValueError, match="got '" + "x" * 40 + "'$"):
        _record(quantity="x" * 40)
    with pytest.raises(ValueError, match=r"got '" + "x" * 40 + r"\.\.\.'$"):
        _record(quantity="x" * 41)


def test_every_bad_field_of_a_row_is_named_at_once():
    with pytest.raises(ValueError) as raised:
        _record(sku="a", name="", quantity="-1", price_cents="1.5")
    assert [problem.split(":")[0] for problem in str(raised.value).split("; ")] == [
        "sku",
        "name",
        "quantity",
        "price_cents",
    ]


def _read(body: bytes, **limits: int) -> list[dict]:
    return list(ROWS_MODULE.records(io.BytesIO(body), **{"max_bytes": 4096, "max_field": 1024, **limits}))


def test_an_object_of_exactly_max_bytes_is_read_and_one_byte_more_is_refused():
    body = HEADER + b"A-1,Lamp,1,1\n"
    assert _read(body, max_bytes=len(body)) == [
        {"sku": "A-1", "name": "Lamp", "quantity": 1, "price_cents": 1}
    ]
    with pytest.raises(ROWS_MODULE.Rejected, match=f"^larger than the limit of {len(body) - 1} bytes$"):
        _read(body, max_bytes=len(body) - 1)


def test_a_line_of_exactly_the_line_cap_is_parsed_and_one_character_more_is_cut():
    """Four quoted fields of max_field characters, one holding an escaped quote: 4 * 11 + 14 = 58."""
    at_cap = b'"AAAAAAAAAAA","xxxxxxxxxx""","00000000000","00000000000"\r\n'
    assert len(at_cap) == 58
    assert _read(HEADER + at_cap, max_field=11) == [
        {"sku": "AAAAAAAAAAA", "name": 'xxxxxxxxxx"', "quantity": 0, "price_cents": 0}
    ]
    past = at_cap.replace(b'"\r\n', b' "\r\n')
    with pytest.raises(ROWS_MODULE.Rejected, match=r"^line 2: longer than 58 characters$"):
        _read(HEADER + past, max_field=11)


def test_the_field_cap_is_the_one_given_to_each_call():
    """Python's csv limit is per process: each call sets its own, tighter or looser than the last."""
    with pytest.raises(ROWS_MODULE.Rejected, match=r"line 2: field larger than field limit \(11\)"):
        _read(HEADER + b"A-1," + b"n" * 12 + b",1,1\n", max_field=11)
    assert _read(HEADER + b"A-1," + b"n" * 50 + b",1,1\n", max_field=100)[0]["name"] == "n" * 50


def test_blank_lines_are_skipped_and_a_stray_quote_is_refused():
    assert [r["sku"] for r in _read(HEADER + b"A-1,Lamp,1,1\n\nB-2,Chair,2,2\n")] == ["A-1", "B-2"]
    with pytest.raises(ROWS_MODULE.Rejected, match=r"""^line 2: ',' expected after '"'$"""):
        _read(HEADER + b'A-1,"Lamp"x,1,1\n')


# ----------------------------------------------------------------------------------------- transform edges


def test_an_object_of_exactly_the_cap_is_converted(transform, lambda_context):
    body = HEADER + b"A-1,Lamp,1,1\n" * ((4096 - len(HEADER)) // 13)
    body += b"\n" * (4096 - len(body))
    [done] = transform.handler(upload(transform, "incoming/stock.csv", body), lambda_context)
    assert done["written"] is True and len(body) == 4096


def test_an_unchanged_output_is_counted_and_non_ascii_names_stay_utf8(
    transform, lambda_context, emitted_metrics
):
    body = HEADER + "A-1,Lámpara,1,1\n".encode()
    transform.handler(upload(transform, "incoming/stock.csv", body), lambda_context)
    raw = transform.s3.get_object(Bucket=OUTPUT, Key="validated/stock.jsonl")["Body"].read()
    assert raw == '{"sku":"A-1","name":"Lámpara","quantity":1,"price_cents":1}\n'.encode()
    emitted_metrics()
    transform.handler(upload(transform, "incoming/stock.csv", body), lambda_context)
    assert emitted_metrics() == {"ObjectsUnchanged": 1}


def test_an_s3_error_other_than_the_precondition_is_raised_for_lambda_to_retry(transform, lambda_context):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="NoSuchKey"):
        transform.convert(UPLOAD, "incoming/gone.csv", "etag", 10)


@pytest.mark.parametrize(
    ("output_bucket", "prefix", "suffix", "output_prefix"),
    [(OUTPUT, "", "", "validated/"), (UPLOAD, "incoming/", ".csv", "validated/")],
)
def test_an_output_that_cannot_trigger_the_function_again_is_written(
    aws, load_handler, lambda_context, output_bucket, prefix, suffix, output_prefix
):
    """Only one bucket AND an output key inside the filter loops; either alone is safe."""
    module = load_handler(
        "event_driven",
        "transform",
        UPLOAD_BUCKET_NAME=UPLOAD,
        OUTPUT_BUCKET_NAME=output_bucket,
        INPUT_PREFIX=prefix,
        INPUT_SUFFIX=suffix,
        OUTPUT_PREFIX=output_prefix,
        MAX_OBJECT_BYTES="4096",
        MAX_FIELD_BYTES="1024",
    )
    for bucket in {UPLOAD, output_bucket}:
        module.s3.create_bucket(Bucket=bucket)
    [done] = module.handler(upload(module, "incoming/stock.csv", GOOD), lambda_context)
    assert done["written"] is True
    assert done["output_key"] == f"{output_prefix}{'stock' if prefix else 'incoming/stock.csv'}.jsonl"


def test_the_output_is_kept_in_memory_up_to_8_mib_then_spooled_to_tmp(transform, lambda_context, monkeypatch):
    """The page's memory promise: a large output goes to /tmp rather than growing the function's memory."""
    spools = []

    class Recorded(transform.tempfile.SpooledTemporaryFile):
        def __init__(self, max_size: int = 0, *args, **kwargs) -> None:
            spools.append(max_size)
            super().__init__(max_size, *args, **kwargs)

    monkeypatch.setattr(transform, "tempfile", SimpleNamespace(SpooledTemporaryFile=Recorded))
    transform.handler(upload(transform, "incoming/stock.csv", GOOD), lambda_context)
    assert spools == [8 * 1024 * 1024]
