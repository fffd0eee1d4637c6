"""What the local cloud does once instead of per call must leave every answer as it was."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localcloud.core import speedups


@pytest.fixture
def kms():
    speedups.install()
    with mock_aws():
        yield boto3.client("kms", region_name="us-east-1")


def test_asymmetric_keys_still_get_key_pairs_of_their_own(kms):
    first, second = (kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY") for _ in range(2))
    public = [kms.get_public_key(KeyId=key["KeyMetadata"]["KeyId"])["PublicKey"] for key in (first, second)]
    assert public[0] != public[1]
    signature = kms.sign(
        KeyId=first["KeyMetadata"]["KeyId"],
        Message=b"m",
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )["Signature"]
    verify = {"Message": b"m", "Signature": signature, "SigningAlgorithm": "RSASSA_PSS_SHA_256"}
    assert kms.verify(KeyId=first["KeyMetadata"]["KeyId"], **verify)["SignatureValid"]
    assert not kms.verify(KeyId=second["KeyMetadata"]["KeyId"], **verify)["SignatureValid"]


def test_symmetric_keys_still_encrypt_with_their_own_material(kms):
    first, second = (kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
    blob = kms.encrypt(KeyId=first, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob, KeyId=second)
