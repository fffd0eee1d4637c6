"""moto's mock, started by every cloud (and every unit test), with what it builds at each start built once.

At every start moto registers a ``responses`` callback for each of its URL patterns and each HTTP
method (1,288 objects, each parsing its URL pattern), so that code calling AWS through ``requests``
reaches its backends: four fifths of a mock's start and stop (4.7 ms). The patterns do not change
within a process, so the callbacks are made once and registered again at each start, their record
of calls emptied, in the same order; the registry itself is moto's fresh one, as before.
"""

from __future__ import annotations

import re

from moto import backend_index
from moto.core.custom_responses_mock import CallbackResponse, not_implemented_callback
from moto.core.models import RESPONSES_METHODS, MockAWS, botocore_stubber, responses_mock

_installed = False
original_enable_patching = MockAWS._enable_patching
#: (the URL patterns they were made for, as a tuple, and the callbacks in moto's order).
_made: tuple[tuple[object, ...], list[CallbackResponse]] | None = None


def callbacks() -> list[CallbackResponse]:
    """The callbacks moto's ``_enable_patching`` registers, made once per set of URL patterns."""
    global _made
    patterns = tuple(pattern for _, pattern in backend_index.backend_url_patterns)
    if _made is None or _made[0] != patterns:
        made = []
        for method in RESPONSES_METHODS:
            for pattern in patterns:
                made.append(
                    CallbackResponse(
                        method=method, url=pattern, callback=botocore_stubber.process_prepared_request
                    )
                )
            made.append(
                CallbackResponse(
                    method=method,
                    url=re.compile(r"https?://.+\.amazonaws.com/.*"),
                    callback=not_implemented_callback,
                )
            )
        _made = (patterns, made)
    return _made[1]


def install() -> None:
    """Start moto's mock with the callbacks made once (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True

    def enable_patching(self: MockAWS, reset: bool = True) -> None:
        botocore_stubber.enabled = True
        if reset:
            self.reset()
        responses_mock.start()
        for response in callbacks():
            response.calls.reset()
            responses_mock.add(response)

    MockAWS._enable_patching = enable_patching  # type: ignore[method-assign]
