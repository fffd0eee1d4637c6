"""The single page app's build: content-hashed asset names, and an index.html that names them."""

from __future__ import annotations

import hashlib

import pytest

from patterns.spa import SITE_DIR, build_site

pytestmark = pytest.mark.unit


def site(tmp_path, files: dict[str, str]):
    source = tmp_path / "src"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    return source


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def test_assets_get_their_content_hash_and_index_html_names_them(tmp_path):
    source = site(
        tmp_path,
        {
            "index.html": """<link href="/css/style.css"><script src='/app.js'></script>""",
            "app.js": "run()",
            "css/style.css": "body{}",
        },
    )
    renames = build_site(source, tmp_path / "out")
    assert renames == {
        "app.js": f"app.{digest('run()')}.js",
        "css/style.css": f"css/style.{digest('body{}')}.css",
    }
    index = (tmp_path / "out" / "index.html").read_text()
    assert index == (
        f"""<link href="/css/style.{digest("body{}")}.css"><script src='/app.{digest("run()")}.js'></script>"""
    )
    built = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()
    )
    assert built == sorted(["index.html", *renames.values()])


def test_a_changed_file_gets_a_new_name_and_the_others_keep_theirs(tmp_path):
    files = {"index.html": '"/a.js" "/b.css"', "a.js": "1", "b.css": "x"}
    first = build_site(site(tmp_path / "one", files), tmp_path / "one" / "out")
    second = build_site(site(tmp_path / "two", {**files, "a.js": "2"}), tmp_path / "two" / "out")
    assert first["a.js"] != second["a.js"] and first["b.css"] == second["b.css"]


def test_only_whole_quoted_references_are_rewritten(tmp_path):
    source = site(tmp_path, {"index.html": '"/app.js" "/app.json" /app.js', "app.js": "x"})
    build_site(source, tmp_path / "out")
    assert (tmp_path / "out" / "index.html").read_text() == f'"/app.{digest("x")}.js" "/app.json" /app.js'


def test_a_file_index_html_does_not_name_is_refused(tmp_path):
    source = site(tmp_path, {"index.html": '"/app.js"', "app.js": "x", "stray.js": "y"})
    with pytest.raises(ValueError, match=r"does not name /stray\.js"):
        build_site(source, tmp_path / "out")


def test_a_site_without_index_html_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"has no index\.html"):
        build_site(site(tmp_path, {"app.js": "x"}), tmp_path / "out")


def test_the_shipped_site_builds(tmp_path):
    renames = build_site(SITE_DIR, tmp_path / "out")
    assert set(renames) == {"app.js", "style.css"}
