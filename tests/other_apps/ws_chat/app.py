"""A WebSocket chat as a CDK user would write it (the AWS sample's shape): $connect stores the
connection id in a table, $disconnect removes it, and a `sendmessage` route broadcasts to every
stored connection, deleting the ones that are gone (410)."""

from pathlib import Path

from aws_cdk import App, CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_apigatewayv2_integrations import WebSocketLambdaIntegration

CODE = str(Path(__file__).parent / "handlers")


class ChatStack(Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        table = dynamodb.Table(
            self,
            "Connections",
            partition_key=dynamodb.Attribute(name="connectionId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )

        def handler(name, module):
            function = lambda_.Function(
                self,
                name,
                runtime=lambda_.Runtime.PYTHON_3_12,
                handler=f"{module}.handler",
                code=lambda_.Code.from_asset(CODE),
                environment={"TABLE_NAME": table.table_name},
            )
            table.grant_read_write_data(function)
            return function

        on_connect = handler("OnConnect", "connect")
        on_disconnect = handler("OnDisconnect", "disconnect")
        send_message = handler("SendMessage", "sendmessage")

        api = apigwv2.WebSocketApi(
            self,
            "ChatApi",
            connect_route_options=apigwv2.WebSocketRouteOptions(
                integration=WebSocketLambdaIntegration("ConnectIntegration", on_connect)
            ),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(
                integration=WebSocketLambdaIntegration("DisconnectIntegration", on_disconnect)
            ),
        )
        api.add_route("sendmessage", integration=WebSocketLambdaIntegration("SendIntegration", send_message))
        stage = apigwv2.WebSocketStage(
            self, "DevStage", web_socket_api=api, stage_name="dev", auto_deploy=True
        )
        stage.grant_management_api_access(send_message)

        CfnOutput(self, "WebSocketUrl", value=stage.url)
        CfnOutput(self, "TableName", value=table.table_name)


def build(app: App) -> None:
    ChatStack(app, "WsChatStack")
