"""Secured backend with a single page app: Cognito sign-up and sign-in from the page, a Cognito
user pool authorizer on the API, each user's own data, and security headers from a CloudFront
Function.

- **Who you are**: a Cognito user pool with self sign-up (an emailed code confirms the address),
  a strict password policy and an app client for the page: ``USER_SRP_AUTH`` only (the password
  never leaves the browser), no client secret (a page cannot keep one), no OAuth, no hosted UI,
  and no hint whether a user exists.
- **The API**: a REST API whose every method passes API Gateway's Cognito user pool authorizer (the
  ID token in ``Authorization``); a missing or bad token is API Gateway's 401 and no code runs. A
  REST API rather than an HTTP API's JWT authorizer: the catalog names this authorizer, and the
  REST API's request validation, usage plans and WAF come with it (an HTTP API is cheaper per
  request, see the docs page). The function reads the user from the verified ``sub`` claim: the
  table is keyed by it, so a user reads and writes only their own notes.
- **The page**: a private bucket behind CloudFront (origin access control), the API on the same
  origin under ``/api/*`` (no CORS). The page is built by :func:`bundle` (esbuild, pinned in
  package-lock.json) with ``amazon-cognito-identity-js`` for SRP; its settings (pool, client,
  Cognito endpoint) come from ``/config.json``, written at deployment.
- **Headers**: a viewer-response CloudFront Function sets CSP (only this origin and the Cognito
  endpoint), HSTS, frame options, referrer policy and ``nosniff`` on every answer. CloudFront runs
  no function when the origin answers 400 or more, so a response headers policy repeats the same
  headers for those answers; both come from :func:`security_headers`, so they cannot drift.
- **Deep links**: a viewer-request function sends every path without a file extension to
  ``/index.html``, so a deep link is the origin's 200 (and gets the function's headers); a custom
  error response would not (CloudFront skips viewer-response functions on origin errors).

Example::

    site = SecuredSpa(self, "Notes", password_min_length=14)
    site.table.grant_read_data(reporting_fn)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack, Stage, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3d
from constructs import Construct

from .defaults import (
    PROJECT_ROOT,
    CodeLocation,
    PatternFunction,
    Props,
    SecureRestApi,
    acknowledge,
    grant_table,
    json_model,
    merge_props,
    pattern_function_props,
    rest_api_props,
    secure_bucket,
    table_or_new,
)
from .edge import IMMUTABLE, REVALIDATE, built_site

WEB_DIR = PROJECT_ROOT / "web" / "secured_spa"
#: Where :func:`bundle` writes the page (``.build/`` is git-ignored): what the construct deploys.
BUILD_DIR = PROJECT_ROOT / ".build" / "web" / "secured_spa"
ESBUILD = PROJECT_ROOT / "node_modules" / ".bin" / "esbuild"
#: esbuild's options: one minified script for the browsers of the last few years.
ESBUILD_OPTIONS = ("--bundle", "--minify", "--format=iife", "--target=es2020", "--define:global=globalThis")
#: The API's routes on the distribution.
API_PATH = "/api/*"
NOTE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Note",
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 500}},
}
#: A path whose last segment has no dot is a page of the app: the viewer gets index.html.
DEEP_LINKS = """function handler(event) {
  var request = event.request;
  var last = request.uri.substring(request.uri.lastIndexOf("/") + 1);
  if (last.indexOf(".") === -1) {
    request.uri = "/index.html";
  }
  return request;
}
"""


def security_headers(cognito_origin: str) -> dict[str, str]:
    """The headers every answer carries. The CSP allows scripts, styles and fetches from the page's
    own origin and fetches to the Cognito endpoint the page signs in with; nothing else (no inline
    script, no frames of or by the page, no forms posted anywhere)."""
    csp = "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {cognito_origin}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "content-security-policy": csp,
        "strict-transport-security": "max-age=63072000; includeSubDomains",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
    }


def headers_function_code(headers: dict[str, str]) -> str:
    """The viewer-response function: ``headers`` set on the answer, replacing any the origin sent."""
    return (
        f"var HEADERS = {json.dumps(headers, indent=2)};\n"
        "function handler(event) {\n"
        "  var response = event.response;\n"
        "  for (var name in HEADERS) {\n"
        "    response.headers[name] = { value: HEADERS[name] };\n"
        "  }\n"
        "  return response;\n"
        "}\n"
    )


def bundle(source: Path = WEB_DIR, out: Path = BUILD_DIR) -> Path:
    """The page in ``out``: ``app.js`` bundled by esbuild with its npm imports, and every other
    file of ``source`` as is. Rebuilt only when a source or package-lock.json changed (a stamp
    file beside ``out`` records their hash). ``make bundle`` runs it; so does synth, when it is out of date."""
    stamp = out.with_name(f"{out.name}.stamp")
    inputs = sorted(p for p in source.rglob("*") if p.is_file() and out not in p.parents and p != stamp)
    digest = hashlib.sha256()
    for path in [*inputs, PROJECT_ROOT / "package-lock.json"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    if stamp.is_file() and stamp.read_text() == digest.hexdigest():
        return out
    if not ESBUILD.is_file():
        raise FileNotFoundError(f"{ESBUILD} is missing: run `make install` (npm ci) to build the secured SPA")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for path in inputs:
        if path.name != "app.js":
            shutil.copyfile(path, out / path.relative_to(source))
    subprocess.run(  # noqa: S603 - the pinned esbuild of node_modules, on the project's own sources
        [
            str(ESBUILD),
            str(source / "app.js"),
            *ESBUILD_OPTIONS,
            f"--outfile={out / 'app.js'}",
            "--log-level=error",
        ],
        check=True,
        cwd=PROJECT_ROOT,
    )
    stamp.write_text(digest.hexdigest())
    return out


@jsii.implements(s3d.ISource)
class _Bound:
    """A source whose object and markers are known: the deployment's role is granted that one key."""

    def __init__(self, config: s3d.SourceConfig) -> None:
        self.config = config

    def bind(self, scope: Construct, *, handler_role: iam.IRole | None = None) -> s3d.SourceConfig:
        return self.config


