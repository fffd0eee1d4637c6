"""Find a stack's resource the way a user names it: by logical id or by construct path.

A user thinks in the paths of their CDK app (``MyStack/Orders/Table``, or just ``Orders/Table``)
as much as in logical ids (``OrdersTable1A2B3C4D``); both are accepted. A name that matches no
resource, or several, is an error that lists the candidates, so the fix is in the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher

from localcloud.core.assembly import StackArtifact
from localcloud.errors import LocalCloudError

#: The most candidates an error lists.
LISTED = 20


def logical_id_named(artifact: StackArtifact, logical_ids: Iterable[str], name: str) -> str:
    """The logical id among ``logical_ids`` that ``name`` names: the logical id itself, or a
    construct path, whole or its end, with or without the L1 child's ``/Resource``."""
    ids = list(logical_ids)
    if name in ids:
        return name
    wanted = name.strip("/")
    paths = {logical_id: _paths(artifact, logical_id) for logical_id in ids}
    exact = [logical_id for logical_id in ids if wanted in paths[logical_id]]
    found = exact or [
        logical_id for logical_id in ids if any(path.endswith(f"/{wanted}") for path in paths[logical_id])
    ]
    if len(found) == 1:
        return found[0]
    if found:
        raise LocalCloudError(
            f"{name!r} names {len(found)} resources of {artifact.name}: {_listed(artifact, found)}; "
            "give more of the construct path, or the logical id"
        )
    raise LocalCloudError(
        f"{name!r} names no resource of {artifact.name} (by logical id or construct path); "
        f"{_candidates_line(artifact, ids, wanted)}"
    )


def _paths(artifact: StackArtifact, logical_id: str) -> set[str]:
    path = artifact.construct_path(logical_id)
    return {path, path.removesuffix("/Resource")}


def _candidates_line(artifact: StackArtifact, ids: list[str], wanted: str) -> str:
    """The resources whose logical id or path holds the name's last part, or whose own last part
    is spelled nearly so (``Tabel``: ``Table``); else all of them."""
    last = wanted.rsplit("/", 1)[-1].lower()
    close = []
    for logical_id in ids:
        path = artifact.construct_path(logical_id).lower()
        own = path.removesuffix("/resource").rsplit("/", 1)[-1]
        if last in logical_id.lower() or last in path or SequenceMatcher(None, last, own).ratio() >= 0.75:
            close.append(logical_id)
    if close:
        return f"did you mean {_listed(artifact, close)}?"
    return f"it has {_listed(artifact, ids) or 'none'}"


def _listed(artifact: StackArtifact, logical_ids: list[str]) -> str:
    shown = [
        f"{artifact.construct_path(logical_id).removesuffix('/Resource')} ({logical_id})"
        if artifact.construct_path(logical_id) != logical_id
        else logical_id
        for logical_id in sorted(logical_ids, key=artifact.construct_path)
    ]
    more = len(shown) - LISTED
    return ", ".join(shown[:LISTED]) + (f" and {more} more" if more > 0 else "")
