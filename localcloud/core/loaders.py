"""botocore's model files, decoded (and its service folders listed) once per process instead of once
per session.

Each botocore session reads and decodes its own copy of the service models and endpoint data (the
DynamoDB model and ``endpoints.json`` alone cost about 50 ms), and moto gives boto3 a new default
session every time a cloud starts, so every function's cold start paid it again. Sessions created
while the local cloud is installed keep a cache of their own, as before, but their loaders take each
file from a process-wide copy: a pickle of what the file decoded to, so each session still gets
objects of its own (botocore edits some models in place, such as S3's request URIs, per session).
Files are keyed by their full path, so a session with its own ``AWS_DATA_PATH`` reads its own; a
file that changes or appears on disk while the process runs is not read again (point
``AWS_DATA_PATH`` at a new folder instead).

The endpoint data (``endpoints.json``, half a megabyte) is the exception: every session gets the
same decoded object. Unpickling it was most of a new session's cost (11 ms, once per cloud start
and per session a handler or moto makes), and botocore only reads it, but for one edit it makes in
place, the same every time: resolving an endpoint fills that region's entry in with the defaults
it used and its expanded host name. A single session already shares it across all its clients so.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import botocore.loaders
import botocore.session

_DECODED: dict[str, bytes] = {}
_EXISTS: dict[str, bool] = {}
#: The files every session may hold the same decoded copy of, by name (without ``.json``).
SHARED_AS_IS = frozenset({"endpoints"})
_AS_IS: dict[str, Any] = {}


class SharedFileLoader(botocore.loaders.JSONFileLoader):
    """A JSON file loader that decodes each file once per process and hands out fresh copies."""

    def exists(self, file_path: str) -> bool:
        found = _EXISTS.get(file_path)
        if found is None:
            found = _EXISTS[file_path] = super().exists(file_path)
        return found

    def load_file(self, file_path: str) -> Any:
        if os.path.basename(file_path) in SHARED_AS_IS:
            data = _AS_IS.get(file_path)
            if data is None:
                data = super().load_file(file_path)
                if data is not None:
                    _AS_IS[file_path] = data
            return data
        pickled = _DECODED.get(file_path)
        if pickled is not None:
            return pickle.loads(pickled)  # noqa: S301 - bytes this process pickled itself
        data = super().load_file(file_path)
        if data is not None:
            _DECODED[file_path] = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        return data


_SERVICES: dict[tuple[tuple[str, ...], str], list[str]] = {}


class SharedLoader(botocore.loaders.Loader):
    """A loader that lists the services in its search paths once per process, not once per
    session (a directory walk of every service's folder, about 10 ms)."""

    def list_available_services(self, type_name: str) -> list[str]:
        key = (tuple(self.search_paths), type_name)
        services = _SERVICES.get(key)
        if services is None:
            services = _SERVICES[key] = super().list_available_services(type_name)
        return list(services)


def _create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    paths = botocore.loaders.create_loader(search_path_string).search_paths
    return SharedLoader(
        extra_search_paths=list(paths), file_loader=SharedFileLoader(), include_default_search_paths=False
    )


def install() -> None:
    """Make every botocore session created from now on load its files through a
    :class:`SharedFileLoader`."""
    botocore.session.create_loader = _create_loader
