"""SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL stores it, and the keys of passwords set lately.

A login with a password costs libpq 4096 rounds of PBKDF2 to derive the password's keys: ~6 of the
~8 ms of CPU a login takes here, and a rotation logs in twice. The rotator derives those keys itself
when it makes the new password's verifier, so the login that tests the new password (testSecret's)
hands them to libpq (18 and later: ``scram_client_key`` and ``scram_server_key``) instead of
deriving them again.

That login decides what a login with the password would. The server accepts the client key only if
the verifier it holds for the user is the one made here from the password (its StoredKey is the
key's hash), and a login with the password succeeds then too, since the server hands out that
verifier's salt and iteration count; everything else (role, expiry, pg_hba, the database) is checked
alike. libpq still checks the server's signature, with the server key. Where the keys are refused
(the same password set again elsewhere, or a pooler in front that keeps a verifier of its own), the
target logs in with the password at once, so the answer is the password's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from tumbler.ports.target import Credentials


@dataclass(frozen=True)
class ScramKeys:
    """What a password's SCRAM-SHA-256 verifier is made of."""

    salt: bytes
    iterations: int
    client_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)

    @classmethod
    def derive(cls, password: str, salt: bytes, iterations: int) -> ScramKeys:
        """PBKDF2 from cryptography, whose own OpenSSL derives it 2.4x faster here than hashlib's (the
        system's OpenSSL 3.0): 1.6 against 3.9 ms of CPU for 4096 iterations. It lets other threads run."""
        salted = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password.encode())
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        return cls(salt, iterations, client_key, hmac.digest(salted, b"Server Key", "sha256"))

    def verifier(self) -> str:
        """The verifier, in the form PostgreSQL stores in ``rolpassword``."""
        stored_key = hashlib.sha256(self.client_key).digest()
        salt, stored, server = (_b64(part) for part in (self.salt, stored_key, self.server_key))
        return f"SCRAM-SHA-256${self.iterations}:{salt}${stored}:{server}"

    def libpq_options(self) -> dict[str, str]:
        """The connection options that make libpq log in with these keys rather than derive them."""
        return {
            "scram_client_key": _b64(self.client_key),
            "scram_server_key": _b64(self.server_key),
        }


class FreshKeys:
    """The keys of passwords this process set lately, each for the one login that comes next with the same
    host, port, user and password. Bounded; a login that finds nothing derives the keys as usual."""

    LIMIT = 1024

    def __init__(self) -> None:
        self._keys: OrderedDict[tuple[str, int, str], tuple[str, ScramKeys]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, host: str, port: int, username: str, password: str, keys: ScramKeys) -> None:
        with self._lock:
            self._keys[(host, port, username)] = (password, keys)
            self._keys.move_to_end((host, port, username))
            if len(self._keys) > self.LIMIT:
                self._keys.popitem(last=False)

    def __contains__(self, login: tuple[str, int, str]) -> bool:
        return login in self._keys

    def take(self, creds: Credentials) -> ScramKeys | None:
        """The keys of ``creds``'s password if this process set it last for that login; at most once."""
        login = (creds.host, creds.port, creds.username)
        with self._lock:
            found = self._keys.get(login)
            if found is None or not hmac.compare_digest(found[0].encode(), creds.password.encode()):
                return None  # another password's login leaves the entry for the one it is kept for
            del self._keys[login]
        return found[1]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
