"""An event source mapping's settings held to what Lambda takes, refused in Lambda's words.

- A number outside the range of botocore's model of CreateEventSourceMapping (``BatchSize`` 1 to
  10,000, ``MaximumBatchingWindowInSeconds`` 0 to 300, ``ParallelizationFactor`` 1 to 10,
  ``MaximumRecordAgeInSeconds`` -1 to 604,800, ``MaximumRetryAttempts`` -1 to 10,000,
  ``TumblingWindowInSeconds`` 0 to 900) is Lambda's request validation's ``ValidationException``,
  every problem listed.
- ``MaximumRecordAgeInSeconds`` from 0 to 59 is inside the model's range but refused: "must be
  either -1 (forever) or between 60 and 604800 (inclusive)" (Lambda's answer, as quoted in
  terraform-provider-aws#16113).
- An SQS mapping takes none of a stream's retry, record age, parallelization and window settings
  (serverless#7762); the wording follows Lambda's "Unsupported ... parameter for given event source
  mapping type." And a batch over 10 needs a batching window (localstack's snapshot of Lambda's answer).
"""

from __future__ import annotations

from typing import Any

from localcloud.errors import InvalidRequest, out_of_range

#: A stream mapping's settings that an SQS mapping does not take.
STREAM_ONLY = (
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
)
RECORD_AGE = "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"
SQS_BATCH_WITHOUT_WINDOW = (
    "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
)
INVALID = "InvalidParameterValueException"


def setting_in_range(props: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    """``props[key]`` (``default`` if absent) as an int, or the ValidationException Lambda answers
    when it is outside ``low`` to ``high`` (the message names the field in camel case)."""
    value = int(props.get(key, default))
    problem = out_of_range(_wire_name(key), value, low, high)
    if problem:
        raise InvalidRequest(f"ValidationException: 1 validation error detected: {problem}")
    return value


def mapping_refusal(
    service_model: Any, settings: dict[str, Any], source: str | None, *, minimums: bool
) -> tuple[str, str] | None:
    """``(code, message)`` of Lambda's answer to a mapping with ``settings`` reading ``source`` (the
    source ARN's service: ``sqs``, ``kinesis``, ``dynamodb``; None if unknown), None if it takes
    them. ``minimums``: check the model's minimums too; an SDK call under one never leaves botocore
    (``ParamValidationError``), so the API's check leaves them to it."""
    shape = service_model.operation_model("CreateEventSourceMapping").input_shape
    problems = []
    for name, member in shape.members.items():
        if member.type_name != "integer" or settings.get(name) is None:
            continue
        low = member.metadata.get("min") if minimums else None
        problem = out_of_range(_wire_name(name), int(settings[name]), low, member.metadata.get("max"))
        if problem:
            problems.append(problem)
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        return "ValidationException", f"{count}: {'; '.join(problems)}"
    age = settings.get("MaximumRecordAgeInSeconds")
    if age is not None and -1 < int(age) < 60:
        return INVALID, RECORD_AGE
    if source == "sqs":
        for name in STREAM_ONLY:
            if settings.get(name) is not None:
                return INVALID, f"Unsupported {name} parameter for given event source mapping type."
        if int(settings.get("BatchSize", 10)) > 10 and not int(
            settings.get("MaximumBatchingWindowInSeconds", 0)
        ):
            return INVALID, SQS_BATCH_WITHOUT_WINDOW
    return None


def source_service(source_arn: Any) -> str | None:
    """The service of an event source ARN (``sqs``, ``kinesis``, ``dynamodb``), None if it is none."""
    parts = source_arn.split(":") if isinstance(source_arn, str) else []
    return parts[2] if len(parts) >= 6 else None


def _wire_name(name: str) -> str:
    return f"{name[0].lower()}{name[1:]}"
