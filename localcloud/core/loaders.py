"""botocore's model files, read once per process instead of once per session.

Each botocore session reads and decodes its own copy of the service models and endpoint data (the
DynamoDB model and ``endpoints.json`` alone cost about 50 ms), and moto gives boto3 a new default
session every time a cloud starts, so every function's cold start paid it again. Loaders made while
the local cloud is installed share what they have read with every other loader that searches the
same paths for the same extras; each session keeps its own loader object, credentials, config and
event hooks. The files are read-only data: a session sees another's copy exactly as a second client
of one session sees the first's. A data path whose files change while the process runs is not read
again (point ``AWS_DATA_PATH`` at a new folder instead).
"""

from __future__ import annotations

from typing import Any

import botocore.loaders
import botocore.session

_READ: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[Any, Any]] = {}


class SharedLoader(botocore.loaders.Loader):
    """A loader whose cache is the one every loader with its search paths and extras uses."""

    @property
    def _cache(self) -> dict[Any, Any]:
        # Keyed when read, not when made: boto3 appends its own data folder after making the loader.
        return _READ.setdefault((tuple(self.search_paths), tuple(self.extras_types)), {})

    @_cache.setter
    def _cache(self, value: dict[Any, Any]) -> None:
        """``Loader.__init__`` starts an empty cache of its own: the shared one stands in for it."""


def _create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    paths = botocore.loaders.create_loader(search_path_string).search_paths
    return SharedLoader(extra_search_paths=list(paths), include_default_search_paths=False)


def install() -> None:
    """Make every botocore session created from now on use a :class:`SharedLoader`."""
    botocore.session.create_loader = _create_loader
