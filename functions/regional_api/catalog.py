"""A product catalog behind CloudFront: prices by currency and names by language, cacheable at the edge.

Every answer says how a shared cache may keep it, since CloudFront follows the origin's
``Cache-Control`` within its cache policy's TTLs:

- ``GET /products/{id}?currency=EUR`` (``Accept-Language`` picks the name) is the same for every
  anonymous caller: ``public, max-age=0, s-maxage=EDGE_MAX_AGE``: the edge keeps it, browsers ask again.
- the same with ``Authorization: Bearer <token>`` is a member's price: ``private, no-store``; a
  token this table does not know is a 401.
- ``GET /`` (the currencies, languages and routes) is public too;
- ``GET /products/{id}/stock`` changes with every sale, and ``POST /quotes`` is a computation:
  ``no-store``.

Only CloudFront may call: a request without the secret origin header (``ORIGIN_HEADER``, whose value
is the Secrets Manager secret ``ORIGIN_SECRET_ARN``: its current or its previous value, read once,
again at most once a minute when a request does not match and every 5 minutes regardless, so a
rotation is picked up while the edges still sending the previous value are served, and a retired
value stops working within 5 minutes) is a 403 before anything is read.

Bad input is a 400 naming the field; an unknown product a 404. Configuration: ``TABLE_NAME``,
``CURRENCIES`` (JSON: code -> rate from the base currency, the first), ``LANGUAGES`` (the first is
the default), ``EDGE_MAX_AGE`` (seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import boto3

from shared.dynamodb import Table
from shared.http import BadRequest, HttpError, NotFound, Router, error_answer, key_parameter, validated_body
from shared.observability import instrument, logger
from shared.validation import Field, Schema

table = Table(os.environ["TABLE_NAME"])
ORIGIN_HEADER = os.environ["ORIGIN_HEADER"].lower()
ORIGIN_SECRET_ARN = os.environ["ORIGIN_SECRET_ARN"]
CURRENCIES: dict[str, Decimal] = {
    code: Decimal(rate) for code, rate in json.loads(os.environ["CURRENCIES"]).items()
}
BASE_CURRENCY = next(iter(CURRENCIES))
LANGUAGES = tuple(os.environ["LANGUAGES"].split(","))
EDGE_MAX_AGE = int(os.environ["EDGE_MAX_AGE"])
#: How soon a request that does not match may make the function read the secret again.
SECRET_REREAD_SECONDS = 60
#: The longest a value read is trusted, so a value two rotations old stops working this soon.
SECRET_MAX_AGE_SECONDS = 300
MAX_QUANTITY = 100

PUBLIC = f"public, max-age=0, s-maxage={EDGE_MAX_AGE}"
PERSONAL = "private, no-store"
NEVER = "no-store"
QUOTE = Schema(
    product_id=Field(str, min_length=1, max_length=64),
    quantity=Field(int, minimum=1, maximum=MAX_QUANTITY),
    currency=Field(str, required=False, choices=tuple(CURRENCIES)),
)

secrets = boto3.client("secretsmanager")
_secret: dict[str, Any] = {"values": (), "read_at": float("-inf")}
app = Router()


#: The headers of this request's answer besides ``Content-Type``; an error answer keeps ``no-store``.
_answer_headers: dict[str, str] = {}


def answered(body: dict[str, Any], cache_control: str, **headers: str) -> dict[str, Any]:
    """``body``, answered with ``cache_control`` and ``headers``."""
    _answer_headers.update({"Cache-Control": cache_control, **headers})
    return body


@app.get("/")
def index() -> dict[str, Any]:
    """What a caller may ask, so the distribution's own URL answers something useful."""
    body = {
        "currencies": list(CURRENCIES),
        "languages": list(LANGUAGES),
        "routes": ["GET /products/{id}?currency=", "GET /products/{id}/stock", "POST /quotes"],
    }
    return answered(body, PUBLIC)


@app.get("/products/<product_id>")
def get_product(product_id: str) -> dict[str, Any]:
    product = _product(product_id)
    currency = _currency(_query().get("currency"))
    language = _language(_header("accept-language"))
    member = _member()
    price = _converted(int(product["price_cents"]), currency)
    if member is not None:
        price = int(
            (Decimal(price) * (100 - int(member["discount_percent"])) / 100).quantize(1, ROUND_HALF_UP)
        )
    names = product.get("names") or {}
    body = {
        "product_id": product_id,
        "name": str(names.get(language) or names.get(LANGUAGES[0], "")),
        "language": language,
        "currency": currency,
        "price_cents": price,
        "member_price": member is not None,
    }
    return answered(body, PERSONAL if member is not None else PUBLIC, **{"Content-Language": language})


