"""Step Functions state machines: created in moto, run by the local cloud's engine.

The definition comes from ``DefinitionString`` (often an ``Fn::Join``) or ``Definition``, with
``DefinitionSubstitutions`` applied as CloudFormation applies them; the local cloud checks it can
run every state before the machine is created (:mod:`localcloud.services.stepfunctions.definition`).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import InvalidRequest, TemplateError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

_SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")
#: What a state machine's role must allow on ``*`` for Step Functions to deliver its execution logs
#: (Step Functions developer guide, "IAM policies for logging to CloudWatch Logs"): CloudWatch Logs'
#: vended-log delivery APIs, which take no resource-level permissions. Without them CreateStateMachine
#: refuses a logging configuration, and the stack's deployment fails.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)


@provisions("AWS::StepFunctions::StateMachine")
def state_machine(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    from localcloud.services.stepfunctions.definition import check
    from localcloud.services.stepfunctions.engine import engine

    name = props.get("StateMachineName") or cloud.physical_name(logical_id, 80)
    definition = _definition(logical_id, props)
    check(name, definition)
    request: dict[str, Any] = {
        "name": name,
        "definition": definition,
        "roleArn": props["RoleArn"],
        "type": props.get("StateMachineType", "STANDARD"),
        "tracingConfiguration": {
            "enabled": bool(props.get("TracingConfiguration", {}).get("Enabled", False))
        },
    }
    logging = props.get("LoggingConfiguration")
    if logging:
        request["loggingConfiguration"] = {
            "level": logging.get("Level", "OFF"),
            "includeExecutionData": bool(logging.get("IncludeExecutionData", False)),
            "destinations": [
                {"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                for d in logging.get("Destinations", [])
            ],
        }
        _check_log_delivery(cloud, logical_id, props["RoleArn"], request["loggingConfiguration"])
    engine(cloud)
    created = cloud.admin_client("stepfunctions").create_state_machine(**request)
    arn = created["stateMachineArn"]
    revision = cloud.short_id(f"{logical_id}/revision", 32)
    return Provisioned(arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": revision})


def _check_log_delivery(cloud: Kernel, logical_id: str, role_arn: str, logging: dict[str, Any]) -> None:
    """Refuse, as CreateStateMachine does, a machine that logs to a group while its role may not
    set up the delivery (the level OFF delivers nothing, so nothing is checked)."""
    if logging["level"] == "OFF" or not logging["destinations"] or not cloud.enforce_iam:
        return
    missing = cloud.iam.lacking(role_arn, LOG_DELIVERY_ACTIONS)
    if missing:
        raise InvalidRequest(
            f"{logical_id}: AccessDeniedException: The state machine IAM Role is not authorized to access "
            f"the Log Destination (its role {role_arn} is not allowed {', '.join(missing)} on *)"
        )


def _definition(logical_id: str, props: dict[str, Any]) -> str:
    if "DefinitionS3Location" in props:
        raise TemplateError(
            f"{logical_id}: DefinitionS3Location is not supported offline; inline the definition"
        )
    if "Definition" in props:
        text = json.dumps(props["Definition"])
    elif "DefinitionString" in props:
        text = props["DefinitionString"]
    else:
        raise TemplateError(f"{logical_id}: a state machine needs Definition or DefinitionString")
    substitutions = props.get("DefinitionSubstitutions", {})

    def substitute(match: re.Match[str]) -> str:
        if match[1] not in substitutions:
            return match[0]
        value = substitutions[match[1]]
        return value if isinstance(value, str) else json.dumps(value)

    return _SUBSTITUTION.sub(substitute, text) if substitutions else text
