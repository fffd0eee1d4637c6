"""Tokens and permissions of the authorization service, shared by the authorizer and the admin API.

A token is ``<principal_id>.<secret>``, the shape of an AWS access key id and its secret: the
principal id finds one item with a ``GetItem``, and the table keeps only the SHA-256 of the secret,
never the token. The secret is 256 random bits, so a fast hash is enough (a slow password hash
protects guessable passwords, not random keys); the stored hash is compared in constant time.

A permission is ``"<METHOD> <path>"``, such as ``"GET /documents"`` or ``"* /admin/*"``: ``*`` as the
method is any method, and ``*`` in the path matches any characters, ``/`` included, as it does in
the IAM policy the authorizer returns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

#: The shapes of a principal id and of a secret: the construct reads the same file for API Gateway's
#: header validation and the admin API's model, so the three agree by construction.
TOKEN_FORMAT = json.loads(Path(__file__).with_name("token_format.json").read_text())
PRINCIPAL_ID = re.compile(f"^{TOKEN_FORMAT['principal_id']}$")
#: The Authorization header API Gateway lets through to the authorizer (its validation expression).
BEARER_TOKEN = re.compile(
    rf"^Bearer (?P<principal>{TOKEN_FORMAT['principal_id']})\.(?P<secret>{TOKEN_FORMAT['secret']})$"
)
PERMISSION = re.compile(
    r"^(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|\*) (?P<path>/[A-Za-z0-9._~*/-]*)$"
)
MAX_PERMISSIONS = 50
#: The longest permission text: far more than a route needs, small enough to keep items small.
MAX_PERMISSION_LENGTH = 200
#: Compared against when the principal does not exist, so an unknown id takes as long as a wrong secret.
_NO_SUCH_PRINCIPAL = hashlib.sha256(b"no such principal").hexdigest()


@dataclass(frozen=True)
class Token:
    principal_id: str
    secret: str


@dataclass(frozen=True)
class Permission:
    method: str
    path: str


def new_token(principal_id: str) -> tuple[str, str]:
    """A fresh token for ``principal_id`` and the hash to store in its place."""
    secret = secrets.token_urlsafe(32)
    return f"{principal_id}.{secret}", secret_hash(secret)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_token(header: str | None) -> Token | None:
    """The token in an ``Authorization: Bearer <token>`` header, or ``None`` when it has none."""
    found = BEARER_TOKEN.match(header or "")
    return Token(found["principal"], found["secret"]) if found else None


def secret_matches(stored_hash: str | None, secret: str) -> bool:
    """Whether ``secret`` is the one whose hash was stored, in time that does not depend on either."""
    return hmac.compare_digest(stored_hash or _NO_SUCH_PRINCIPAL, secret_hash(secret)) and bool(stored_hash)


def parse_permission(text: str) -> Permission:
    """``"GET /documents"`` as a :class:`Permission`; a ``ValueError`` says what a permission looks like."""
    found = PERMISSION.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(
            f"{text!r} is not a permission: expected '<METHOD or *> /path', the path made of "
            "letters, digits, '.', '_', '~', '-', '/' and '*'"
        )
    return Permission(found["method"], found["path"])


def permission_problems(permissions: list[str]) -> list[str]:
    """Every reason ``permissions`` cannot be granted; empty when they all can."""
    if len(permissions) > MAX_PERMISSIONS:
        return [f"permissions: at most {MAX_PERMISSIONS}"]
    found = []
    for index, text in enumerate(permissions):
        if isinstance(text, str) and len(text) > MAX_PERMISSION_LENGTH:
            found.append(f"permissions[{index}]: longer than {MAX_PERMISSION_LENGTH}")
            continue
        try:
            parse_permission(text)
        except ValueError as error:
            found.append(f"permissions[{index}]: {error}")
    return found
