"""A test's HTTP client for one stage of a REST API: ``cloud.api().post("/items", json={...})``.

It builds the request a client library would and hands it to :meth:`ApiGateway.dispatch`, the
same entry the localhost server uses, so a test exercises what a real caller would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.lib.http import HttpMethods, HttpRequest, HttpResponse

if TYPE_CHECKING:
    from localcloud.services.apigateway.gateway import ApiGateway


class ApiClient(HttpMethods):
    """A stage's client; with ``domain``, a custom domain's (paths then start with the base path)."""

    def __init__(self, gateway: ApiGateway, api_id: str, stage: str, domain: str | None = None) -> None:
        self.gateway = gateway
        self.api_id = api_id
        self.stage = stage
        self.domain = domain

    @property
    def prefix(self) -> str:
        return "" if self.domain is not None else f"/{self.stage}"

    @property
    def url(self) -> str:
        """The stage's base URL, as the stack's outputs spell it (the domain's, for a custom domain)."""
        if self.domain is not None:
            return f"https://{self.domain}/"
        return f"https://{self.api_id}.execute-api.{self.gateway.cloud.region}.amazonaws.com/{self.stage}/"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str | list[str]] | None = None,
        source_ip: str | None = None,
        source_vpce: str | None = None,
        source_vpc: str | None = None,
    ) -> HttpResponse:
        """``path`` is relative to the stage (``/items/1?limit=2``). ``source_ip`` is the client's
        address (127.0.0.1 by default); ``source_vpce``/``source_vpc`` send it through a VPC endpoint."""
        relative = path if path.startswith("/") else f"/{path}"
        request = HttpRequest.build(
            method, f"{self.prefix}{relative}", json=json, body=body, headers=headers, query=query
        )
        request.source_ip = source_ip or request.source_ip
        request.source_vpce, request.source_vpc = source_vpce, source_vpc
        if self.domain is not None:
            return self.gateway.dispatch_domain(self.domain, request)
        return self.gateway.dispatch(self.api_id, request)
