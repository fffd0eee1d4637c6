"""The line the local cloud logs when a function behind API Gateway fails: it names the function's
own error, not what API Gateway made of its error payload afterwards (a client sees the same 500 or
502 either way, so only the cause tells a developer which function broke and how)."""

from __future__ import annotations

import pytest

from localcloud import LocalCloud
from localcloud.services.apigateway.authorizers import AuthorizerCache, authorize
from localcloud.services.apigateway.integrations import integrate
from tests.localcloud import test_apigateway_semantics as semantics
from tests.localcloud.test_apigateway_semantics import answer, proxy_call, refused, token_call

#: The semantics module's cloud and its per-test reset, as this module's own fixtures.
cloud, fresh = semantics.cloud, semantics.fresh

pytestmark = pytest.mark.localcloud


def test_a_crashing_authorizer_is_logged_with_its_own_error(fresh: LocalCloud) -> None:
    error, response = refused(authorize, token_call(fresh, "crash"), AuthorizerCache())
    assert answer(response) == (500, {"message": None})
    assert error.cause == "authorizer Gate failed: RuntimeError: the authorizer crashed"


def test_a_failing_proxy_function_is_logged_with_its_own_error(fresh: LocalCloud) -> None:
    error, response = refused(integrate, proxy_call(fresh, "fail"))
    assert answer(response) == (502, {"message": "Internal server error"})
    name = fresh.function("Backend").name
    assert error.cause == f"Lambda function {name} failed: ValueError: the backend failed"
