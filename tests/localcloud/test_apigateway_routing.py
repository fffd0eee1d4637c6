"""How a REST API picks the resource and method for a path, on a resource tree built by hand: a
literal part beats a ``{variable}``, which beats a greedy ``{name+}``; a resource without the
request's method (or ``ANY``) gives way to the next most specific one. No cloud is needed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from localcloud.services.apigateway.model import Method, Resource
from localcloud.services.apigateway.routing import methods_of, route


def tree(paths: dict[str, tuple[str, ...]]) -> Resource:
    """An API with these resources, each with the named methods (known here by their labels)."""
    root = Resource("root", None, "", "/")
    for path, methods in paths.items():
        node = root
        for part in path.strip("/").split("/") if path.strip("/") else []:
            child = next((c for c in node.children if c.path_part == part), None)
            if child is None:
                child = Resource(f"{node.id}/{part}", node.id, part, f"{node.path.rstrip('/')}/{part}")
                node.children.append(child)
            node = child
        node.methods = {
            name: cast(Method, SimpleNamespace(resource=node, http_method=name, label=f"{name} {path}"))
            for name in methods
        }
    return root


API = tree(
    {
        "/": ("GET",),
        "/items": ("GET", "POST"),
        "/items/latest": ("GET",),
        "/items/{id}": ("GET", "DELETE"),
        "/items/{id}/notes/{note}": ("ANY",),
        "/files/{key+}": ("GET",),
        "/{proxy+}": ("ANY",),
    }
)


def served(path: str, method: str = "GET") -> tuple[Any, dict[str, str]] | None:
    match = route(API, path, method)
    return None if match is None else (cast(Any, match.method).label, match.path_parameters)


def test_a_literal_part_wins_over_a_variable_which_wins_over_a_greedy_one() -> None:
    assert served("/items/latest") == ("GET /items/latest", {})
    assert served("/items/42") == ("GET /items/{id}", {"id": "42"})
    assert served("/things/42") == ("ANY /{proxy+}", {"proxy": "things/42"})


def test_a_resource_without_the_method_gives_way_to_a_less_specific_one() -> None:
    assert served("/items/latest", "DELETE") == ("DELETE /items/{id}", {"id": "latest"})
    assert served("/items/latest", "PUT") == ("ANY /{proxy+}", {"proxy": "items/latest"})
    assert served("/items/42", "PUT") == ("ANY /{proxy+}", {"proxy": "items/42"})
    assert served("/items/42/notes/7", "PATCH") == ("ANY /items/{id}/notes/{note}", {"id": "42", "note": "7"})


def test_a_greedy_variable_is_named_as_declared_and_takes_the_rest_of_the_path() -> None:
    assert served("/files/a/b/c.txt") == ("GET /files/{key+}", {"key": "a/b/c.txt"})
    assert served("/files", "GET") == ("ANY /{proxy+}", {"proxy": "files"}), (
        "a greedy part needs one part or more"
    )


def test_the_root_and_trailing_slashes() -> None:
    assert served("/") == ("GET /", {})
    assert served("") == ("GET /", {})
    assert served("/items/") == ("GET /items", {})
    assert served("/", "POST") is None


@pytest.mark.parametrize(
    ("path", "parameters"), [("/items/a%2Fb", {"id": "a/b"}), ("/items/caf%C3%A9", {"id": "café"})]
)
def test_path_parameters_are_decoded(path: str, parameters: dict[str, str]) -> None:
    assert served(path) == ("GET /items/{id}", parameters)


def test_an_empty_part_never_fills_a_variable() -> None:
    assert served("/items//notes/7", "GET") == ("ANY /{proxy+}", {"proxy": "items//notes/7"})


def test_no_resource_no_match() -> None:
    bare = tree({"/items": ("GET",)})
    assert route(bare, "/other", "GET") is None
    assert route(bare, "/items", "POST") is None


def test_every_method_is_listed_once_by_path_then_name() -> None:
    assert [cast(Any, m).label for m in methods_of(API)] == [
        "GET /",
        "GET /files/{key+}",
        "GET /items",
        "POST /items",
        "GET /items/latest",
        "DELETE /items/{id}",
        "GET /items/{id}",
        "ANY /items/{id}/notes/{note}",
        "ANY /{proxy+}",
    ]
