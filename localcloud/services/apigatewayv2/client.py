"""A test's HTTP client for one stage of an HTTP API: ``cloud.http_api().post("/items", json={...})``.

The same interface as ``cloud.api()``'s: it builds the request a client library would and hands it
to :meth:`ApiGatewayV2.dispatch`, the entry the localhost server uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.lib.http import HttpMethods, HttpRequest, HttpResponse

if TYPE_CHECKING:
    from localcloud.services.apigatewayv2.gateway import ApiGatewayV2


class HttpApiClient(HttpMethods):
    def __init__(self, gateway: ApiGatewayV2, api_id: str, stage: str, domain: str | None = None) -> None:
        self.gateway = gateway
        self.api_id = api_id
        self.stage = stage
        self.domain = domain

    @property
    def prefix(self) -> str:
        """What the stage's paths start with: ``/prod``, nothing for ``$default``."""
        return "" if self.stage == "$default" or self.domain else f"/{self.stage}"

    @property
    def url(self) -> str:
        """The stage's invoke URL, as CDK's ``HttpApi.url``/``HttpStage.url`` spell it."""
        if self.domain is not None:
            return f"https://{self.domain}/"
        return self.gateway.stage_url(self.gateway.apis[self.api_id], self.stage)

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
    ) -> HttpResponse:
        """``path`` is relative to the stage (``/items/1?limit=2``); ``source_ip`` the client's address."""
        relative = path if path.startswith("/") else f"/{path}"
        request = HttpRequest.build(
            method, f"{self.prefix}{relative}", json=json, body=body, headers=headers, query=query
        )
        request.source_ip = source_ip or request.source_ip
        if self.domain is not None:
            return self.gateway.dispatch_domain(self.domain, request)
        return self.gateway.dispatch(self.api_id, request)
