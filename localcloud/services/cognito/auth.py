"""Sign-up and sign-in as Cognito does them, where moto is kinder than AWS.

moto keeps the users, issues the tokens and answers most calls. The local cloud adds what it lacks:

- ``USER_SRP_AUTH`` is answered here with real SRP (:mod:`.srp`): moto sends a random ``SRP_B``
  and accepts any ``PASSWORD_CLAIM_SIGNATURE``, so a wrong password signed in;
- an app client's ``ExplicitAuthFlows`` (moto ignores them): a flow the client does not enable is
  ``InvalidParameterException``; a client with no list allows SRP, custom and refresh auth, as AWS;
- a client secret: each call naming a user through such a client needs its ``SECRET_HASH``
  (moto checks it only for SRP and refresh);
- a pool with ``AllowAdminCreateUserOnly`` (the CDK's default, unless ``self_sign_up_enabled``)
  refuses ``SignUp``;
- the pool's password policy with AWS's defaults (8 characters, each kind required unless the policy
  says otherwise) and AWS's messages, wherever a password is set;
- confirmation codes: ``SignUp`` sends one when the pool verifies the user's email or phone, and
  ``ConfirmSignUp`` takes only that code within 24 hours of virtual time (moto takes any); so do
  ``ForgotPassword`` and ``ConfirmForgotPassword``, within 1 hour.
  Offline the code goes nowhere: a test reads it with
  ``cloud.service("cognito-idp").confirmation_code(username)``, and the trace shows it
  (a ``cognito`` span), for a person driving ``serve --aws-port``.
- ``PreventUserExistenceErrors: ENABLED``: an unknown user signs in as a wrong password does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from localcloud.core.service import AwsCall, observes
from localcloud.errors import aws_error
from localcloud.services.cognito.srp import Challenge

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

CODE_VALIDITY = {"sign-up": timedelta(hours=24), "reset": timedelta(hours=1)}
"""How long a code is valid: a sign-up confirmation 24 hours, a password reset 1 hour (AWS's)."""
INCORRECT_CREDENTIALS = "Incorrect username or password."
_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")
#: InitiateAuth's flows -> the ``ExplicitAuthFlows`` values that enable each (new and legacy).
_ENABLED_BY = {
    "USER_PASSWORD_AUTH": {"ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"},
    "USER_SRP_AUTH": {"ALLOW_USER_SRP_AUTH"},
    "CUSTOM_AUTH": {"ALLOW_CUSTOM_AUTH", "CUSTOM_AUTH_FLOW_ONLY"},
    "REFRESH_TOKEN_AUTH": {"ALLOW_REFRESH_TOKEN_AUTH"},
    "REFRESH_TOKEN": {"ALLOW_REFRESH_TOKEN_AUTH"},
    "ADMIN_USER_PASSWORD_AUTH": {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
    "ADMIN_NO_SRP_AUTH": {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
}
#: What a client without ``ExplicitAuthFlows`` allows (AWS's default).
_DEFAULT_FLOWS = {"ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
#: What AWS says when a flow is not enabled for the client.
_NOT_ENABLED = {
    "USER_PASSWORD_AUTH": "USER_PASSWORD_AUTH flow not enabled for this client",
    "USER_SRP_AUTH": "USER_SRP_AUTH is not enabled for the client.",
}


@dataclass
class _Code:
    code: str
    sent: datetime
    purpose: str


@dataclass
class _Pending:
    """An SRP sign-in between InitiateAuth and RespondToAuthChallenge."""

    challenge: Challenge
    client_id: str
    pool_id: str
    username: str
    moto_session: str


@dataclass
class UserPools:
    """The Cognito state moto does not keep: codes sent, SRP challenges, identity pool roles."""

    kernel: Kernel
    codes: dict[tuple[str, str], _Code] = field(default_factory=dict)
    challenges: dict[str, _Pending] = field(default_factory=dict)
    identity_pool_roles: dict[str, dict[str, str]] = field(default_factory=dict)
    _sent: int = 0

    def confirmation_code(self, username: str, pool: str | None = None) -> str:
        """The code (sign-up or password reset) last sent to ``username``, as the user would read it
        from the email or SMS; ``pool`` (an id) when several pools have the user."""
        found = [c for (p, u), c in self.codes.items() if u == username and pool in (None, p)]
        if len(found) != 1:
            where = f" in {pool}" if pool else ""
            raise LookupError(
                f"{len(found) or 'no'} confirmation codes pending for {username!r}{where}"
                + ("; name the pool" if found else "")
            )
        return found[0].code

    def send_code(self, pool_id: str, username: str, destination: str, purpose: str = "sign-up") -> None:
        self._sent += 1
        digits = int(self.kernel.short_id(f"cognito-code/{pool_id}/{username}/{self._sent}", 12), 16)
        code = f"{digits % 1_000_000:06d}"
        self.codes[(pool_id, username)] = _Code(code, self.kernel.clock.now(), purpose)
        _, span = self.kernel.caller()
        self.kernel.trace.record(
            "cognito",
            "cognito-idp",
            destination,
            f"{purpose} code {code} for {username}",
            at=self.kernel.clock.elapsed(),
            parent=span,
        )


# ---------------------------------------------------------------------------------------- moto


def _backend(kernel: Kernel) -> Any:
    from moto.cognitoidp.models import cognitoidp_backends

    return cognitoidp_backends[kernel.account][kernel.region]


def _client(kernel: Kernel, client_id: Any) -> tuple[Any, Any] | None:
    """(moto's pool, moto's client) of an app client id, or None: moto answers the call itself."""
    for pool in _backend(kernel).user_pools.values():
        if client_id in pool.clients:
            return pool, pool.clients[client_id]
    return None


def _moto(operation: str, call: Callable[..., Any], *args: Any) -> Any:
    """A call straight to moto's backend (the local cloud answers the SDK call itself), its
    refusals raised as the SDK would raise them."""
    from moto.core.exceptions import JsonRESTError

    try:
        return call(*args)
    except JsonRESTError as error:
        raise aws_error(error.error_type, error.message, operation, error.code) from None


# ---------------------------------------------------------------------------------------- checks


def check(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    """Refuse, before moto sees it, what Cognito refuses and moto would take."""
    checker = _CHECKS.get(operation)
    if checker is not None:
        checker(kernel, operation, params)


def _check_initiate(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    found = _client(kernel, params.get("ClientId"))
    if found is None:
        return
    pool, client = found
    flow = params.get("AuthFlow", "")
    auth = params.get("AuthParameters") or {}
    flows = set(client.extended_config.get("ExplicitAuthFlows") or _DEFAULT_FLOWS)
    allowed = set(_ENABLED_BY.get(flow, ()))
    legacy = not any(f.startswith("ALLOW_") for f in flows)
    if legacy and flow in {"USER_SRP_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"}:
        allowed = flows  # legacy lists never gated SRP or refresh
    if flow in _ENABLED_BY and not flows & allowed:
        message = _NOT_ENABLED.get(flow, "Auth flow not enabled for this client")
        raise aws_error("InvalidParameterException", message, operation)
    if flow.startswith("REFRESH"):
        return  # moto checks a refresh's secret hash, with the token's user
    username = auth.get("USERNAME")
    _check_secret_hash(client, username, auth.get("SECRET_HASH"), operation)
    user = pool._get_user(username) if username else None
    if user is None and client.extended_config.get("PreventUserExistenceErrors") == "ENABLED":
        raise aws_error("NotAuthorizedException", INCORRECT_CREDENTIALS, operation)


def _check_secret_hash(client: Any, username: Any, secret_hash: Any, operation: str) -> None:
    if not client.generate_secret:
        return
    if not secret_hash:
        raise aws_error(
            "NotAuthorizedException",
            f"Client {client.id} is configured for secret but secret was not received",
            operation,
        )
    digest = hmac.new(client.secret.encode(), f"{username}{client.id}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(digest).decode(), str(secret_hash)):
        raise aws_error(
            "NotAuthorizedException", f"Unable to verify secret hash for client {client.id}", operation
        )


def _check_user_call(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    """SignUp, ConfirmSignUp, ForgotPassword, ConfirmForgotPassword, ResendConfirmationCode."""
    found = _client(kernel, params.get("ClientId"))
    if found is None:
        return
    pool, client = found
    _check_secret_hash(client, params.get("Username"), params.get("SecretHash"), operation)
    if operation == "SignUp":
        if (pool.extended_config.get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly"):
            raise aws_error("NotAuthorizedException", "SignUp is not permitted for this user pool", operation)
        check_password(pool, params.get("Password", ""), operation)
    elif operation == "ConfirmForgotPassword":
        _check_code(kernel, pool, params, operation, "reset")
        check_password(pool, params.get("Password", ""), operation)
    elif operation == "ConfirmSignUp":
        _check_code(kernel, pool, params, operation, "sign-up")


def _check_code(kernel: Kernel, pool: Any, params: dict[str, Any], operation: str, purpose: str) -> None:
    user = pool._get_user(params.get("Username", ""))
    if user is None:
        return  # moto answers UserNotFoundException
    if purpose == "sign-up" and user.status == "CONFIRMED":
        raise aws_error(
            "NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED", operation
        )
    sent = kernel.service("cognito-idp").codes.get((pool.id, user.username))
    if sent is not None and sent.purpose != purpose:
        sent = None
    if sent is None or not hmac.compare_digest(sent.code, str(params.get("ConfirmationCode", ""))):
        raise aws_error(
            "CodeMismatchException", "Invalid verification code provided, please try again.", operation
        )
    if kernel.clock.now() - sent.sent > CODE_VALIDITY[purpose]:
        raise aws_error(
            "ExpiredCodeException", "Invalid code provided, please request a code again.", operation
        )


def _check_admin_password(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    pool = _backend(kernel).user_pools.get(params.get("UserPoolId"))
    password = params.get("TemporaryPassword" if operation == "AdminCreateUser" else "Password")
    if pool is not None and password is not None:
        check_password(pool, password, operation)


def _check_respond(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    found = _client(kernel, params.get("ClientId"))
    if found is None:
        return
    pool, client = found
    responses = params.get("ChallengeResponses") or {}
    _check_secret_hash(client, responses.get("USERNAME"), responses.get("SECRET_HASH"), operation)
    if params.get("ChallengeName") == "NEW_PASSWORD_REQUIRED" and "NEW_PASSWORD" in responses:
        check_password(pool, responses["NEW_PASSWORD"], operation)


def _check_change_password(kernel: Kernel, operation: str, params: dict[str, Any]) -> None:
    token = params.get("AccessToken", "")
    for pool in _backend(kernel).user_pools.values():
        if token in pool.access_tokens:
            check_password(pool, params.get("ProposedPassword", ""), operation)


def check_password(pool: Any, password: str, operation: str) -> None:
    """The pool's password policy as AWS applies it, with AWS's defaults and messages."""
    policy = (pool.extended_config.get("Policies") or {}).get("PasswordPolicy") or {}
    problems = []
    if len(password) < int(policy.get("MinimumLength", 8)):
        problems.append("Password not long enough")
    for key, test, what in (
        ("RequireLowercase", str.islower, "lowercase"),
        ("RequireUppercase", str.isupper, "uppercase"),
        ("RequireNumbers", str.isdigit, "numeric"),
    ):
        if policy.get(key, True) and not any(test(c) for c in password):
            problems.append(f"Password must have {what} characters")
    if policy.get("RequireSymbols", True) and not any(c in _SYMBOLS for c in password):
        problems.append("Password must have symbol characters")
    if problems:
        raise aws_error(
            "InvalidPasswordException", f"Password did not conform with policy: {problems[0]}", operation
        )


_CHECKS = {
    "InitiateAuth": _check_initiate,
    "AdminInitiateAuth": _check_initiate,
    "SignUp": _check_user_call,
    "ConfirmSignUp": _check_user_call,
    "ForgotPassword": _check_user_call,
    "ConfirmForgotPassword": _check_user_call,
    "ResendConfirmationCode": _check_user_call,
    "AdminCreateUser": _check_admin_password,
    "AdminSetUserPassword": _check_admin_password,
    "RespondToAuthChallenge": _check_respond,
    "ChangePassword": _check_change_password,
}


# ---------------------------------------------------------------------------------------- answers


def answer_initiate_auth(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    """USER_SRP_AUTH's challenge with a real ``SRP_B``; other flows are moto's."""
    params = call.params
    if params.get("AuthFlow") != "USER_SRP_AUTH":
        return None
    auth = params.get("AuthParameters") or {}
    if not auth.get("SRP_A"):  # moto would answer a bare ResourceNotFoundException
        raise aws_error("InvalidParameterException", "Missing required parameter SRP_A", call.operation)
    # moto refuses an unknown client or user, an unconfirmed or disabled one, and starts a session.
    started = _moto(
        call.operation, _backend(kernel).initiate_auth, params.get("ClientId"), "USER_SRP_AUTH", dict(auth)
    )
    pool, _ = _client(kernel, params["ClientId"])  # type: ignore[misc]
    user = pool._get_user(auth["USERNAME"])
    try:
        challenge = Challenge.start(pool.id.split("_", 1)[1], user.username, user.password, auth["SRP_A"])
    except ValueError as error:
        raise aws_error("InvalidParameterException", str(error), call.operation) from None
    block = base64.b64encode(secrets.token_bytes(48)).decode()
    state: UserPools = kernel.service("cognito-idp")
    state.challenges[block] = _Pending(
        challenge, params["ClientId"], pool.id, user.username, started["Session"]
    )
    return 200, {
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeParameters": {
            **challenge.parameters,
            "SECRET_BLOCK": block,
            "USERNAME": user.username,
            "USER_ID_FOR_SRP": user.username,
        },
    }


def answer_respond(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    """PASSWORD_VERIFIER: the signature must prove the password; then moto signs the user in."""
    params = call.params
    if params.get("ChallengeName") != "PASSWORD_VERIFIER":
        return None
    responses = dict(params.get("ChallengeResponses") or {})
    state: UserPools = kernel.service("cognito-idp")
    block = responses.get("PASSWORD_CLAIM_SECRET_BLOCK", "")
    pending = state.challenges.pop(block, None)
    if pending is None or pending.client_id != params.get("ClientId"):
        raise aws_error("NotAuthorizedException", "Invalid session for the user.", call.operation)
    try:
        secret_block = base64.b64decode(block)
    except ValueError:
        secret_block = b""
    pool_name = pending.pool_id.split("_", 1)[1]
    if responses.get("USERNAME") not in {pending.username, None} or not pending.challenge.verifies(
        pool_name,
        pending.username,
        secret_block,
        str(responses.get("TIMESTAMP", "")),
        str(responses.get("PASSWORD_CLAIM_SIGNATURE", "")),
    ):
        raise aws_error("NotAuthorizedException", INCORRECT_CREDENTIALS, call.operation)
    responses.update(USERNAME=pending.username, PASSWORD_CLAIM_SECRET_BLOCK=pending.moto_session)
    respond = _backend(kernel).respond_to_auth_challenge
    return 200, _moto(
        call.operation, respond, pending.moto_session, pending.client_id, "PASSWORD_VERIFIER", responses
    )


def answer_sign_up(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    """moto's sign-up, with the code sent where Cognito sends it (moto names the account recovery
    medium, and sends nothing)."""
    params = call.params
    user, _ = _moto(
        call.operation,
        _backend(kernel).sign_up,
        params.get("ClientId"),
        params.get("Username"),
        params.get("Password"),
        params.get("UserAttributes") or [],
    )
    pool, _ = _client(kernel, params["ClientId"])  # type: ignore[misc]
    answer: dict[str, Any] = {"UserConfirmed": False, "UserSub": user.id}
    details = _delivery(pool, user)
    if details is not None:
        kernel.service("cognito-idp").send_code(pool.id, user.username, details["Destination"])
        answer["CodeDeliveryDetails"] = details
    return 200, answer


def answer_resend_code(kernel: Kernel, call: AwsCall) -> tuple[int, dict[str, Any]] | None:
    """A new confirmation code (moto lacks ResendConfirmationCode)."""
    found = _client(kernel, call.params.get("ClientId"))
    if found is None:
        raise aws_error(
            "ResourceNotFoundException",
            f"User pool client {call.params.get('ClientId')} does not exist.",
            call.operation,
        )
    pool, _ = found
    user = pool._get_user(call.params.get("Username", ""))
    if user is None:
        raise aws_error("UserNotFoundException", "Username/client id combination not found.", call.operation)
    details = _delivery(pool, user)
    if details is None:
        raise aws_error(
            "InvalidParameterException",
            "Auto verification not turned on.",
            call.operation,
        )
    kernel.service("cognito-idp").send_code(pool.id, user.username, details["Destination"])
    return 200, {"CodeDeliveryDetails": details}


def _delivery(pool: Any, user: Any) -> dict[str, str] | None:
    """Where Cognito sends a user's confirmation code: an auto-verified email, else phone."""
    verified = pool.extended_config.get("AutoVerifiedAttributes") or []
    for attribute, medium in (("email", "EMAIL"), ("phone_number", "SMS")):
        value = user.attribute_lookup.get(attribute)
        if attribute in verified and value:
            masked = (
                f"{value[0]}***{value[value.find('@') :]}" if medium == "EMAIL" else f"+*******{value[-4:]}"
            )
            return {"Destination": masked, "DeliveryMedium": medium, "AttributeName": attribute}
    return None


# ---------------------------------------------------------------------------------------- observers


_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


@observes("cognito-idp", "CreateUserPool")
def tokens_last_as_the_client_says(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    """ID and access tokens expire after the app client's ``IdTokenValidity`` and
    ``AccessTokenValidity`` (in ``TokenValidityUnits``, hours by default), 1 hour without them;
    moto made every token last 1 hour."""
    pool = _backend(kernel).user_pools.get(parsed["UserPool"]["Id"])
    if pool is None:
        return
    mint = pool.create_jwt

    def create_jwt(
        client_id: str, username: str, token_use: str, expires_in: int = 3600, **extra: Any
    ) -> Any:
        client = pool.clients.get(client_id)
        config = client.extended_config if client is not None else {}
        kind = {"id": "IdToken"}.get(token_use, "AccessToken")
        validity = config.get(f"{kind}Validity")
        if validity:
            unit = (config.get("TokenValidityUnits") or {}).get(kind, "hours")
            expires_in = int(validity) * _SECONDS[unit]
        return mint(client_id, username, token_use, expires_in, **extra)

    pool.create_jwt = create_jwt


@observes("cognito-idp", "CreateUserPoolClient")
def reads_every_attribute(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    """A client without ``ReadAttributes`` reads them all, so the ID token carries the user's
    attributes (``email``...) as on AWS; moto put none in it."""
    if params.get("ReadAttributes"):
        return
    pool = _backend(kernel).user_pools.get(params.get("UserPoolId"))
    client = pool.clients.get(parsed["UserPoolClient"]["ClientId"]) if pool is not None else None
    if client is not None:
        client.get_readable_fields = lambda: [n for n in pool.schema_attributes if n != "sub"]


@observes("cognito-idp", "ForgotPassword")
def sent_for_reset(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    """The reset code goes where moto says it sends it (the recovery medium); moto took any code."""
    found = _client(kernel, params.get("ClientId"))
    user = found[0]._get_user(params.get("Username", "")) if found is not None else None
    if user is not None:
        destination = (parsed.get("CodeDeliveryDetails") or {}).get("Destination", "the user")
        kernel.service("cognito-idp").send_code(found[0].id, user.username, destination, "reset")


@observes("cognito-idp", "ConfirmForgotPassword")
def used_on_reset(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    found = _client(kernel, params.get("ClientId"))
    user = found[0]._get_user(params.get("Username", "")) if found is not None else None
    if user is not None:
        kernel.service("cognito-idp").codes.pop((found[0].id, user.username), None)


@observes("cognito-idp", "ConfirmSignUp", "AdminConfirmSignUp")
def used_on_confirm(kernel: Kernel, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    pool = _backend(kernel).user_pools.get(params.get("UserPoolId"))
    if pool is None:
        found = _client(kernel, params.get("ClientId"))
        if found is None:
            return
        pool = found[0]
    user = pool._get_user(params.get("Username", ""))
    if user is None:
        return
    sent = kernel.service("cognito-idp").codes.pop((pool.id, user.username), None)
    details = _delivery(pool, user)
    if sent is not None and params.get("ClientId") and details is not None:
        # The code reached the user at that address: Cognito marks it verified.
        user.update_attributes([{"Name": f"{details['AttributeName']}_verified", "Value": "true"}])
