"""A run as a page a person can look at: its Mermaid sequence diagram, with the trace as text below.

``python -m scenarios --report DIR`` writes one page per scenario, ``serve --report FILE`` keeps one
page up to date while it serves. The page renders the diagram with Mermaid, which the browser loads
from :data:`MERMAID_URL` (a pinned version on a public CDN) when the page is opened: nothing is
fetched while the stack runs, the repository vendors no JavaScript, and offline the page still
shows the diagram's source and the trace as text.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.core.trace import Trace

#: Mermaid, pinned: the browser opening a report fetches it from here.
MERMAID_URL = "https://cdn.jsdelivr.net/npm/mermaid@11.4.1/dist/mermaid.esm.min.mjs"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>body {{ font-family: sans-serif; margin: 2em; }} pre.trace {{ background: #f6f8fa; padding: 1em; }}</style>
</head>
<body>
<h1>{title}</h1>
<pre class="mermaid">
{diagram}
</pre>
<h2>Trace</h2>
<pre class="trace">{tree}</pre>
<script type="module">
import mermaid from "{mermaid}";
mermaid.initialize({{ startOnLoad: true, sequence: {{ showSequenceNumbers: true }} }});
</script>
</body>
</html>
"""


def html_report(title: str, trace: Trace, *, physical: bool = False, full: bool = False) -> str:
    """The page for ``trace``: its sequence diagram and its tree, named and collapsed alike."""
    return _PAGE.format(
        title=html.escape(title),
        diagram=html.escape(trace.mermaid(physical=physical, full=full)),
        tree=html.escape(trace.tree(physical=physical, full=full)),
        mermaid=MERMAID_URL,
    )


def write_report(path: str | Path, title: str, trace: Trace, **options: bool) -> Path:
    """Write the page for ``trace`` to ``path`` (its folder made if missing); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(title, trace, **options), encoding="utf-8")
    return path
