"""AppConfig's data plane (``appconfigdata``), answered here: moto has none.

``StartConfigurationSession`` resolves the application, environment and profile (ids or names)
and returns the session's first token; each ``GetLatestConfiguration`` spends its token and returns
the next one, with the configuration only when the session has not already received that version
(an empty body otherwise, as AWS sends). Each session is one target of a gradual deployment: it
gets the growing version once the deployment's share passes the session's fixed bucket. A spent,
unknown or day-old token, or a poll sooner than the session's
``RequiredMinimumPollIntervalInSeconds``, is a ``BadRequestException``.

The caller's role must allow ``appconfig:StartConfigurationSession`` and
``appconfig:GetLatestConfiguration`` on the profile's ARN, which names the application,
environment and profile by id even when the call named them by name.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count
from typing import TYPE_CHECKING, Any

from botocore.response import StreamingBody

from localcloud.core.iam import access_denied
from localcloud.errors import ResourceNotFound

if TYPE_CHECKING:
    from localcloud.services.appconfig.service import AppConfig, Application, Environment, Profile

TOKEN_LIFETIME = timedelta(hours=24)
DEFAULT_POLL_INTERVAL = 60


class DataPlaneError(Exception):
    """An error answer of the data plane, in the shape botocore parses into a ``ClientError``."""

    def __init__(self, status: int, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def parsed(self) -> dict[str, Any]:
        return {
            "Error": {"Code": self.code, "Message": self.message},
            "Message": self.message,
            **self.fields,
            "ResponseMetadata": {"HTTPStatusCode": self.status, "HTTPHeaders": {}},
        }


def bad_request(message: str, parameter: str | None = None, problem: str | None = None) -> DataPlaneError:
    details = {"Details": {"InvalidParameters": {parameter: {"Problem": problem}}}} if parameter else {}
    return DataPlaneError(400, "BadRequestException", message, Reason="InvalidParameters", **details)


@dataclass
class Session:
    application: Application
    environment: Environment
    profile: Profile
    arn: str
    min_interval: int | None
    token: str
    issued_at: datetime
    bucket: float = 100.0
    """Where the session falls among a gradual deployment's targets: 0 (first served) to 100."""
    last_deployment: int | None = None
    last_poll: datetime | None = None


class DataPlane:
    def __init__(self, appconfig: AppConfig) -> None:
        self.appconfig = appconfig
        self.cloud = appconfig.cloud
        self._sessions: dict[str, Session] = {}
        """Every token ever issued, to the session it belongs to (spent ones included)."""
        self._tokens = count(1)

    def answer(self, operation: str, params: dict[str, Any], principal: Any) -> tuple[int, dict[str, Any]]:
        """(HTTP status, botocore's parsed response) for one ``appconfigdata`` call."""
        try:
            if operation == "StartConfigurationSession":
                return 201, self._start(params, principal)
            if operation == "GetLatestConfiguration":
                return 200, self._latest(params, principal)
            raise DataPlaneError(
                400, "BadRequestException", f"{operation} is not an AppConfig Data operation"
            )
        except DataPlaneError as error:
            return error.status, error.parsed()

    def _start(self, params: dict[str, Any], principal: Any) -> dict[str, Any]:
        identifiers = {
            name: params[name]
            for name in ("ApplicationIdentifier", "EnvironmentIdentifier", "ConfigurationProfileIdentifier")
        }
        try:
            app, env, profile = self.appconfig.resolve(*identifiers.values())
        except ResourceNotFound as error:
            raise bad_request(f"Invalid identifiers {identifiers}: {error}") from None
        arn = self.appconfig.profile_arn(app, env, profile)
        self._authorize(principal, "StartConfigurationSession", arn)
        interval = params.get("RequiredMinimumPollIntervalInSeconds")
        if interval is not None and not 15 <= interval <= 86400:
            raise bad_request(
                f"RequiredMinimumPollIntervalInSeconds {interval} is outside 15..86400",
                "RequiredMinimumPollIntervalInSeconds",
            )
        session = Session(app, env, profile, arn, interval, "", self.cloud.clock.now())
        seed = self.cloud.short_id(f"appconfigdata/session/{next(self._tokens)}", 16)
        session.bucket = int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 10_000 / 100
        return {"InitialConfigurationToken": self._issue(session), **_metadata(201)}

    def _latest(self, params: dict[str, Any], principal: Any) -> dict[str, Any]:
        token = params["ConfigurationToken"]
        session = self._sessions.get(token)
        if session is None:
            raise bad_request("Invalid ConfigurationToken", "ConfigurationToken", "Corrupted")
        self._authorize(principal, "GetLatestConfiguration", session.arn)
        now = self.cloud.clock.now()
        if token != session.token:
            raise bad_request(
                "ConfigurationToken has already been used; pass the NextPollConfigurationToken of the "
                "last GetLatestConfiguration call",
                "ConfigurationToken",
                "Expired",
            )
        if now - session.issued_at > TOKEN_LIFETIME:
            raise bad_request("ConfigurationToken has expired", "ConfigurationToken", "Expired")
        if (
            session.min_interval
            and session.last_poll
            and now < session.last_poll + timedelta(seconds=session.min_interval)
        ):
            raise bad_request(
                f"Polled sooner than the session's RequiredMinimumPollIntervalInSeconds ({session.min_interval})",
                "ConfigurationToken",
                "PollIntervalNotSatisfied",
            )
        deployment = self.appconfig.current(
            session.application, session.environment, session.profile, session.bucket
        )
        if deployment is None:
            raise DataPlaneError(
                404,
                "ResourceNotFoundException",
                f"No deployment of configuration profile {session.profile.name} to environment "
                f"{session.environment.name} has been served yet",
                ResourceType="Deployment",
                ReferencedBy={"ConfigurationToken": token},
            )
        changed = deployment.number != session.last_deployment
        session.last_deployment, session.last_poll = deployment.number, now
        content = deployment.version.content if changed else b""
        response: dict[str, Any] = {
            "NextPollConfigurationToken": self._issue(session),
            "NextPollIntervalInSeconds": session.min_interval or DEFAULT_POLL_INTERVAL,
            "ContentType": deployment.version.content_type,
            "Configuration": StreamingBody(io.BytesIO(content), len(content)),
            **_metadata(200),
        }
        if deployment.version.label:
            response["VersionLabel"] = deployment.version.label
        return response

    def _issue(self, session: Session) -> str:
        token = f"AYADe{self.cloud.short_id(f'appconfigdata/{next(self._tokens)}', 48)}"
        session.token, session.issued_at = token, self.cloud.clock.now()
        self._sessions[token] = session
        return token

    def _authorize(self, principal: Any, operation: str, arn: str) -> None:
        """The caller's role must allow the action on the profile's ARN (ids, not names)."""
        cloud = self.cloud
        if principal is None or not cloud.enforce_iam:
            return
        action = f"appconfig:{operation}"
        decision = cloud.iam.decide(principal.role_arn, action, arn)
        if decision.allowed:
            return
        cloud.trace.record(
            "denied",
            principal.session,
            "appconfig",
            f"{action} on {arn}",
            at=cloud.clock.elapsed(),
            parent=principal.span,
            outcome="AccessDenied",
        )
        raise access_denied(
            "appconfig", operation, principal.role_arn, principal.session, action, arn, decision.reason
        )


def _metadata(status: int) -> dict[str, Any]:
    return {"ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}
