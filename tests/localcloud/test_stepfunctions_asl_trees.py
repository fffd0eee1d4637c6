"""moto's ASL parser with each distinct definition's parse tree kept (localcloud/services/stepfunctions/asl_trees.py)."""

from __future__ import annotations

import json

import pytest

from localcloud.services.stepfunctions import asl_trees, distributed_map

DEFINITION = json.dumps(
    {"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "Result": "asl-trees", "End": True}}}
)


def test_a_definition_parsed_again_shares_its_tree_but_not_its_components():
    first_program, first_tree = asl_trees.parse(DEFINITION)
    second_program, second_tree = asl_trees.parse(DEFINITION)
    assert second_tree is first_tree
    assert second_program is not first_program, "components carry an execution's state"
    assert type(second_program) is type(first_program)


def test_a_syntax_error_is_refused_every_time():
    from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException

    broken = DEFINITION[:-1]
    for _ in range(2):
        with pytest.raises(ASLParserException):
            asl_trees.parse(broken)


def test_moto_parses_through_it_once_fitted():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    distributed_map.install_parser()
    asl_trees._tree.cache_clear()
    AmazonStateLanguageParser.parse(DEFINITION)
    AmazonStateLanguageParser.parse(DEFINITION)
    assert asl_trees._tree.cache_info().hits == 1
