"""moto's ASL parser, lexing and parsing each distinct definition once per process.

moto parses a state machine's definition again at every execution (and a Distributed Map's at each
child): ANTLR's lexer and parser took three quarters of that, a twentieth of a second per run of a
small machine, for the same tree every time. The tree is only read afterwards, so each distinct text's
tree is kept and each parse still builds its own evaluation components from it (they hold an
execution's state). A definition with a syntax error is refused each time, as before.
"""

from __future__ import annotations

import functools
from typing import Any


def install() -> None:
    """Parse with :func:`parse` where moto's own parser is in place (not where a test counts calls)."""
    from moto.stepfunctions.parser.asl.parse import asl_parser

    current = asl_parser.AmazonStateLanguageParser.__dict__["parse"].__func__
    if current.__module__ == asl_parser.__name__:
        asl_parser.AmazonStateLanguageParser.parse = staticmethod(parse)


def parse(definition: str) -> tuple[Any, Any]:
    """As ``AmazonStateLanguageParser.parse``: the program to evaluate, and the parse tree."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    tree = _tree(definition)
    return Preprocessor().visit(tree), tree


@functools.lru_cache(maxsize=512)
def _tree(definition: str) -> Any:
    # ANTLR's runtime as moto's parser module has it: moto's dependency, not the local cloud's.
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        ASLLexer,
        ASLParser,
        ASLParserException,
        CommonTokenStream,
        InputStream,
        SyntaxErrorListener,
    )

    errors = SyntaxErrorListener()
    parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
    parser.removeErrorListeners()
    parser.addErrorListener(errors)
    tree = parser.state_machine()
    if errors.errors:
        raise ASLParserException(errors=errors.errors)
    return tree
