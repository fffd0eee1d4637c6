"""Fuzzing the gatekeeper's API (documents and the admin API) through API Gateway and its
authorizer: no request, however hostile, gets a 5xx."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patterns.gatekeeper import DOCUMENT_SCHEMA, principal_schema
from tests.e2e.fuzz import (
    FUZZ,
    assert_no_5xx,
    bodies,
    content_types,
    hostile_text,
    ids,
    pattern_cloud,
    segment,
    send,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cloud(cloud_assembly):
    yield from pattern_cloud(cloud_assembly, "gatekeeper")


@pytest.fixture(scope="module")
def token(cloud) -> str:
    """A principal allowed every route, made the one way there is: an operator invoking the admin."""
    permissions = ["* /admin/*", "* /documents", "* /documents/*"]
    answer = cloud.invoke(
        cloud.outputs["AdminFunctionName"], {"principal_id": "fuzzer", "permissions": permissions}
    )["Payload"]
    return answer["token"]


def authorized(cloud, token, method, path, **kwargs):
    return send(
        cloud,
        method,
        path,
        headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
        **kwargs,
    )


@FUZZ
@given(
    route=st.sampled_from([("/documents", DOCUMENT_SCHEMA), ("/admin/principals", principal_schema())]),
    data=st.data(),
    content_type=content_types,
)
def test_no_body_gets_a_5xx(cloud, token, route, data, content_type):
    path, schema = route
    body = data.draw(bodies(schema))
    response = authorized(cloud, token, "POST", path, body=body, headers={"Content-Type": content_type})
    assert_no_5xx(response, f"POST {path} {content_type} {body[:200]!r}")


@FUZZ
@given(
    route=st.sampled_from(
        [("GET", "/documents/{}"), ("GET", "/admin/principals/{}"), ("DELETE", "/admin/principals/{}")]
    ),
    identifier=st.one_of(ids(), st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True)),
)
def test_no_id_gets_a_5xx(cloud, token, route, identifier):
    method, template = route
    path = template.format(segment(identifier))
    response = authorized(cloud, token, method, path)
    assert_no_5xx(response, f"{method} {path[:200]}")


@FUZZ
@given(authorization=hostile_text())
def test_no_authorization_header_gets_a_5xx(cloud, authorization):
    header = authorization.encode("utf-8", "surrogatepass").decode("latin-1")  # what a header can carry
    response = send(cloud, "GET", "/documents", headers={"Authorization": header})
    assert_no_5xx(response, f"GET /documents Authorization: {header[:100]!r}")
    assert response.status in (401, 403)
