"""The catalog handler against moto: what each answer lets a shared cache keep, prices by currency and
member token, names by language, and the refusals (no origin secret, a bad field, an unknown token)."""

from __future__ import annotations

import hashlib
import importlib
import json
import sys

import boto3
import pytest
from moto import mock_aws

from tests.events import api_event
from tests.unit.conftest import FUNCTIONS

pytestmark = pytest.mark.unit
SECRET = "s3cr3t-origin-value"


@pytest.fixture(scope="module")
def catalog():
    """One moto and one cold start for the module: the handler keeps no state but the secret's cache."""
    with mock_aws(config={"core": {"reset_boto3_session": False}}), pytest.MonkeyPatch.context() as patch:
        boto3.client("dynamodb").create_table(
            TableName="catalog",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        table = boto3.resource("dynamodb").Table("catalog")
        table.put_item(
            Item={
                "pk": "product#p-1",
                "names": {"en": "Green tea", "de": "Grüner Tee"},
                "price_cents": 1000,
                "stock": 7,
            }
        )
        table.put_item(
            Item={"pk": f"member#{hashlib.sha256(b'tok-ann').hexdigest()}", "discount_percent": 10}
        )
        arn = boto3.client("secretsmanager").create_secret(Name="origin", SecretString=SECRET)["ARN"]
        environment = {
            "TABLE_NAME": "catalog",
            "ORIGIN_HEADER": "X-Origin-Verify",
            "ORIGIN_SECRET_ARN": arn,
            "CURRENCIES": '{"EUR":"1","USD":"1.085"}',
            "LANGUAGES": "en,de",
            "EDGE_MAX_AGE": "60",
        }
        for key, value in environment.items():
            patch.setenv(key, value)
        patch.syspath_prepend(str(FUNCTIONS / "regional_api"))
        sys.modules.pop("catalog", None)
        yield importlib.import_module("catalog")
        sys.modules.pop("catalog", None)


def call(catalog, lambda_context, method, path, *, secret=SECRET, **kwargs):
    headers = kwargs.pop("headers", {})
    if secret is not None:
        headers["x-origin-verify"] = secret
    answer = catalog.handler(api_event(method, path, headers=headers, **kwargs), lambda_context)
    headers = {name: values[0] for name, values in answer["multiValueHeaders"].items()}
    return answer["statusCode"], json.loads(answer["body"]), headers


def test_an_anonymous_product_is_public_at_the_edge_and_revalidated_by_browsers(catalog, lambda_context):
    status, body, headers = call(
        catalog,
        lambda_context,
        "GET",
        "/products/p-1",
        query={"currency": "USD"},
        headers={"Accept-Language": "de-CH,de;q=0.9"},
    )
    assert status == 200
    assert body == {
        "product_id": "p-1",
        "name": "Grüner Tee",
        "language": "de",
        "currency": "USD",
        "price_cents": 1085,
        "member_price": False,
    }
    assert headers["Cache-Control"] == "public, max-age=0, s-maxage=60"
    assert headers["Content-Language"] == "de"
    _, english, _ = call(
        catalog, lambda_context, "GET", "/products/p-1", headers={"Accept-Language": "fr, en;q=0.5"}
    )
    assert (english["name"], english["currency"], english["price_cents"]) == ("Green tea", "EUR", 1000)


def test_the_root_says_what_may_be_asked_and_is_public(catalog, lambda_context):
    status, body, headers = call(catalog, lambda_context, "GET", "/")
    assert (status, body["currencies"], body["languages"]) == (200, ["EUR", "USD"], ["en", "de"])
    assert headers["Cache-Control"] == "public, max-age=0, s-maxage=60"


def test_a_members_price_is_personal_and_never_kept(catalog, lambda_context):
    status, body, headers = call(
        catalog, lambda_context, "GET", "/products/p-1", headers={"Authorization": "Bearer tok-ann"}
    )
    assert (status, body["price_cents"], body["member_price"]) == (200, 900, True)
    assert headers["Cache-Control"] == "private, no-store"
    for authorization, reason in (("Bearer tok-eve", "unknown"), ("Basic dXNlcg==", "expected 'Bearer")):
        status, body, headers = call(
            catalog, lambda_context, "GET", "/products/p-1", headers={"Authorization": authorization}
        )
        assert status == 401 and reason in body["message"] and headers["Cache-Control"] == "no-store"


def test_stock_and_quotes_are_never_kept(catalog, lambda_context):
    status, body, headers = call(catalog, lambda_context, "GET", "/products/p-1/stock")
    assert (status, body, headers["Cache-Control"]) == (200, {"product_id": "p-1", "in_stock": 7}, "no-store")
    status, body, headers = call(
        catalog,
        lambda_context,
        "POST",
        "/quotes",
        body={"product_id": "p-1", "quantity": 3, "currency": "USD"},
    )
    assert (status, body["unit_cents"], body["total_cents"], headers["Cache-Control"]) == (
        200,
        1085,
        3255,
        "no-store",
    )


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "names"),
    [
        ("GET", "/products/p-1", {"query": {"currency": "XYZ"}}, 400, "currency"),
        ("GET", "/products/nope", {}, 404, "product nope"),
        ("POST", "/quotes", {"body": {"product_id": "p-1", "quantity": 0}}, 400, "quantity"),
        (
            "POST",
            "/quotes",
            {"body": {"product_id": "p-1", "quantity": 1, "currency": "JPY"}},
            400,
            "currency",
        ),
        ("POST", "/quotes", {"body": "{not json"}, 400, "body"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_and_never_kept(
    catalog, lambda_context, method, path, kwargs, status, names
):
    answered, body, headers = call(catalog, lambda_context, method, path, **kwargs)
    assert (answered, headers["Cache-Control"]) == (status, "no-store")
    assert names in body["message"]


@pytest.mark.parametrize("secret", [None, "", "wrong"])
def test_a_call_without_the_origin_secret_is_refused_before_anything_is_read(
    catalog, lambda_context, secret, monkeypatch
):
    monkeypatch.setattr(catalog.table, "client", None)  # any read would fail: the refusal comes first
    status, body, headers = call(catalog, lambda_context, "GET", "/products/p-1", secret=secret)
    assert (status, headers["Cache-Control"]) == (403, "no-store")
    assert "through its CloudFront distribution" in body["message"]


def test_the_secret_is_read_once_and_again_after_a_rotation(catalog, lambda_context, monkeypatch):
    """CloudFront sends the old value until the distribution's update has reached every edge, so the
    previous value stays good until the next rotation, also for an environment started meanwhile."""
    catalog._secret.update(values=(), read_at=float("-inf"))  # a cold start's cache
    reads = []
    real = catalog.secrets.get_secret_value
    monkeypatch.setattr(catalog.secrets, "get_secret_value", lambda **kw: reads.append(kw) or real(**kw))
    for _ in range(3):
        assert call(catalog, lambda_context, "GET", "/products/p-1")[0] == 200
    assert len(reads) == 2, "the current and (none yet) previous value, once"
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId="origin", SecretString="rotated")
    clock = [catalog.time.monotonic() + catalog.SECRET_REREAD_SECONDS]
    monkeypatch.setattr(catalog.time, "monotonic", lambda: clock[0])
    assert call(catalog, lambda_context, "GET", "/products/p-1", secret="rotated")[0] == 200
    assert call(catalog, lambda_context, "GET", "/products/p-1", secret=SECRET)[0] == 200, "still propagating"
    assert call(catalog, lambda_context, "GET", "/products/p-1", secret="wrong")[0] == 403
    assert len(reads) == 4, "a value that matches neither is not re-read within the minute"
    catalog._secret.update(values=(), read_at=float("-inf"))
    assert call(catalog, lambda_context, "GET", "/products/p-1", secret=SECRET)[0] == 200, "a cold start too"
    secrets.put_secret_value(SecretId="origin", SecretString="rotated-again")
    clock[0] += catalog.SECRET_MAX_AGE_SECONDS - 1
    assert call(catalog, lambda_context, "GET", "/products/p-1", secret=SECRET)[0] == 200, "still cached"
    clock[0] += 1
    assert call(catalog, lambda_context, "GET", "/products/p-1", secret=SECRET)[0] == 403, (
        "two rotations back: gone once the cache is SECRET_MAX_AGE_SECONDS old, even with no other request"
    )
    assert call(catalog, lambda_context, "GET", "/products/p-1", secret="rotated")[0] == 200
    secrets.put_secret_value(SecretId="origin", SecretString=SECRET)
    catalog._secret.update(values=(), read_at=float("-inf"))
