"""The errors Step Functions answers a task-token callback with, word for word as AWS words them
(localstack's snapshot of a SendTaskSuccess for a token AWS never issued records the message)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from localcloud.services.stepfunctions import TASK_TOKENS
from localcloud.services.stepfunctions.calls import check_callback


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("SendTaskSuccess", {"taskToken": "NoSuchTaskToken", "output": "{}"}),
        ("SendTaskFailure", {"taskToken": "NoSuchTaskToken", "error": "E"}),
        ("SendTaskHeartbeat", {"taskToken": "NoSuchTaskToken"}),
    ],
)
def test_a_token_never_issued_is_answered_invalid_token_in_aws_words(operation, params):
    assert params["taskToken"] not in TASK_TOKENS
    with pytest.raises(ClientError) as raised:
        check_callback(None, operation, params)  # type: ignore[arg-type]  (refused before any lookup)
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidToken", "Invalid Token: 'Invalid token'")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
