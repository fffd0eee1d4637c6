"""A notes API as a CDK user would write it: an HTTP API (API Gateway v2) whose routes a Cognito
user pool's JWT authorizer guards by default, a Lambda integration that answers with the caller's
claims, an open health route, and CORS for the web app's origin."""

from pathlib import Path

from aws_cdk import App, CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_


class NotesStack(Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            removal_policy=RemovalPolicy.DESTROY,
        )
        client = pool.add_client("Spa", auth_flows=cognito.AuthFlow(user_srp=True))

        notes = lambda_.Function(
            self,
            "Notes",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="notes.handler",
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "function")),
        )
        api = apigwv2.HttpApi(
            self,
            "NotesApi",
            default_authorizer=authorizers.HttpUserPoolAuthorizer(
                "UsersAuthorizer", pool, user_pool_clients=[client]
            ),
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=["http://localhost:5173"],
                allow_methods=[apigwv2.CorsHttpMethod.ANY],
                allow_headers=["authorization", "content-type"],
            ),
        )
        backend = integrations.HttpLambdaIntegration("NotesIntegration", notes)
        api.add_routes(path="/me", methods=[apigwv2.HttpMethod.GET], integration=backend)
        api.add_routes(path="/notes", methods=[apigwv2.HttpMethod.POST], integration=backend)
        api.add_routes(
            path="/health",
            methods=[apigwv2.HttpMethod.GET],
            integration=backend,
            authorizer=apigwv2.HttpNoneAuthorizer(),
        )

        CfnOutput(self, "ApiUrl", value=api.url)
        CfnOutput(self, "UserPoolId", value=pool.user_pool_id)
        CfnOutput(self, "ClientId", value=client.user_pool_client_id)


def build(app: App) -> None:
    NotesStack(app, "HttpJwtNotes")