class SecuredSpa(Construct):
    """A single page app whose users sign up and in with Cognito and see only their own notes.

    :param site_dir: the page, built (``index.html``, ``app.js``, ``style.css``); :func:`bundle`'s
        output by default.
    :param table: an existing table keyed ``owner`` (partition) and ``id`` (sort), both strings.
    :param table_props: ``dynamodb.Table`` props of the table made here.
    :param function_props: ``PatternFunction`` props of the notes function.
    :param api_props: ``SecureRestApi`` props (the authorizer is fixed).
    :param user_pool_props: ``cognito.UserPool`` props over the defaults (``password_policy``,
        ``mfa``, ``email`` for SES...).
    :param distribution_props: ``cloudfront.Distribution`` props over the defaults.
    :param code_dir: the folder of the handler (``notes.py``); ``functions/secured_spa`` by default.
    :param password_min_length: the shortest password the pool takes (12).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site_dir: str | Path | None = None,
        table: dynamodb.ITable | None = None,
        table_props: Props | None = None,
        function_props: Props | None = None,
        api_props: Props | None = None,
        user_pool_props: Props | None = None,
        distribution_props: Props | None = None,
        code_dir: CodeLocation = "secured_spa",
        password_min_length: int = 12,
    ) -> None:
        super().__init__(scope, construct_id)
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        stack = Stack.of(self)
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            **merge_props(
                self,
                "user_pool_props",
                {
                    "self_sign_up_enabled": True,
                    "sign_in_aliases": cognito.SignInAliases(username=True),
                    "sign_in_case_sensitive": False,
                    "auto_verify": cognito.AutoVerifiedAttrs(email=True),
                    "standard_attributes": cognito.StandardAttributes(
                        email=cognito.StandardAttribute(required=True, mutable=True)
                    ),
                    "password_policy": cognito.PasswordPolicy(
                        min_length=password_min_length,
                        require_lowercase=True,
                        require_uppercase=True,
                        require_digits=True,
                        require_symbols=True,
                        temp_password_validity=Duration.days(3),
                    ),
                    "account_recovery": cognito.AccountRecovery.EMAIL_ONLY,
                    "removal_policy": RemovalPolicy.RETAIN,
                },
                user_pool_props,
            ),
        )
        self.user_pool_client = self.user_pool.add_client(
            "PageClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(1),
        )
        self.table = table_or_new(
            self,
            "Table",
            name="table",
            existing=table,
            props=table_props,
            partition_key=dynamodb.Attribute(name="owner", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        )
        self.function = PatternFunction(
            self,
            "NotesFunction",
            **pattern_function_props(
                self,
                "function_props",
                {
                    "code_dir": code_dir,
                    "handler": "notes.handler",
                    "service": "secured_spa",
                    "description": "The signed-in user's notes, keyed by the token's sub",
                    "environment": {"TABLE_NAME": self.table.table_name},
                    "timeout": Duration.seconds(10),
                },
                function_props,
            ),
        )
        grant_table(
            self.table,
            self.function,
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[self.user_pool], results_cache_ttl=Duration.minutes(5)
        )
        self.api = SecureRestApi(
            self,
            "Api",
            **rest_api_props(
                self,
                api_props,
                description="Secured SPA: each signed-in user's notes on /api/notes",
                throttling_rate_limit=None,
                throttling_burst_limit=None,
                fixed=("default_method_options",),
            ),
            default_method_options=apigw.MethodOptions(
                authorizer=self.authorizer, authorization_type=apigw.AuthorizationType.COGNITO
            ),
        )
        integration = apigw.LambdaIntegration(self.function)
        notes = self.api.root.add_resource("api").add_resource("notes")
        notes.add_method("GET", integration)
        notes.add_method(
            "POST",
            integration,
            request_validator=self.api.body_validator,
            request_models={"application/json": json_model(self.api, "NoteModel", NOTE_SCHEMA)},
        )
        note = notes.add_resource("{id}")
        note.add_method("GET", integration)
        note.add_method("DELETE", integration)

        self.cognito_endpoint = f"https://cognito-idp.{stack.region}.{stack.url_suffix}"
        self.headers = security_headers(self.cognito_endpoint)
        self.headers_function = cloudfront.Function(
            self,
            "SecurityHeaders",
            code=cloudfront.FunctionCode.from_inline(headers_function_code(self.headers)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Security headers on every answer CloudFront runs functions on",
        )
        self.deep_links_function = cloudfront.Function(
            self,
            "DeepLinks",
            code=cloudfront.FunctionCode.from_inline(DEEP_LINKS),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Paths without a file extension are pages of the app: index.html",
        )
        self.headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "ErrorHeaders",
            comment="The function's headers, for the answers CloudFront runs no function on (origin errors)",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=self.headers["content-security-policy"], override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(63072000), include_subdomains=True, override=True
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            ),
        )
        self.log_bucket = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )
        self.bucket = secure_bucket(self, "Site", server_access_logs_bucket=self.log_bucket)
        headers = cloudfront.FunctionAssociation(
            function=self.headers_function, event_type=cloudfront.FunctionEventType.VIEWER_RESPONSE
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            **merge_props(
                self,
                "distribution_props",
                {
                    "comment": "Secured single page app and its API",
                    "default_root_object": "index.html",
                    "default_behavior": cloudfront.BehaviorOptions(
                        origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                        cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                        response_headers_policy=self.headers_policy,
                        function_associations=[
                            cloudfront.FunctionAssociation(
                                function=self.deep_links_function,
                                event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                            ),
                            headers,
                        ],
                    ),
                    "additional_behaviors": {
                        API_PATH: cloudfront.BehaviorOptions(
                            origin=origins.RestApiOrigin(self.api),
                            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                            response_headers_policy=self.headers_policy,
                            function_associations=[headers],
                        )
                    },
                    "minimum_protocol_version": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
                },
                distribution_props,
            ),
        )
        built = Path(site_dir) if site_dir is not None else bundle()
        self.site_asset = s3_assets.Asset(self, "SiteAsset", path=str(built_site(self, built)))
        site = s3d.Source.bucket(self.site_asset.bucket, self.site_asset.s3_object_key)
        self.deploy_role = iam.Role(
            self,
            "DeployRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole")
            ],
        )
        config = self._config(
            {
                "region": stack.region,
                "userPoolId": self.user_pool.user_pool_id,
                "clientId": self.user_pool_client.user_pool_client_id,
                "cognitoEndpoint": f"{self.cognito_endpoint}/",
            }
        )
        self.deploy_policy = self._deploy_policy()
        self.assets_deployment = s3d.BucketDeployment(
            self,
            "DeployAssets",
            sources=[site],
            destination_bucket=self.bucket,
            exclude=["index.html"],
            cache_control=IMMUTABLE,
            prune=False,
            memory_limit=256,
            role=self.deploy_role.without_policy_updates(),
        )
        self.index_deployment = s3d.BucketDeployment(
            self,
            "DeployIndex",
            sources=[site, config],
            destination_bucket=self.bucket,
            exclude=["*"],
            include=["index.html", "config.json"],
            cache_control=REVALIDATE,
            distribution=self.distribution,
            prune=False,
            memory_limit=256,
            role=self.deploy_role.without_policy_updates(),
        )
        for deployment in (self.assets_deployment, self.index_deployment):
            deployment.node.add_dependency(self.deploy_policy)
        self.index_deployment.node.add_dependency(self.assets_deployment)
        self._acknowledge()

    def _config(self, values: dict[str, str]) -> s3d.ISource:
        """``config.json`` with ``values`` known only at deployment (the pool's id...): written with
        a marker for each, which the deployment replaces, as ``Source.json_data`` does. Written
        into the cloud assembly (``json_data``'s temporary folder is gone after an unstaged synth)."""
        markers: dict[str, str] = {}
        plain = {}
        for name, value in values.items():
            if Token.is_unresolved(value):
                plain[name] = f"<<marker:0xbaba:{len(markers)}>>"
                markers[plain[name]] = value
            else:
                plain[name] = value
        text = json.dumps(plain, indent=2)
        out = Path(Stage.of(self).outdir) / f"config.{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(text, encoding="utf-8")
        self.config_asset = s3_assets.Asset(self, "ConfigAsset", path=str(out))
        return _Bound(
            s3d.SourceConfig(
                bucket=self.config_asset.bucket,
                zip_object_key=self.config_asset.s3_object_key,
                markers=markers,
            )
        )

    def _deploy_policy(self) -> iam.Policy:
        """What the deployment function does: read the site's asset and the config's, list and
        write the site bucket, invalidate this distribution; none of CDK's wildcards."""
        distribution_arn = Stack.of(self).format_arn(
            service="cloudfront",
            region="",
            resource="distribution",
            resource_name=self.distribution.distribution_id,
        )
        return iam.Policy(
            self,
            "DeployPolicy",
            roles=[self.deploy_role],
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[
                        self.site_asset.bucket.arn_for_objects(self.site_asset.s3_object_key),
                        self.config_asset.bucket.arn_for_objects(self.config_asset.s3_object_key),
                    ],
                ),
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]),
                iam.PolicyStatement(actions=["s3:PutObject"], resources=[self.bucket.arn_for_objects("*")]),
                iam.PolicyStatement(
                    actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                    resources=[distribution_arn],
                ),
            ],
        )

    def _acknowledge(self) -> None:
        stack = Stack.of(self)
        acknowledge(
            self.log_bucket,
            "AwsSolutions-S1",
            "This bucket receives the site bucket's access logs; logging it would recurse.",
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG2",
            "MFA is the user's choice to make in a sign-up page; pass mfa in user_pool_props to require it "
            "(the page then needs a second step).",
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG8",
            "The Plus feature plan (threat protection) is billed per monthly active user; pass feature_plan "
            "in user_pool_props to take it.",
        )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway: errors return to the caller, there is no async event to keep.",
        )
        deployer = next(
            child for child in stack.node.children if child.node.id.startswith("Custom::CDKBucketDeployment")
        )
        for rule, reason in (
            (
                "AwsSolutions-L1",
                "CDK's BucketDeployment function pins its own runtime; upgrading aws-cdk-lib upgrades it.",
            ),
            (
                "Serverless-LambdaLatestVersion",
                "CDK's BucketDeployment function pins its own runtime; upgrading aws-cdk-lib upgrades it.",
            ),
            (
                "Serverless-LambdaDLQ",
                "Invoked synchronously by CloudFormation as a custom resource: a failure fails the deployment.",
            ),
            (
                "Serverless-LambdaTracing",
                "CDK's deployment-time function; it runs once per deployment, not on the request path.",
            ),
        ):
            acknowledge(deployer, rule, reason)
        acknowledge(
            self.deploy_role,
            "AwsSolutions-IAM4",
            "The deployment function writes its logs through AWSLambdaBasicExecutionRole, as CDK's own role does.",
            applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        )
        acknowledge(
            self.deploy_policy,
            "AwsSolutions-IAM5",
            "The sync writes every file of the site under its own name in the site bucket, and nowhere else.",
            applies_to=f"Resource::<{stack.get_logical_id(self.bucket.node.default_child)}.Arn>/*",
        )
        for rule, reason in (
            (
                "AwsSolutions-CFR1",
                "A public site for every country; add geo_restriction in distribution_props to limit it.",
            ),
            (
                "AwsSolutions-CFR2",
                "WAF is an account-level choice with a monthly cost; pass web_acl_id in distribution_props.",
            ),
            (
                "AwsSolutions-CFR3",
                "CloudFront's standard logs need an ACL-enabled bucket (LogDeliveryWrite), which the house buckets "
                "refuse; pass enable_logging and log_bucket in distribution_props to accept that.",
            ),
            (
                "AwsSolutions-CFR4",
                "The default *.cloudfront.net certificate allows TLSv1; pass domain_names and a certificate "
                "to enforce TLSv1.2_2021 (set here for that case).",
            ),
        ):
            acknowledge(self.distribution, rule, reason)

    def output_descriptions(self) -> dict[str, str]:
        """How a person gets a token for the API by hand: the page's sign-in keeps it in the tab."""
        return {
            "UserPoolClientId": "The page's app client (SRP only): sign up and in on SiteUrl; the ID token for "
            "Authorization: <token> is in the tab's sessionStorage (CognitoIdentityServiceProvider.<client>.<user>.idToken)"
        }

    def outputs(self) -> dict[str, Any]:
        return {
            "SiteUrl": f"https://{self.distribution.distribution_domain_name}",
            "DistributionId": self.distribution.distribution_id,
            "BucketName": self.bucket.bucket_name,
            "LogBucketName": self.log_bucket.bucket_name,
            "UserPoolId": self.user_pool.user_pool_id,
            "UserPoolClientId": self.user_pool_client.user_pool_client_id,
            "ApiUrl": self.api.url_for_path("/api/notes"),
            "TableName": self.table.table_name,
        }
