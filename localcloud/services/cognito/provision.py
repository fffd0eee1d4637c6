"""Cognito user pools and identity pools from the template, created in moto.

Each resource's properties go to the matching API call under the same names, so moto keeps what
the template says (the password policy, the client's auth flows and secret, the self sign-up
switch) for the checks in :mod:`localcloud.services.cognito.auth`. A property the local cloud does
not pass on stops the stack with an error naming it, rather than being dropped.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions, refuse_unknown_properties
from localcloud.errors import TemplateError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: ``AWS::Cognito::UserPool`` properties that ``CreateUserPool`` takes under the same name.
_POOL_PROPERTIES = frozenset(
    {
        "AccountRecoverySetting",
        "AdminCreateUserConfig",
        "AliasAttributes",
        "AutoVerifiedAttributes",
        "DeletionProtection",
        "DeviceConfiguration",
        "EmailConfiguration",
        "EmailVerificationMessage",
        "EmailVerificationSubject",
        "LambdaConfig",
        "MfaConfiguration",
        "Policies",
        "Schema",
        "SmsAuthenticationMessage",
        "SmsConfiguration",
        "SmsVerificationMessage",
        "UserAttributeUpdateSettings",
        "UsernameAttributes",
        "UsernameConfiguration",
        "UserPoolAddOns",
        "UserPoolTags",
        "UserPoolTier",
        "VerificationMessageTemplate",
    }
)
#: ``AWS::Cognito::UserPoolClient`` properties that ``CreateUserPoolClient`` takes as they are.
_CLIENT_PROPERTIES = frozenset(
    {
        "AccessTokenValidity",
        "AllowedOAuthFlows",
        "AllowedOAuthFlowsUserPoolClient",
        "AllowedOAuthScopes",
        "AnalyticsConfiguration",
        "AuthSessionValidity",
        "CallbackURLs",
        "DefaultRedirectURI",
        "EnablePropagateAdditionalUserContextData",
        "EnableTokenRevocation",
        "ExplicitAuthFlows",
        "GenerateSecret",
        "IdTokenValidity",
        "LogoutURLs",
        "PreventUserExistenceErrors",
        "ReadAttributes",
        "RefreshTokenValidity",
        "SupportedIdentityProviders",
        "TokenValidityUnits",
        "WriteAttributes",
    }
)
_IDENTITY_POOL_PROPERTIES = frozenset(
    {
        "AllowClassicFlow",
        "AllowUnauthenticatedIdentities",
        "CognitoIdentityProviders",
        "DeveloperProviderName",
        "IdentityPoolTags",
        "OpenIdConnectProviderARNs",
        "SamlProviderARNs",
        "SupportedLoginProviders",
    }
)


@provisions("AWS::Cognito::UserPool")
def user_pool(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id, "AWS::Cognito::UserPool", props, {*_POOL_PROPERTIES, "UserPoolName", "EnabledMfas"}
    )
    idp = cloud.admin_client("cognito-idp")
    options = {name: value for name, value in props.items() if name in _POOL_PROPERTIES}
    name = props.get("UserPoolName") or cloud.physical_name(logical_id, 128)
    pool = idp.create_user_pool(PoolName=name, **options)["UserPool"]
    if props.get("EnabledMfas"):
        mfas = set(props["EnabledMfas"])
        idp.set_user_pool_mfa_config(
            UserPoolId=pool["Id"],
            SoftwareTokenMfaConfiguration={"Enabled": "SOFTWARE_TOKEN_MFA" in mfas},
            MfaConfiguration=props.get("MfaConfiguration", "OFF"),
        )
    provider = f"cognito-idp.{cloud.region}.amazonaws.com/{pool['Id']}"
    return Provisioned(
        pool["Id"],
        {
            "Arn": pool["Arn"],
            "ProviderName": provider,
            "ProviderURL": f"https://{provider}",
            "UserPoolId": pool["Id"],
        },
    )


@provisions("AWS::Cognito::UserPoolClient")
def user_pool_client(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id, "AWS::Cognito::UserPoolClient", props, {*_CLIENT_PROPERTIES, "UserPoolId", "ClientName"}
    )
    options = {name: value for name, value in props.items() if name in _CLIENT_PROPERTIES}
    name = props.get("ClientName") or logical_id
    client = cloud.admin_client("cognito-idp").create_user_pool_client(
        UserPoolId=props["UserPoolId"], ClientName=name, **options
    )["UserPoolClient"]
    attributes = {"ClientId": client["ClientId"], "Name": name}
    if client.get("ClientSecret"):
        attributes["ClientSecret"] = client["ClientSecret"]
    return Provisioned(client["ClientId"], attributes)


@provisions("AWS::Cognito::UserPoolDomain")
def user_pool_domain(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id,
        "AWS::Cognito::UserPoolDomain",
        props,
        {"Domain", "UserPoolId", "CustomDomainConfig", "ManagedLoginVersion"},
    )
    domain = props["Domain"]
    if "CustomDomainConfig" not in props and not re.fullmatch(
        r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", domain
    ):
        raise TemplateError(
            f"{logical_id}: Domain {domain!r} is not a valid Cognito domain prefix "
            "(lowercase letters, digits and hyphens, not starting or ending with a hyphen)"
        )
    if "CustomDomainConfig" not in props and re.search(r"aws|amazon|cognito", domain):
        raise TemplateError(f"{logical_id}: a Cognito domain prefix may not contain aws, amazon or cognito")
    idp = cloud.admin_client("cognito-idp")
    options = {k: props[k] for k in ("CustomDomainConfig", "ManagedLoginVersion") if k in props}
    idp.create_user_pool_domain(Domain=domain, UserPoolId=props["UserPoolId"], **options)
    described = idp.describe_user_pool_domain(Domain=domain)["DomainDescription"]
    return Provisioned(domain, {"CloudFrontDistribution": described.get("CloudFrontDistribution", "")})


@provisions("AWS::Cognito::UserPoolGroup")
def user_pool_group(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id,
        "AWS::Cognito::UserPoolGroup",
        props,
        {"GroupName", "UserPoolId", "Description", "Precedence", "RoleArn"},
    )
    name = props.get("GroupName") or cloud.physical_name(logical_id, 128)
    options = {k: props[k] for k in ("Description", "RoleArn") if k in props}
    if "Precedence" in props:
        options["Precedence"] = int(props["Precedence"])
    cloud.admin_client("cognito-idp").create_group(GroupName=name, UserPoolId=props["UserPoolId"], **options)
    return Provisioned(name)


@provisions("AWS::Cognito::IdentityPool")
def identity_pool(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    refuse_unknown_properties(
        logical_id, "AWS::Cognito::IdentityPool", props, {*_IDENTITY_POOL_PROPERTIES, "IdentityPoolName"}
    )
    # An identity pool's name allows only word characters and spaces: CloudFormation's generated
    # names use underscores.
    name = props.get("IdentityPoolName") or re.sub(r"\W", "_", cloud.physical_name(logical_id, 128))
    options = {k: v for k, v in props.items() if k in _IDENTITY_POOL_PROPERTIES}
    options["AllowUnauthenticatedIdentities"] = bool(options.get("AllowUnauthenticatedIdentities", False))
    created = cloud.admin_client("cognito-identity").create_identity_pool(IdentityPoolName=name, **options)
    return Provisioned(created["IdentityPoolId"], {"Name": name, "Id": created["IdentityPoolId"]})


@provisions("AWS::Cognito::IdentityPoolRoleAttachment")
def identity_pool_roles(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    """Kept in the service's state (moto has no SetIdentityPoolRoles): the roles by kind."""
    refuse_unknown_properties(
        logical_id,
        "AWS::Cognito::IdentityPoolRoleAttachment",
        props,
        {"IdentityPoolId", "Roles", "RoleMappings"},
    )
    if props.get("RoleMappings"):
        raise TemplateError(
            f"{logical_id}: AWS::Cognito::IdentityPoolRoleAttachment property RoleMappings is not supported "
            "by the local cloud"
        )
    pool = props["IdentityPoolId"]
    cloud.admin_client("cognito-identity").describe_identity_pool(IdentityPoolId=pool)
    cloud.service("cognito-idp").identity_pool_roles[pool] = dict(props.get("Roles") or {})
    return Provisioned(pool)
