"""Step Functions CRUD: API Gateway runs an Express state machine synchronously; no Lambda anywhere.

``GET``, ``PUT`` and ``DELETE /items/{id}`` each start a synchronous Express execution
(``StartSyncExecution``, API Gateway's own role). A Choice on the HTTP method routes to the
DynamoDB integrations: ``GetItem``, ``PutItem`` (after the workflow checks the item's shape),
``DeleteItem`` (only an item that exists). The execution's outcome becomes the HTTP answer in the
integration response: its output as 200, its error as a status (``NotFound`` 404, ``InvalidBody``
400, anything else 500). API Gateway itself refuses a body that is not a JSON object (400).

Example::

    crud = SfnCrud(self, "Catalog")
    crud.table.grant_read_data(reporting_fn)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .defaults import (
    LOG_RETENTION,
    Props,
    SecureDefault,
    SecureRestApi,
    acknowledge,
    acknowledge_workflow_grants,
    api_integration_role,
    grant_table_key,
    json_model,
    merge_props,
    rest_api_props,
    secure_state_machine,
    table_or_new,
    vtl_json_string,
)

#: The execution's errors, and the HTTP status each becomes; any other error is a 500.
ERROR_STATUS = {"NotFound": 404, "InvalidBody": 400, "InvalidId": 400, "MethodNotAllowed": 405}
#: Item ids are 1 to 256 characters: a domain limit, far inside DynamoDB's 2,048-byte partition key
#: (256 characters are at most 1,024 bytes of UTF-8). A path parameter's length cannot be checked by
#: a request validator, so the workflow checks it first.
MAX_ID_LENGTH = 256
#: Names are 1 to 200 characters; a price is 0 or from one cent to 1,000,000,000 (a domain rule,
#: inside DynamoDB's number range: it refuses magnitudes under 1E-130 with "Number underflow"), so
#: no body API Gateway lets in is refused by DynamoDB or comes near Step Functions' 256 KiB input.
MAX_NAME_LENGTH = 200
MIN_PRICE = 0.01
MAX_PRICE = 1_000_000_000
#: Text without a lone UTF-16 surrogate, which DynamoDB cannot store as UTF-8.
NO_LONE_SURROGATE = "^[^\\ud800-\\udfff]*$"
ITEM_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Item",
    "type": "object",
    "required": ["name", "price"],
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME_LENGTH,
            "pattern": NO_LONE_SURROGATE,
        },
        "price": {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_PRICE,
            "anyOf": [{"maximum": 0}, {"minimum": MIN_PRICE}],
        },
    },
}
#: What the workflow's DynamoDB tasks call on the table.
TABLE_TASK_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
#: API Gateway's role may start the state machine and nothing else: a policy given in its props warns.
API_ROLE_SECURE = tuple(
    SecureDefault(prop, bool, "lets API Gateway only start the state machine")
    for prop in ("managed_policies", "inline_policies")
)
#: An AWS integration selects its response by the service's status: Step Functions refusing the call.
_SERVICE_ERROR = r"4\d{2}|5\d{2}"
# The execution input is a JSON document inside the JSON string ``input``: the id sits two strings
# deep and is escaped twice; the body (JSON text) sits one string deep and is escaped once.
_ID = vtl_json_string("$id", depth=2)
# An id of any length must not push the input over Step Functions' 256 KiB, so the template cuts it;
# VTL counts UTF-16 units (Java's), the workflow code points. A valid id is at most 2 * 256 units and
# is passed whole; a longer one is cut to 513 units, at least 257 code points, which the workflow
# refuses as too long: a cut can never turn one id into another, valid one.
_ID_UNITS = 2 * MAX_ID_LENGTH + 1
_BOUNDED_ID = (
    "#set($id = $input.params('id'))"
    f"#if($id.length() > {_ID_UNITS})#set($id = $id.substring(0, {_ID_UNITS}))#end"
)
_BODY = vtl_json_string("$input.json('$')", depth=1)
_INTERNAL_ERROR = (
    '{"error": "InternalError", "message": "The request could not be completed; retry later.", '
    '"requestId": "$context.requestId"}'
)


def _response_template() -> str:
    # A mapped error's cause is the pattern's own Fail state's; any other (a task's, a runtime
    # error) may hold AWS's wording and request ids, so it is not echoed.
    cause = vtl_json_string("$input.path('$.cause')")
    statuses = "\n".join(
        f'#{"if" if i == 0 else "elseif"}($error == "{error}")\n'
        f"#set($context.responseOverride.status = {status})\n"
        f'{{"error": "{error}", "message": "{cause}"}}'
        for i, (error, status) in enumerate(ERROR_STATUS.items())
    )
    return f"""#set($status = $input.path('$.status'))
