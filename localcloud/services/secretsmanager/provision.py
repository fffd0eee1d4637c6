"""Secrets Manager secrets: a given ``SecretString``, or one generated as CloudFormation generates it.

``GenerateSecretString`` takes GetRandomPassword's options; with ``SecretStringTemplate`` and
``GenerateStringKey`` the generated value goes into that JSON object under the key. What
CloudFormation refuses (both ``SecretString`` and ``GenerateSecretString``, a template without its
key or a key without its template, a template that is not a JSON object, a length outside 1 to
4,096) stops the stack here too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.core.service import Provisioned, provisions
from localcloud.errors import TemplateError

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: ``GenerateSecretString`` properties that are GetRandomPassword parameters of the same name.
_PASSWORD_OPTIONS = (
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "ExcludeLowercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)


@provisions("AWS::SecretsManager::Secret")
def secret(cloud: Kernel, logical_id: str, props: dict[str, Any]) -> Provisioned:
    if "SecretString" in props and "GenerateSecretString" in props:
        raise TemplateError(f"{logical_id}: give SecretString or GenerateSecretString, not both")
    value = props.get("SecretString")
    if "GenerateSecretString" in props:
        value = _generate(cloud, logical_id, props["GenerateSecretString"])
    options: dict[str, Any] = {"Name": props.get("Name") or cloud.physical_name(logical_id, 256)}
    for name in ("Description", "KmsKeyId"):
        if name in props:
            options[name] = props[name]
    if value is not None:
        options["SecretString"] = value
    if props.get("Tags"):
        options["Tags"] = props["Tags"]
    arn = cloud.admin_client("secretsmanager").create_secret(**options)["ARN"]
    return Provisioned(arn, {"Id": arn})


def _generate(cloud: Kernel, logical_id: str, spec: dict[str, Any]) -> str:
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if (template is None) != (key is None):
        raise TemplateError(
            f"{logical_id}: GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither"
        )
    length = int(spec.get("PasswordLength", 32))
    if not 1 <= length <= 4096:
        raise TemplateError(f"{logical_id}: PasswordLength must be from 1 to 4096, got {length}")
    options = {name: spec[name] for name in _PASSWORD_OPTIONS if name in spec}
    for name, option in options.items():
        if name != "ExcludeCharacters":
            options[name] = int(option) if name == "PasswordLength" else str(option).lower() == "true"
    password = cloud.admin_client("secretsmanager").get_random_password(**options)["RandomPassword"]
    if template is None:
        return password
    try:
        document = json.loads(template)
    except json.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise TemplateError(f"{logical_id}: SecretStringTemplate must be a JSON object")
    return json.dumps({**document, key: password})
