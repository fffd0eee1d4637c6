"""JSON Web Tokens signed by a key set: the signature check every JWT-reading front door shares.

The local cloud's Cognito user pools are moto's, which sign every token with one RSA key
(moto's ``jwks-private.json``); :func:`cognito_keys` is its public half, what a pool's
``/.well-known/jwks.json`` serves on AWS.
"""

from __future__ import annotations

import functools
from typing import Any

#: What API Gateway accepts: RSA signatures with SHA-256.
ALGORITHMS = ("RS256",)


@functools.cache
def cognito_keys() -> Any:
    """The public keys of the local cloud's user pools, as a ``joserfc`` key set."""
    from joserfc.jwk import KeySet
    from moto.utilities.utils import load_resource

    return KeySet.import_key_set(load_resource("cognitoidp/resources/jwks-public.json"))


def key_set(jwks: dict[str, Any]) -> Any:
    """A ``joserfc`` key set from a JWKS document (``{"keys": [...]}``)."""
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(jwks)


def verified_claims(token: str, keys: Any) -> dict[str, Any]:
    """The claims of ``token`` if one of ``keys`` signed it (RS256); ValueError saying why not.

    Only the signature is checked here: what the claims must say is the caller's to decide."""
    from joserfc import jwt
    from joserfc.errors import JoseError

    try:
        return dict(jwt.decode(token, keys, algorithms=list(ALGORITHMS)).claims)
    except (JoseError, ValueError, TypeError) as error:
        raise ValueError(str(error) or type(error).__name__) from None