#if($status == "SUCCEEDED")
$input.path('$.output')
#else
#set($error = $input.path('$.error'))
{statuses}
#else
#set($context.responseOverride.status = 500)
{_INTERNAL_ERROR}
#end
#end"""


class SfnCrud(Construct):
    """``/items/{id}`` served by an Express state machine over a DynamoDB table.

    :param table: an existing table with string partition key ``id``; one is created if omitted.
    :param include_execution_data: log each state's input and output too (they hold the items);
        not with ``state_machine_props["logs"]``.
    :param throttling_rate_limit: steady requests per second the stage accepts before answering 429.
    :param throttling_burst_limit: requests the stage accepts at once.
    :param table_props: ``dynamodb.Table`` props of the table made here.
    :param state_machine_props: ``sfn.StateMachine`` props; the definition and the Express type are
        the pattern's.
    :param api_props: ``SecureRestApi`` props.
    :param api_role_props: ``iam.Role`` props of API Gateway's role (``permissions_boundary``...);
        a policy given here warns, since the role may otherwise only start the state machine.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable | None = None,
        include_execution_data: bool | None = None,
        throttling_rate_limit: float | None = None,
        throttling_burst_limit: int | None = None,
        table_props: Props | None = None,
        state_machine_props: Props | None = None,
        api_props: Props | None = None,
        api_role_props: Props | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        )
        self.log_group = logs.LogGroup(
            self, "ExecutionLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.state_machine = secure_state_machine(
            self,
            "Workflow",
            log_group=self.log_group,
            include_execution_data=include_execution_data,
            **merge_props(
                self,
                "state_machine_props",
                {
                    "definition_body": sfn.DefinitionBody.from_chainable(self._definition()),
                    "state_machine_type": sfn.StateMachineType.EXPRESS,
                    "comment": "CRUD on one item: a Choice on the HTTP method, DynamoDB integrations, no Lambda",
                },
                state_machine_props,
                fixed=("definition_body", "definition", "state_machine_type"),
            ),
        )
        # CDK's DynamoDB tasks grant their action on the table, but nothing on a customer-managed key.
        grant_table_key(self.table, self.state_machine, *TABLE_TASK_ACTIONS)
        acknowledge_workflow_grants(self.state_machine)

        self.api_role = api_integration_role(
            self,
            api_role_props,
            description="API Gateway's role: may run the CRUD state machine synchronously, nothing else",
            secure=API_ROLE_SECURE,
        )
        self.state_machine.grant_start_sync_execution(self.api_role)
        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Step Functions CRUD: GET, PUT, DELETE /items/{id}",
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        item = self.api.root.add_resource("items").add_resource("{id}")
        object_body = json_model(self.api, "ItemObject", ITEM_SCHEMA)
        for verb in ("GET", "PUT", "DELETE"):
            body = _BODY if verb == "PUT" else "null"
            method = item.add_method(
                verb,
                self._integration(verb, body),
                method_responses=[
                    apigw.MethodResponse(status_code=str(status)) for status in (200, 400, 404, 405, 500)
                ],
                **(
                    {
                        "request_validator": self.api.body_validator,
                        "request_models": {"application/json": object_body},
                    }
                    if verb == "PUT"
                    else {}
                ),
            )
            acknowledge(
                method,
                "AwsSolutions-APIG4",
                "A sample CRUD API without callers to authenticate; put an authorizer in front (see the "
                "gatekeeper pattern) before storing anything that is not public.",
            )
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "No Cognito user pool in this pattern; see the note on APIG4.",
            )

    def _integration(self, verb: str, body: str) -> apigw.AwsIntegration:
        arn = self.state_machine.state_machine_arn
        request = (
            f"{_BOUNDED_ID}\n"
            f'{{"stateMachineArn": "{arn}", "input": "{{\\"method\\": \\"{verb}\\", '
            f'\\"id\\": \\"{_ID}\\", \\"body\\": {body}}}"}}'
        )
        return apigw.AwsIntegration(
            service="states",
            action="StartSyncExecution",
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=self.api_role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_templates={"application/json": request},
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code="200", response_templates={"application/json": _response_template()}
                    ),
                    apigw.IntegrationResponse(
                        status_code="500",
                        selection_pattern=_SERVICE_ERROR,
                        response_templates={
                            "application/json": '{"error": "ServiceError", "message": "The request could not be '
                            'run; retry later.", "requestId": "$context.requestId"}'
                        },
                    ),
                ],
            ),
        )

    def _definition(self) -> sfn.IChainable:
        key = {"id": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.id"))}
        not_found = sfn.Fail(self, "NotFound", error="NotFound", cause="There is no item with this id.")

        get = tasks.DynamoGetItem(self, "GetItem", table=self.table, key=key, result_path="$.found")
        found = (
            sfn.Choice(self, "Found?")
            .when(
                sfn.Condition.is_present("$.found.Item"),
                sfn.Pass(
                    self,
                    "Item",
                    parameters={
                        "id.$": "$.found.Item.id.S",
                        "name.$": "$.found.Item.name.S",
                        "price.$": "States.StringToJson($.found.Item.price.N)",
                    },
                ),
            )
            .otherwise(not_found)
        )
        get.next(found)

        put = tasks.DynamoPutItem(
            self,
            "PutItem",
            table=self.table,
            item={
                **key,
                "name": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.body.name")),
                "price": tasks.DynamoAttributeValue.number_from_string(
                    sfn.JsonPath.format("{}", sfn.JsonPath.string_at("$.body.price"))
                ),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        put.next(
            sfn.Pass(
                self,
                "Stored",
                parameters={"id.$": "$.id", "name.$": "$.body.name", "price.$": "$.body.price"},
            )
        )
        invalid_body = sfn.Fail(
            self,
            "InvalidBody",
            error="InvalidBody",
            cause=f"An item needs a name (a string) and a price (0, or a number from {MIN_PRICE} to {MAX_PRICE}).",
        )
        # A safety net: whatever DynamoDB still refuses as invalid is the body's fault, a 400.
        put.add_catch(invalid_body, errors=["DynamoDB.ValidationException"])
        valid = (
            sfn.Choice(self, "ValidBody?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.body.name"),
                    sfn.Condition.is_string("$.body.name"),
                    sfn.Condition.is_present("$.body.price"),
                    sfn.Condition.is_numeric("$.body.price"),
                    sfn.Condition.or_(
                        sfn.Condition.number_equals("$.body.price", 0),
                        sfn.Condition.number_greater_than_equals("$.body.price", MIN_PRICE),
                    ),
                    sfn.Condition.number_less_than_equals("$.body.price", MAX_PRICE),
                ),
                put,
            )
            .otherwise(invalid_body)
        )

        delete = tasks.DynamoDeleteItem(
            self,
            "DeleteItem",
            table=self.table,
            key=key,
            condition_expression="attribute_exists(id)",
            result_path=sfn.JsonPath.DISCARD,
        )
        delete.add_catch(not_found, errors=["DynamoDB.ConditionalCheckFailedException"])
        delete.next(sfn.Pass(self, "Deleted", parameters={"deleted.$": "$.id"}))

        route = (
            sfn.Choice(self, "Method?")
            .when(sfn.Condition.string_equals("$.method", "GET"), get)
            .when(sfn.Condition.string_equals("$.method", "PUT"), valid)
            .when(sfn.Condition.string_equals("$.method", "DELETE"), delete)
            .otherwise(
                sfn.Fail(self, "MethodNotAllowed", error="MethodNotAllowed", cause="GET, PUT or DELETE only.")
            )
        )
        # JSONPath has no string length; this one state asks JSONata, and hands its input on unchanged.
        return (
            sfn.Choice.jsonata(self, "ValidId?")
            .when(
                sfn.Condition.jsonata(
                    f"{{% $type($states.input.id) = 'string' and $length($states.input.id) >= 1 "
                    f"and $length($states.input.id) <= {MAX_ID_LENGTH} %}}"
                ),
                route,
            )
            .otherwise(
                sfn.Fail(
                    self,
                    "InvalidId",
                    error="InvalidId",
                    cause=f"id: expected 1 to {MAX_ID_LENGTH} characters.",
                )
            )
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "ApiUrl": self.api.url_for_path("/items"),
            "StateMachineArn": self.state_machine.state_machine_arn,
            "TableName": self.table.table_name,
        }
