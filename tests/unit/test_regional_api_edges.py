"""The catalog's answers at their edges: the default language and the fallback name, a product without
stock or names, a quote in the base currency, the bearer scheme's spelling, headers that must not
leak from one request into the next, and the origin secret re-read at exactly the minute and the
five minutes the module promises (on a clock the test holds)."""

from __future__ import annotations

import boto3
import pytest

from tests.unit import test_regional_api as base
from tests.unit.test_regional_api import SECRET, call

pytestmark = pytest.mark.unit

catalog = base.catalog  # one moto and one cold start for this module too


def put_product(product_id: str, **fields) -> None:
    boto3.resource("dynamodb").Table("catalog").put_item(Item={"pk": f"product#{product_id}", **fields})


def test_the_default_language_names_the_product_and_serves_when_the_asked_one_has_no_name(
    catalog, lambda_context
):
    status, body, headers = call(catalog, lambda_context, "GET", "/products/p-1")
    assert (status, body["language"], body["name"], headers["Content-Language"]) == (
        200,
        "en",
        "Green tea",
        "en",
    )
    put_product("p-en", names={"en": "Black tea"}, price_cents=500)
    _, body, headers = call(
        catalog, lambda_context, "GET", "/products/p-en", headers={"Accept-Language": "de"}
    )
    assert (body["language"], body["name"], headers["Content-Language"]) == ("de", "Black tea", "de")
    _, body, _ = call(catalog, lambda_context, "GET", "/products/p-en", headers={"Accept-Language": "DE-at"})
    assert body["language"] == "de", "tags compare case-insensitively, a region falls back to its language"


def test_a_product_without_stock_or_names_answers_zero_and_an_empty_name(catalog, lambda_context):
    put_product("p-bare", price_cents=1)
    assert call(catalog, lambda_context, "GET", "/products/p-bare/stock")[1] == {
        "product_id": "p-bare",
        "in_stock": 0,
    }
    assert call(catalog, lambda_context, "GET", "/products/p-bare")[1]["name"] == ""


def test_a_quote_without_a_currency_is_in_the_base_currency(catalog, lambda_context):
    status, body, _ = call(
        catalog, lambda_context, "POST", "/quotes", body={"product_id": "p-1", "quantity": 2}
    )
    assert (status, body["currency"], body["unit_cents"], body["total_cents"]) == (200, "EUR", 1000, 2000)


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        ("bearer tok-ann", 200),
        ("BEARER  tok-ann ", 200),
        ("Bearer ", 401),
        ("Bearer    ", 401),
        ("tok-ann", 401),
    ],
)
def test_the_bearer_scheme_is_case_insensitive_and_an_empty_token_is_refused(
    catalog, lambda_context, authorization, status
):
    answered, body, _ = call(
        catalog, lambda_context, "GET", "/products/p-1", headers={"Authorization": authorization}
    )
    assert answered == status
    if status == 200:
        assert (body["price_cents"], body["member_price"]) == (900, True)
    else:
        assert body["message"] == "Authorization: expected 'Bearer <token>'"


def test_an_answers_headers_do_not_leak_into_the_next_one(catalog, lambda_context):
    call(catalog, lambda_context, "GET", "/products/p-1", headers={"Accept-Language": "de"})
    _, _, headers = call(catalog, lambda_context, "GET", "/")
    assert "Content-Language" not in headers
    call(catalog, lambda_context, "GET", "/products/p-1")
    _, _, headers = call(catalog, lambda_context, "GET", "/products/p-1", secret="wrong")
    assert headers == {"Content-Type": "application/json", "Cache-Control": "no-store"}
    call(catalog, lambda_context, "GET", "/products/p-1")
    _, _, headers = call(catalog, lambda_context, "GET", "/nowhere")
    assert headers == {"Content-Type": "application/json", "Cache-Control": "no-store"}


def test_the_secret_is_reread_at_exactly_one_minute_on_a_mismatch_and_five_regardless(
    catalog, lambda_context, monkeypatch
):
    """The module's promise in seconds: 60 after a read on a mismatch, 300 after it regardless."""
    clock = [1_000.0]
    monkeypatch.setattr(catalog.time, "monotonic", lambda: clock[0])
    reads = []
    real = catalog.secrets.get_secret_value
    monkeypatch.setattr(catalog.secrets, "get_secret_value", lambda **kw: reads.append(kw) or real(**kw))
    catalog._secret.update(values=(), read_at=float("-inf"))
    secrets = boto3.client("secretsmanager")
    try:
        assert call(catalog, lambda_context, "GET", "/", secret=SECRET)[0] == 200
        assert len(reads) == 2, "the current and the (not yet existing) previous value"
        secrets.put_secret_value(SecretId="origin", SecretString="rotated")
        clock[0] = 1_059.5
        assert call(catalog, lambda_context, "GET", "/", secret="rotated")[0] == 403, "not re-read yet"
        assert len(reads) == 2
        clock[0] = 1_060.0
        assert call(catalog, lambda_context, "GET", "/", secret="rotated")[0] == 200, "a minute: re-read"
        assert len(reads) == 4
        clock[0] = 1_359.5
        assert call(catalog, lambda_context, "GET", "/", secret=SECRET)[0] == 200, "the previous value"
        assert len(reads) == 4
        clock[0] = 1_360.0
        assert call(catalog, lambda_context, "GET", "/", secret=SECRET)[0] == 200
        assert len(reads) == 6, "five minutes: re-read though the value matched"
    finally:
        secrets.put_secret_value(SecretId="origin", SecretString=SECRET)
        catalog._secret.update(values=(), read_at=float("-inf"))


def test_a_language_tag_with_a_quality_is_read_by_its_tag(catalog, lambda_context):
    _, body, _ = call(
        catalog, lambda_context, "GET", "/products/p-1", headers={"Accept-Language": "de;q=0.9"}
    )
    assert body["language"] == "de"


QUOTE_LIMITS = [
    ({"product_id": "p-1", "quantity": 1}, 200, None),
    ({"product_id": "p-1", "quantity": 100}, 200, None),
    ({"product_id": "p-1", "quantity": 101}, 400, "quantity: greater than 100"),
    ({"product_id": "", "quantity": 1}, 400, "product_id: shorter than 1"),
    ({"product_id": "p" * 64, "quantity": 1}, 404, f"product {'p' * 64} not found"),
    ({"product_id": "p" * 65, "quantity": 1}, 400, "product_id: longer than 64"),
]


def test_a_quotes_limits_hold_at_their_edge_and_one_past(catalog, lambda_context):
    for body, status, message in QUOTE_LIMITS:
        answered, said, _ = call(catalog, lambda_context, "POST", "/quotes", body=body)
        assert answered == status, body
        if message is not None:
            assert said["message"] == message, "the schema's own message, before any key is built"
        else:
            assert said["total_cents"] == 1000 * body["quantity"]


def test_a_product_id_in_the_path_may_be_64_bytes_not_65(catalog, lambda_context):
    edge = "\u00e9" * 32  # 64 bytes in UTF-8: the key's limit counts bytes
    status, body, _ = call(catalog, lambda_context, "GET", f"/products/{edge}")
    assert (status, body["message"]) == (404, f"product {edge} not found")
    status, body, _ = call(catalog, lambda_context, "GET", f"/products/{edge}e")
    assert (status, body["message"].split(":")[0]) == (400, "product_id")
