"""Tumbling windows of Kinesis and DynamoDB stream mappings: the limits Lambda holds them to.

As AWS documents them (Lambda developer guide, "Time windows"):

- ``TumblingWindowInSeconds`` is 0 (no window) to 900; Lambda refuses the mapping otherwise;
- a window's ``state`` may be at most 1 MB per shard; an answer whose state is larger terminates
  the window early: Lambda invokes the window's final invocation at once, flagged
  ``isWindowTerminatedEarly``, and the window's later records go on in the same window with a
  fresh state, closed by a final invocation of their own at the window's end.

AWS does not say which state the early final invocation gets; here it is the state the function
answered, so nothing it aggregated is lost. The state's size is that of its compact JSON in UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

from localcloud.services.lambda_.event_sources.limits import setting_in_range

#: Lambda's limits for ``TumblingWindowInSeconds``.
TUMBLING_WINDOW_RANGE = (0, 900)
#: Largest window state Lambda keeps for a shard, in bytes.
MAX_STATE_BYTES = 1024 * 1024


def tumbling_window_seconds(props: dict[str, Any]) -> int:
    """The mapping's ``TumblingWindowInSeconds`` (0: none), refused as Lambda refuses it out of range."""
    return setting_in_range(props, "TumblingWindowInSeconds", 0, *TUMBLING_WINDOW_RANGE)


def state_bytes(state: Any) -> int:
    """How large a window's state counts for the 1 MB limit."""
    return len(json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode())


def over_limit(state: Any) -> bool:
    return state_bytes(state) > MAX_STATE_BYTES
