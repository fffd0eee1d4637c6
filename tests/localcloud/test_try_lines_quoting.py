"""A printed "Try:" line is a shell command whatever the example body holds."""

from __future__ import annotations

import json
import shlex
from types import SimpleNamespace

import pytest

from localcloud import try_lines


@pytest.mark.parametrize("text", ["plain", "it's", "a 'quoted' word", "$HOME `id` \\"])
def test_the_example_body_reaches_curl_as_the_json_it_is(monkeypatch, text):
    monkeypatch.setattr(try_lines, "_token_header", lambda route: None)
    monkeypatch.setattr(try_lines, "_api_key", lambda cloud, route: None)
    monkeypatch.setattr(try_lines, "_signing", lambda cloud, route: None)
    route = SimpleNamespace(example_body=lambda: {"name": text})
    line = try_lines._curl(None, "POST", "http://127.0.0.1:4580/prod/items", route)
    words = shlex.split(line)
    assert json.loads(words[words.index("-d") + 1]) == {"name": text}
