"""One deployable stack per registered pattern, and the app that holds them all."""

from __future__ import annotations

from typing import Any

from aws_cdk import App, CfnOutput, RemovalPolicies, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import Construct

from patterns.defaults import ApiGatewayAccount
from patterns.registry import PATTERNS, Pattern

#: Feature flags set in code rather than cdk.json, so tests and ``cdk synth`` build the same templates.
FEATURE_FLAGS = {
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
    "@aws-cdk/aws-iam:standardizedServicePrincipals": True,
    "@aws-cdk/aws-apigateway:requestValidatorUniqueId": True,
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
    "@aws-cdk/aws-lambda:recognizeVersionProps": True,
    # Server access logs are let in by a bucket policy, not the legacy LogDeliveryWrite ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}

#: What ``cdk synth`` adds to the context: each resource's construct path and code asset in its
#: metadata. Set here too, so programmatic synths (tests, benchmarks) find code assets the same way.
SYNTH_METADATA = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}

#: ``cdk synth --no-staging``: assets keep their source paths and nothing is built for AWS (no
#: layer's Lambda-platform wheels). What every synth that only runs offline uses: the tests, the
#: demo's scenarios, the grant-mutation check; handlers then run (and debug) from functions/<id>/.
UNSTAGED = {"aws:cdk:disable-asset-staging": True}


class PatternStack(Stack):
    """A pattern's construct with its outputs, ready for ``cdk deploy <PascalId>Stack``.

    These are stacks for trying a pattern, so ``cdk destroy`` removes their data too. The constructs
    themselves keep the safer RETAIN default for anyone who copies them into their own app.
    """

    def __init__(
        self,
        scope: Construct,
        pattern: Pattern,
        *,
        variant: str | None = None,
        stack_name: str | None = None,
        props: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """``variant``: one of the pattern's registered variants instead of its default construct.
        ``props`` go to the construct, for a stack of another configuration (named ``stack_name``)."""
        summary = pattern.summary if variant is None else pattern.variant(variant).summary
        default_name = pattern.stack_name if variant is None else pattern.variant_stack_name(variant)
        super().__init__(
            scope,
            stack_name or default_name,
            description=f"{pattern.title}: {summary}",
            **kwargs,
        )
        self.pattern = pattern
        self.construct = pattern.construct_class(variant)(self, "Pattern", **(props or {}))
        descriptions = getattr(self.construct, "output_descriptions", dict)()
        for name, value in self.construct.outputs().items():
            CfnOutput(self, name, value=value, description=descriptions.get(name))
        RemovalPolicies.of(self).destroy()

    @property
    def has_rest_api(self) -> bool:
        """Whether a stage here writes execution logs, so needs API Gateway's account logging role."""
        return any(isinstance(child, apigw.RestApi) for child in self.node.find_all())


#: The stack that owns API Gateway's account-level CloudWatch role for every pattern API.
API_GATEWAY_ACCOUNT_STACK = "ApiGatewayAccountStack"


class ApiGatewayAccountStack(Stack):
    """API Gateway's logging role, one per account and region: the pattern stacks with an API need it.

    ``cdk deploy <Pattern>Stack`` deploys it first; ``cdk destroy <Pattern>Stack`` leaves it to the
    other APIs; ``cdk destroy ApiGatewayAccountStack`` (or ``--all``) removes it, after them.
    """

    def __init__(self, scope: Construct, **kwargs: Any) -> None:
        super().__init__(
            scope,
            API_GATEWAY_ACCOUNT_STACK,
            description="API Gateway's CloudWatch Logs role for this account and region, shared by every pattern API",
            **kwargs,
        )
        self.api_gateway_account = ApiGatewayAccount(self, "ApiGatewayAccount")


#: The context value ``python -m localcloud serve`` sets to the one stack it wants synthesized.
SERVE_TARGET_CONTEXT = "localcloud:target"


def new_app(*, builtin_validation: bool = True, outdir: str | None = None, **app_kwargs: Any) -> App:
    """An empty app with the project's feature flags and the cdk-nag packs as synth-time validation.

    Any unacknowledged cdk-nag finding makes ``synth()`` raise with the report.
    """
    context = {**FEATURE_FLAGS, **SYNTH_METADATA, **app_kwargs.pop("context", {})}
    app = App(
        builtin_cloud_formation_validation=builtin_validation, outdir=outdir, context=context, **app_kwargs
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


def build_app(*, builtin_validation: bool = True, outdir: str | None = None, **app_kwargs: Any) -> App:
    """:func:`new_app` with every registered pattern's stacks (its default one and its variants'), and
    the API Gateway account stack those with an API depend on.

    ``python -m localcloud serve <id>`` sets the context value ``localcloud:target`` to a pattern id
    or stack name; then only that stack is built, which keeps the first request after ``serve`` fast.
    """
    app = new_app(builtin_validation=builtin_validation, outdir=outdir, **app_kwargs)
    target = app.node.try_get_context(SERVE_TARGET_CONTEXT)
    stacks = [(pattern, variant, name) for pattern in PATTERNS for variant, name in pattern.stacks()]
    chosen = [s for s in stacks if target in (s[0].id, s[2]) and (s[1] is None or target == s[2])] or stacks
    account = ApiGatewayAccountStack(app)
    for pattern, variant, _ in chosen:
        stack = PatternStack(app, pattern, variant=variant)
        if stack.has_rest_api:
            stack.add_stack_dependency(
                account, "its API stage writes execution logs through the account's role"
            )
    return app
