"""The HTTP entries a service offers (a REST API stage, a CloudFront distribution), which the
localhost server (:mod:`localcloud.server`) puts on ports without knowing the services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.lib.http import HttpRequest, HttpResponse

Dispatch = Callable[[HttpRequest], HttpResponse]


@dataclass
class FrontDoor:
    kind: str
    """``api``, ``distribution``, ``aws`` or ``websocket``."""
    name: str
    url: str
    dispatch: Dispatch
    resource_id: str
    """The API's id or the distribution's id."""
    base_path: str = ""
    """What the deployed URL has before the route: the stage (``/prod``) for an API."""
    port: int | None = None
    """A port of its own (the AWS endpoint's); None: the next of the server's consecutive ports."""
    host: str | None = None
    """An address it binds whatever the server's host (the AWS endpoint: loopback); None: the server's."""
    listen: Callable[[FrontDoor, str, int, Any], Any] | None = None
    """A door that speaks more than HTTP on its port (a WebSocket stage): ``(door, host, port,
    server)`` -> its listener (``server_address``, ``overdue``, ``close``); None: the server's HTTP."""
    stands_for: str = ""
    """The AWS URL the door answers for (``https://cognito-idp.us-east-1.amazonaws.com``): what a
    served distribution's answers name of it is rewritten to the door (:mod:`localcloud.core.served_urls`)."""


def bind(dispatch: Callable[[str, HttpRequest], HttpResponse], resource_id: str) -> Dispatch:
    return lambda request: dispatch(resource_id, request)
