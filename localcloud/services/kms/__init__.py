"""KMS keys and aliases, created in moto; a role's call on a key is decided with the key's policy.

A key policy is required on AWS: "Unless the key policy explicitly allows it, you cannot use IAM
policies to allow access to a KMS key" (KMS developer guide, "Key policies"). The default key policy
(and the CDK's) allows the account's root, which hands the decision to the account's IAM policies;
the kernel's policy evaluator reads the policy moto holds for the key (so ``PutKeyPolicy`` counts)
with that rule (:data:`localcloud.core.iam.RESOURCE_POLICY_REQUIRED`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.iam import resource_arn
from localcloud.core.service import Service
from localcloud.services.kms import provision

if TYPE_CHECKING:
    from localcloud.core.kernel import Kernel

#: The parameters that name the key a call uses, in the order KMS reads them.
KEY_PARAMETERS = ("KeyId", "TargetKeyId")


def _iam_resource(params: dict[str, Any], where: tuple[str, str, str]) -> str | None:
    """The ARN of the key a call uses (an alias resolves to its key, as KMS authorizes it); for a
    ``Decrypt`` that names no key, the key its ciphertext was made with. None for a call on no key."""
    named = next((params[name] for name in KEY_PARAMETERS if params.get(name)), None)
    if named is None and params.get("CiphertextBlob"):
        named = _ciphertext_key(params["CiphertextBlob"])
    if not named:
        return None
    partition, region, account = where
    key = _key(account, region, str(named))
    if key is not None:
        return key.arn
    if named.startswith("arn:"):
        return named
    return resource_arn(
        partition, "kms", region, account, named if named.startswith("alias/") else f"key/{named}"
    )


def _key_policy(kernel: Kernel, arn: str) -> list[Any]:
    """The key's policy as KMS holds it now; none for a key that does not exist (the call itself
    answers that)."""
    key = _key(kernel.account, kernel.region, arn)
    return [] if key is None else kernel.iam.held_policy(key.arn, key.policy)


def _key(account: str, region: str, key_id: str) -> Any:
    from moto.kms.models import kms_backends

    backend = kms_backends[account][region]
    try:
        return backend.keys.get(backend.any_id_to_key_id(key_id))
    except (KeyError, AttributeError, TypeError):  # an alias that names no key
        return None


def _ciphertext_key(blob: Any) -> str | None:
    """The key id moto wrote into a ciphertext it made; None for anything else."""
    from moto.kms.utils import _deserialize_ciphertext_blob

    if isinstance(blob, str):
        blob = blob.encode()
    try:
        return _deserialize_ciphertext_blob(bytes(blob)).key_id
    except Exception:  # not moto's ciphertext: KMS answers InvalidCiphertextException
        return None


SERVICE = Service.of(
    "kms",
    provision,
    iam_resources={"kms": _iam_resource},
    resource_policies={"kms": _key_policy},
)
