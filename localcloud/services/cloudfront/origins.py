"""Where a distribution's origin requests go: S3 buckets and API Gateway REST and HTTP APIs of the stack.

An S3 origin reads moto's S3 as CloudFront's principal: with origin access control, the service
``cloudfront.amazonaws.com`` on behalf of this distribution (``AWS:SourceArn``); with an origin
access identity, that identity; otherwise anonymously. The bucket policy at the time of the
request must allow ``s3:GetObject``; a missing key is a 404 only when it also allows
``s3:ListBucket``, else a 403, as S3 answers. Only GET and HEAD reach S3 objects.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from localcloud.core.iam import PolicyEngine, Statement
from localcloud.lib.http import HttpRequest, HttpResponse
from localcloud.services.cloudfront.distribution import Distribution, Origin

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

log = logging.getLogger("localcloud.cloudfront")
CLOUDFRONT_PRINCIPAL = "cloudfront.amazonaws.com"
#: Object headers S3 returns as stored, by the lower-case name moto keeps them under.
_OBJECT_HEADERS = {
    "cache-control": "Cache-Control",
    "content-disposition": "Content-Disposition",
    "content-encoding": "Content-Encoding",
    "content-language": "Content-Language",
    "expires": "Expires",
}


class OriginUnreachable(Exception):
    """CloudFront could not get an answer from the origin: it answers 502."""


def fetch(cloud: Kernel, distribution: Distribution, origin: Origin, request: HttpRequest) -> HttpResponse:
    """The origin's answer to ``request``, whose path already starts with the origin path."""
    if origin.bucket is not None:
        return _s3(cloud, distribution, origin, origin.bucket, request)
    if origin.api_id is not None:
        return _api(cloud, origin, origin.api_id, request)
    raise OriginUnreachable(f"origin {origin.id} ({origin.domain}) is outside the local cloud")


# ---------------------------------------------------------------------------------------- API Gateway


def _api(cloud: Kernel, origin: Origin, api_id: str, request: HttpRequest) -> HttpResponse:
    http_api = cloud.has_service("apigatewayv2") and api_id in cloud.service("apigatewayv2").apis
    if not http_api and not cloud.has_service("apigateway"):
        raise OriginUnreachable(f"origin {origin.id}: this local cloud does not serve API Gateway")
    host = request.header("Host")
    if host is not None and host.lower() != origin.domain.lower():
        log.info(
            "origin %s: API Gateway refuses Host %r (it only answers %s); forward everything but Host, "
            "e.g. with the AllViewerExceptHostHeader origin request policy",
            origin.id,
            host,
            origin.domain,
        )
        return HttpResponse.of_json(403, {"message": "Forbidden"}, {"x-amzn-ErrorType": "ForbiddenException"})
    return cloud.service("apigatewayv2" if http_api else "apigateway").dispatch(api_id, request)


# ---------------------------------------------------------------------------------------- S3


def _s3(
    cloud: Kernel, distribution: Distribution, origin: Origin, bucket_name: str, request: HttpRequest
) -> HttpResponse:
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    key = unquote(request.path).lstrip("/")
    if request.method not in ("GET", "HEAD"):
        log.info(
            "origin %s: %s on an S3 object is not modelled offline (GET and HEAD are)",
            origin.id,
            request.method,
        )
        return _s3_error(403, "AccessDenied", "Access Denied")
    # moto's own policy check is bypassed: it counts a TLS-only Deny against every request.
    backend = s3_backends[cloud.account][cloud.partition]
    try:
        bucket = backend.get_bucket(bucket_name)
    except MissingBucket:
        log.info("origin %s: no bucket %s: 404", origin.id, bucket_name)
        return _s3_error(404, "NoSuchBucket", "The specified bucket does not exist")
    who, can = _reader(cloud, distribution, origin, _statements(bucket_name, bucket.policy))
    if not can("s3:GetObject", f"arn:{cloud.partition}:s3:::{bucket_name}/{key}"):
        log.info(
            "origin %s: the policy of bucket %s does not let %s read %s: 403",
            origin.id,
            bucket_name,
            who,
            key,
        )
        return _s3_error(403, "AccessDenied", "Access Denied")
    found = backend.get_object(bucket_name, key)
    if found is None:
        if not can("s3:ListBucket", f"arn:{cloud.partition}:s3:::{bucket_name}"):
            log.info(
                "origin %s: no key %r in %s, and %s may not list the bucket: 403",
                origin.id,
                key,
                bucket_name,
                who,
            )
            return _s3_error(403, "AccessDenied", "Access Denied")
        log.info("origin %s: no key %r in bucket %s: 404", origin.id, key, bucket_name)
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.", key)
    metadata = dict(found.metadata)
    headers = {
        "Content-Type": [metadata.get("content-type", "binary/octet-stream")],
        "ETag": [found.etag],
        "Last-Modified": [format_datetime(found.last_modified.replace(tzinfo=UTC), usegmt=True)],
        "Content-Length": [str(found.size)],
        "Server": ["AmazonS3"],
    }
    for name, value in metadata.items():
        if name in _OBJECT_HEADERS or name.startswith("x-amz-meta-"):
            headers[_OBJECT_HEADERS.get(name, name)] = [value]
    return HttpResponse(200, headers, found.value if request.method == "GET" else b"")


def _statements(bucket_name: str, policy: bytes | str | None) -> list[Statement]:
    if not policy:
        return []
    engine = PolicyEngine()
    engine.add_resource_policy(bucket_name, json.loads(policy), f"bucket policy of {bucket_name}")
    return engine.resource[bucket_name]


def _reader(cloud: Kernel, distribution: Distribution, origin: Origin, statements: list[Statement]) -> Any:
    """Who reads the bucket for this origin, and a test of what the bucket policy lets it do."""
    context = {"aws:securetransport": "true"}
    control, identity = origin.access_control, origin.access_identity
    if control is not None and control.signing_behavior != "never":
        context |= {"aws:sourcearn": distribution.arn, "aws:sourceaccount": cloud.account}
        who = f"{CLOUDFRONT_PRINCIPAL} for {distribution.arn}"
        return who, lambda action, arn: cloud.iam.allows(
            statements, CLOUDFRONT_PRINCIPAL, action, arn, context
        )
    if identity is not None:
        naming = [
            dataclasses.replace(statement, principal="*")
            for statement in statements
            if _names_identity(statement.principal, identity.arn, identity.canonical_user_id)
        ]
        return f"origin access identity {identity.id}", lambda action, arn: cloud.iam.allows(
            naming, "*", action, arn, context
        )
    return "an anonymous reader", lambda action, arn: cloud.iam.allows(
        statements, "anonymous", action, arn, context
    )


def _names_identity(principal: Any, arn: str, canonical_user_id: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    values = []
    for key in ("AWS", "CanonicalUser"):
        value = principal.get(key, [])
        values.extend([value] if isinstance(value, str) else value)
    return any(value in ("*", arn, canonical_user_id) for value in values)


def _s3_error(status: int, code: str, message: str, key: str | None = None) -> HttpResponse:
    key_element = f"<Key>{escape(key)}</Key>" if key is not None else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{key_element}</Error>"
    )
    return HttpResponse(status, {"Content-Type": ["application/xml"], "Server": ["AmazonS3"]}, body.encode())