@app.get("/products/<product_id>/stock")
def get_stock(product_id: str) -> dict[str, Any]:
    product = _product(product_id)
    return answered({"product_id": product_id, "in_stock": int(product.get("stock", 0))}, NEVER)


@app.post("/quotes")
def quote() -> dict[str, Any]:
    request = validated_body(app, QUOTE)
    product = _product(request["product_id"])
    currency = request.get("currency", BASE_CURRENCY)
    unit = _converted(int(product["price_cents"]), currency)
    body = {**request, "currency": currency, "unit_cents": unit, "total_cents": unit * request["quantity"]}
    return answered(body, NEVER)


@instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _answer_headers.clear()
    _answer_headers["Cache-Control"] = NEVER
    if not _from_distribution(_headers(event).get(ORIGIN_HEADER)):
        logger.info("refused a call that bypassed the distribution", extra={"path": event.get("path")})
        answer = error_answer(403, "call this API through its CloudFront distribution")
    else:
        answer = app.resolve(event, context)
        if answer["statusCode"] >= 400:
            _answer_headers.clear()
            _answer_headers["Cache-Control"] = NEVER
    answer["multiValueHeaders"].update({name: [value] for name, value in _answer_headers.items()})
    return answer


# ---------------------------------------------------------------------------------------- helpers


def _product(product_id: str) -> dict[str, Any]:
    key = key_parameter(app, "product_id", product_id, max_bytes=64)
    product = table.get_item({"pk": f"product#{key}"})
    if product is None:
        raise NotFound(f"product {product_id} not found")
    return product


def _currency(value: str | None) -> str:
    if value is None:
        return BASE_CURRENCY
    if value not in CURRENCIES:
        raise BadRequest(f"currency: must be one of {', '.join(CURRENCIES)}")
    return value


def _language(accept_language: str | None) -> str:
    """The first of the caller's languages (``de-CH,de;q=0.9``) this catalog has, else the default."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        for candidate in (tag, tag.split("-")[0]):
            if candidate in LANGUAGES:
                return candidate
    return LANGUAGES[0]


def _member() -> dict[str, Any] | None:
    """The member the bearer token names, None for an anonymous call; a token we do not know is a 401."""
    authorization = _header("authorization")
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpError(401, "Authorization: expected 'Bearer <token>'")
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    member = table.get_item({"pk": f"member#{digest}"})
    if member is None:
        raise HttpError(401, "Authorization: unknown or revoked token")
    return member


def _converted(base_cents: int, currency: str) -> int:
    return int((Decimal(base_cents) * CURRENCIES[currency]).quantize(1, ROUND_HALF_UP))


def _from_distribution(given: str | None) -> bool:
    """Whether ``given`` is the secret's current or previous value: CloudFront sends the previous one
    until a rotation's distribution update has reached every edge."""
    if not given:
        return False
    age = time.monotonic() - _secret["read_at"]
    if age >= SECRET_MAX_AGE_SECONDS or (age >= SECRET_REREAD_SECONDS and not _matches(given)):
        _secret["values"] = tuple(filter(None, (_secret_value("AWSCURRENT"), _secret_value("AWSPREVIOUS"))))
        _secret["read_at"] = time.monotonic()
    return _matches(given)


def _matches(given: str) -> bool:
    """Compared in constant time with every value, so timing tells nothing of which, or how much, matched."""
    matched = [hmac.compare_digest(given.encode(), value.encode()) for value in _secret["values"]]
    return any(matched)


def _secret_value(stage: str) -> str | None:
    try:
        return secrets.get_secret_value(SecretId=ORIGIN_SECRET_ARN, VersionStage=stage)["SecretString"]
    except secrets.exceptions.ResourceNotFoundException:
        return None  # no previous value before the first rotation


def _headers(event: dict[str, Any]) -> dict[str, str]:
    return {name.lower(): value for name, value in (event.get("headers") or {}).items()}


def _header(name: str) -> str | None:
    return _headers(app.current_event.raw).get(name)


def _query() -> dict[str, str]:
    return app.current_event.query_string_parameters or {}
