"""The server's half of Cognito's SRP-6a (``USER_SRP_AUTH``), so a wrong password fails as on AWS.

Cognito's parameters, as its SDKs implement the client's half: the 3072-bit group of RFC 5054
with ``g = 2``, SHA-256, ``k = H(N | g)``, ``x = H(salt | H(pool | user ":" password))`` and a
16-byte HKDF key ("Caldera Derived Key") from the shared secret ``S``, salted with ``u``. The
client proves it knows the password by signing ``pool | user | secret block | timestamp`` with
that key (``PASSWORD_CLAIM_SIGNATURE``); the server, which keeps the password, derives the same key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2


def _padded(value: int) -> bytes:
    """The value's bytes as Cognito hashes them: big-endian, with a zero byte before a set top bit."""
    text = f"{value:x}"
    text = f"0{text}" if len(text) % 2 else (f"00{text}" if text[0] in "89abcdef" else text)
    return bytes.fromhex(text)


def _hash(data: bytes) -> int:
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


K = _hash(_padded(N) + _padded(G))


@dataclass
class Challenge:
    """One PASSWORD_VERIFIER challenge: what the server sent and keeps to check the answer."""

    salt: int
    verifier: int
    small_b: int
    big_a: int
    big_b: int

    @classmethod
    def start(cls, pool_name: str, user_id: str, password: str, srp_a: str) -> Challenge:
        """``srp_a`` is the client's public value in hex; ValueError when it is not a usable one."""
        try:
            big_a = int(srp_a, 16)
        except ValueError:
            raise ValueError("SRP_A is not a hexadecimal number") from None
        if big_a % N == 0:
            raise ValueError("SRP_A is 0 modulo N")
        salt = secrets.randbits(128)
        x = _hash(_padded(salt) + hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).digest())
        verifier = pow(G, x, N)
        small_b = secrets.randbits(256) % N
        big_b = (K * verifier + pow(G, small_b, N)) % N
        return cls(salt, verifier, small_b, big_a, big_b)

    @property
    def parameters(self) -> dict[str, str]:
        return {"SALT": _padded(self.salt).hex(), "SRP_B": f"{self.big_b:x}"}

    def signature(self, pool_name: str, user_id: str, secret_block: bytes, timestamp: str) -> str:
        """The ``PASSWORD_CLAIM_SIGNATURE`` a client that knows the password sends."""
        u = _hash(_padded(self.big_a) + _padded(self.big_b))
        shared = pow(self.big_a * pow(self.verifier, u, N), self.small_b, N)
        prk = hmac.new(_padded(u), _padded(shared), hashlib.sha256).digest()
        key = hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]
        message = pool_name.encode() + user_id.encode() + secret_block + timestamp.encode()
        return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()

    def verifies(self, pool_name: str, user_id: str, secret_block: bytes, timestamp: str, claim: str) -> bool:
        expected = self.signature(pool_name, user_id, secret_block, timestamp)
        return hmac.compare_digest(expected.encode(), claim.encode())
