"""A members API as a CDK user would write it: a Cognito user pool with a hosted domain, an app
client for SRP and password sign-in, an admins group, and a REST API whose Cognito authorizer
guards a Python function that answers with the caller's claims."""

from pathlib import Path

from aws_cdk import App, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_


class MembersStack(Stack):
    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        pool = cognito.UserPool(
            self,
            "Members",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=10, require_symbols=False, temp_password_validity=Duration.days(3)
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        domain = pool.add_domain(
            "Hosted", cognito_domain=cognito.CognitoDomainOptions(domain_prefix="members-demo")
        )
        client = pool.add_client("Web", auth_flows=cognito.AuthFlow(user_srp=True, user_password=True))
        cognito.CfnUserPoolGroup(self, "Admins", user_pool_id=pool.user_pool_id, group_name="admins")

        whoami = lambda_.Function(
            self,
            "WhoAmI",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="whoami.handler",
            code=lambda_.Code.from_asset(str(Path(__file__).parent / "function")),
        )
        api = apigw.RestApi(self, "MembersApi")
        authorizer = apigw.CognitoUserPoolsAuthorizer(self, "MembersAuthorizer", cognito_user_pools=[pool])
        api.root.add_resource("me").add_method(
            "GET",
            apigw.LambdaIntegration(whoami),
            authorizer=authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
        )

        CfnOutput(self, "UserPoolId", value=pool.user_pool_id)
        CfnOutput(self, "UserPoolArn", value=pool.user_pool_arn)
        CfnOutput(self, "ProviderUrl", value=pool.user_pool_provider_url)
        CfnOutput(self, "ClientId", value=client.user_pool_client_id)
        CfnOutput(self, "SignInUrl", value=domain.sign_in_url(client, redirect_uri="https://example.com/cb"))


def build(app: App) -> None:
    MembersStack(app, "CognitoApiMembers")
