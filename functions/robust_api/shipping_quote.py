"""Internal service: what shipping a parcel costs and how long it takes, by destination and weight.

Invoked RequestResponse through the SDK by the create-order function, never behind API Gateway.
The request is ``{"country": "DE", "weight_grams": 1200}``; the answer is ``{"statusCode": 200,
"body": {"zone", "cost_cents", "delivery_days"}}``, or ``{"statusCode": 400, "message": ...}`` for a
destination it does not ship to or a parcel it cannot take.
"""

from __future__ import annotations

import math
from typing import Any

from shared.observability import instrument
from shared.validation import Field, InvalidInput, Schema

MAX_WEIGHT_GRAMS = 30_000
REQUEST = Schema(
    country=Field(str, min_length=2, max_length=2),
    weight_grams=Field(int, minimum=1, maximum=MAX_WEIGHT_GRAMS),
)
#: Shipping from the US: the zone of each destination served.
ZONES = {
    "US": "domestic",
    **dict.fromkeys(("CA", "MX"), "north_america"),
    **dict.fromkeys(
        ("AT", "BE", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT", "NL", "NO", "PL", "PT", "SE"), "europe"
    ),
    **dict.fromkeys(("AU", "JP", "KR", "NZ", "SG"), "international"),
}
#: Per zone: the price of the first kilogram, of each kilogram after it (cents), and delivery days.
RATES = {
    "domestic": (499, 100, 3),
    "north_america": (999, 200, 5),
    "europe": (1499, 300, 7),
    "international": (1999, 400, 10),
}


@instrument
def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        request = REQUEST.validate(event)
    except InvalidInput as error:
        return {"statusCode": 400, "message": str(error)}
    country = request["country"].upper()
    zone = ZONES.get(country)
    if zone is None:
        return {"statusCode": 400, "message": f"country: we do not ship to {country}"}
    first_kg, per_kg, days = RATES[zone]
    kilograms = math.ceil(request["weight_grams"] / 1000)
    return {
        "statusCode": 200,
        "body": {"zone": zone, "cost_cents": first_kg + per_kg * (kilograms - 1), "delivery_days": days},
    }
