"""CloudFormation's ``{{resolve:secretsmanager:...}}`` dynamic references, read from the local
cloud's Secrets Manager as CloudFormation reads them at deployment: for any service whose
properties may carry one (a database's master password, a CloudFront origin's custom header)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from localcloud.errors import TemplateError, Unsupported

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

_DYNAMIC = re.compile(
    r"\{\{resolve:secretsmanager:(?P<secret>.+?)(?::SecretString:(?P<key>[^:}]*)(?::(?P<stage>[^:}]*))?"
    r"(?::(?P<version>[^:}]*))?)?\}\}"
)


def resolve_secret_references(kernel: Kernel, value: Any, logical_id: str) -> Any:
    """CloudFormation's ``{{resolve:secretsmanager:...}}`` dynamic references, read from the secret."""
    if not isinstance(value, str) or "{{resolve:" not in value:
        return value

    def read(match: re.Match[str]) -> str:
        client = kernel.admin_client("secretsmanager")
        options = {"SecretId": match["secret"]}
        if match["stage"]:
            options["VersionStage"] = match["stage"]
        if match["version"]:
            options["VersionId"] = match["version"]
        secret = client.get_secret_value(**options)["SecretString"]
        if not match["key"]:
            return secret
        try:
            return str(json.loads(secret)[match["key"]])
        except (ValueError, KeyError, TypeError) as error:
            raise TemplateError(f"{logical_id}: {match[0]} names no key of a JSON secret ({error})") from None

    resolved = _DYNAMIC.sub(read, value)
    if "{{resolve:" in resolved:
        raise Unsupported(logical_id, f"the dynamic reference in {value!r}")
    return resolved
