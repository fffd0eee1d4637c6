"""Regional API behind CloudFront: a regional REST API whose cacheable answers the edge keeps.

The cache policy keys on exactly what the API's answers vary by, and so forwards exactly that:

- the ``currency`` query string (prices are converted); any other query string is neither keyed
  nor forwarded, so ``?utm_source=...`` cannot split the cache;
- ``Accept-Language`` (names are translated), normalized at the edge by a CloudFront Function to
  one of the catalog's languages, so ``de-CH,de;q=0.9`` and ``de`` share one cached answer;
- ``Authorization``: a member's price is personal. CloudFront never forwards it from a caching
  behavior unless it is in the key, and the key keeps one caller's answer from another; the API
  answers it ``private, no-store`` so it is not kept at all.

The TTLs are the API's to choose within bounds: minimum 0 (an answer marked ``no-store`` or
``private`` is not kept), default 0 (an answer that says nothing is not kept), maximum
``max_ttl``. The origin request policy adds ``Content-Type`` (the API reads JSON bodies) and
nothing else: not ``Host``, which API Gateway refuses from another domain.

Direct calls to the API's own URL are refused: CloudFront adds a secret header read from Secrets
Manager (a dynamic reference, so the value is in no template) and the function answers 403 to a
request without its current or previous value (a rotation's update takes minutes to reach every
edge).

Example::

    catalog = RegionalApi(self, "Catalog", currencies={"EUR": "1", "CHF": "0.95"}, edge_max_age=Duration.minutes(5))
    catalog.table.grant_read_write_data(catalog_admin_fn)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from aws_cdk import Duration, SecretValue
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .defaults import (
    CodeLocation,
    PatternFunction,
    Props,
    SecureRestApi,
    acknowledge,
    grant_table,
    merge_props,
    pattern_function_props,
    rest_api_props,
    table_or_new,
)
from .edge import MINIMUM_PROTOCOL_VERSION, acknowledge_distribution

#: The header CloudFront adds and the API checks; lower case, as CloudFront sends custom headers.
ORIGIN_HEADER = "x-origin-verify"
DEFAULT_CURRENCIES = {"EUR": "1", "USD": "1.08", "GBP": "0.86"}
DEFAULT_LANGUAGES = ("en", "de")
CURRENCY = re.compile(r"[A-Z]{3}")
LANGUAGE = re.compile(r"[a-z]{2,3}")
SECRET_VERSION_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: The Accept-Language normalizer: the first of the viewer's languages the catalog has, else the first.
_NORMALIZE_LANGUAGE = """function handler(event) {
    var supported = %s;
    var request = event.request;
    var header = request.headers['accept-language'];
    var chosen = supported[0];
    var parts = header ? header.value.split(',') : [];
    for (var i = 0; i < parts.length; i++) {
        var tag = parts[i].split(';')[0].trim().toLowerCase();
        if (supported.indexOf(tag) >= 0) { chosen = tag; break; }
        var primary = tag.split('-')[0];
        if (supported.indexOf(primary) >= 0) { chosen = primary; break; }
    }
    request.headers['accept-language'] = { value: chosen };
    return request;
}
"""


class RegionalApi(Construct):
    """A product catalog API (REST, regional) reachable only through its CloudFront distribution.

    :param currencies: currency code -> rate from the base currency, a positive decimal string (the first, rate ``"1"``).
    :param languages: the catalog's languages; the first is the default.
    :param edge_max_age: how long the edge keeps an anonymous product answer (``s-maxage``).
    :param max_ttl: the longest CloudFront keeps anything, whatever the API says.
    :param origin_secret_version_id: the origin secret's version the distribution sends; name the new
        one after a rotation, since CloudFormation re-reads an unchanged dynamic reference never (the
        current version at the first deployment if omitted).
    :param table: an existing table (``pk`` string key) instead of a new one (``table_props``).
    :param function_props: ``PatternFunction`` props; ``api_props`` ``SecureRestApi`` props;
        ``distribution_props`` ``cloudfront.Distribution`` props (``web_acl_id``, ``domain_names``,
        ``certificate``, ``price_class``...).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        currencies: Mapping[str, str] | None = None,
        languages: Sequence[str] | None = None,
        edge_max_age: Duration | None = None,
        max_ttl: Duration | None = None,
        origin_secret_version_id: str | None = None,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        function_props: Props | None = None,
        api_props: Props | None = None,
        distribution_props: Props | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        code_dir: CodeLocation = "regional_api",
    ) -> None:
        super().__init__(scope, construct_id)
        currencies = dict(currencies or DEFAULT_CURRENCIES)
        languages = tuple(languages or DEFAULT_LANGUAGES)
        edge_max_age = edge_max_age or Duration.minutes(1)
        max_ttl = max_ttl or Duration.hours(1)
        bad = [code for code in currencies if not CURRENCY.fullmatch(code)]
        if bad or not currencies or next(iter(currencies.values())) != "1":
            raise ValueError(
                f"{construct_id}: currencies must map ISO codes (ABC) to rates, the first (the base) to '1'; "
                f"got {currencies}"
            )
        for code, rate in currencies.items():
            if not _positive_rate(rate):
                raise ValueError(f"{construct_id}: currencies: {code}: {rate!r} is not a positive rate")
        if not languages or any(not LANGUAGE.fullmatch(language) for language in languages):
            raise ValueError(f"{construct_id}: languages must be lower-case ISO 639 codes; got {languages}")
        if not 0 < edge_max_age.to_seconds() <= max_ttl.to_seconds():
            raise ValueError(f"{construct_id}: edge_max_age must be more than 0 and at most max_ttl")

        if origin_secret_version_id is not None and not SECRET_VERSION_ID.fullmatch(origin_secret_version_id):
            raise ValueError(
                f"{construct_id}: origin_secret_version_id must be a Secrets Manager version id (a UUID); "
                f"got {origin_secret_version_id!r}"
            )

        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        )
        self.origin_secret = secretsmanager.Secret(
            self,
            "OriginSecret",
            description="The header value CloudFront adds to every request to the API; the API refuses others",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48
            ),
        )
        self.function = PatternFunction(
            self,
            "Catalog",
            **pattern_function_props(
                self,
                "function_props",
                {
                    "code_dir": code_dir,
                    "handler": "catalog.handler",
                    "service": "catalog",
                    "description": "Product catalog behind CloudFront: prices by currency, names by language",
                    "environment": {
                        "TABLE_NAME": self.table.table_name,
                        "ORIGIN_HEADER": ORIGIN_HEADER,
                        "ORIGIN_SECRET_ARN": self.origin_secret.secret_arn,
                        "CURRENCIES": json.dumps(currencies, separators=(",", ":")),
                        "LANGUAGES": ",".join(languages),
                        "EDGE_MAX_AGE": str(int(edge_max_age.to_seconds())),
                    },
                },
                function_props,
            ),
        )
        grant_table(self.table, self.function, "dynamodb:GetItem")
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["secretsmanager:GetSecretValue"],
            resource_arns=[self.origin_secret.secret_arn],
        )

        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Product catalog, reachable through its CloudFront distribution only",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        integration = apigw.LambdaIntegration(self.function)
        products = self.api.root.add_resource("products")
        product = products.add_resource("{product_id}")
        self.methods = [
            self.api.root.add_method("GET", integration),
            product.add_method("GET", integration),
            product.add_resource("stock").add_method("GET", integration),
            self.api.root.add_resource("quotes").add_method(
                "POST", integration, request_validator=self.api.body_validator
            ),
        ]

        self.cache_policy = cloudfront.CachePolicy(
            self,
            "CachePolicy",
            comment="Keyed on what the catalog varies by: currency, language, the caller's token",
            min_ttl=Duration.seconds(0),
            default_ttl=Duration.seconds(0),
            max_ttl=max_ttl,
            query_string_behavior=cloudfront.CacheQueryStringBehavior.allow_list("currency"),
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Accept-Language", "Authorization"),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        self.origin_request_policy = cloudfront.OriginRequestPolicy(
            self,
            "OriginRequestPolicy",
            comment="What the catalog reads besides the cache key: the body's type; never Host",
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list("Content-Type"),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.none(),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.none(),
        )
        self.language_function = cloudfront.Function(
            self,
            "NormalizeLanguage",
            comment="Accept-Language to one of the catalog's languages, so the cache key has few values",
            code=cloudfront.FunctionCode.from_inline(_NORMALIZE_LANGUAGE % json.dumps(list(languages))),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        origin_secret_value = SecretValue.secrets_manager(
            self.origin_secret.secret_arn, version_id=origin_secret_version_id
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            **merge_props(
                self,
                "distribution_props",
                {
                    "comment": "Regional catalog API, cached at the edge",
                    "default_behavior": cloudfront.BehaviorOptions(
                        origin=origins.RestApiOrigin(
                            self.api,
                            custom_headers={ORIGIN_HEADER: origin_secret_value.unsafe_unwrap()},
                        ),
                        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                        cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                        cache_policy=self.cache_policy,
                        origin_request_policy=self.origin_request_policy,
                        function_associations=[
                            cloudfront.FunctionAssociation(
                                function=self.language_function,
                                event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                            )
                        ],
                    ),
                    "minimum_protocol_version": MINIMUM_PROTOCOL_VERSION,
                },
                distribution_props,
            ),
        )
        self._acknowledge()

    def _acknowledge(self) -> None:
        for method in self.methods:
            acknowledge(
                method,
                "AwsSolutions-APIG4",
                "A public catalog: only the distribution may call (its secret header, checked by the function); "
                "members are recognized by their bearer token in the function.",
            )
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "No Cognito user pool: a public catalog; see the secured SPA pattern for signed-in users.",
            )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway: errors return to the caller, there is no async event to keep.",
        )
        acknowledge(
            self.origin_secret,
            "AwsSolutions-SMG4",
            "Rotating it needs a deployment naming the new version (origin_secret_version_id); the function "
            "accepts the current and previous values, re-read within a minute of a request that matches neither.",
        )
        acknowledge_distribution(self.distribution, what="A public API")

    def outputs(self) -> dict[str, Any]:
        return {
            "DistributionUrl": f"https://{self.distribution.distribution_domain_name}",
            "DistributionId": self.distribution.distribution_id,
            "ApiUrl": self.api.url,
            "TableName": self.table.table_name,
        }


def _positive_rate(rate: str) -> bool:
    """A rate the function can read at init (a decimal string) and that keeps prices positive."""
    try:
        value = Decimal(rate) if isinstance(rate, str) else None
    except InvalidOperation:
        return False
    return value is not None and value.is_finite() and value > 0
