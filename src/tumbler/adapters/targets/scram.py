"""SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL stores it, and the keys of passwords set lately.

A login with a password costs libpq 4096 rounds of PBKDF2 to derive the password's keys, most of the
client's CPU for a login, and a rotation logs in twice (benchmarks/README.md, section 3). The rotator
derives those keys itself when it makes the new password's verifier, so the login that tests the new
password (testSecret's) hands them to libpq (18 and later: ``scram_client_key`` and
``scram_server_key``, options libpq made for middleware that passes SCRAM keys through) instead of
deriving them again.

That login decides what a login with the password would, given that the keys are the password's:
the server accepts the client key only if the verifier it holds for the user is the one made here
(its StoredKey is the key's hash), and a login with the password succeeds then too, since the server
hands out that verifier's salt and iteration count; everything else (role, expiry, pg_hba, the
database) is checked alike, and libpq still checks the server's signature with the server key. That
the keys are the password's is checked on a live connection once a process (``DerivationCheck``):
the derivation here must make the verifier libpq makes, else neither keys nor verifiers are made here.
Where the server refuses the keys (the same password set again elsewhere, or a pooler in front that
keeps a verifier of its own), the target logs in with the password at once, so the answer is the
password's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from tumbler.ports.target import Credentials

log = logging.getLogger("tumbler.targets.scram")

ITERATIONS = 4096  # libpq's default, for servers before 16 that do not report ``scram_iterations``
SALT_BYTES = 16  # as libpq
Login = tuple[str, int, str]  # host, port, user name


def derivable(password: str) -> bool:
    """Whether the keys can be derived here: SASLprep leaves an ASCII password without NUL as it is."""
    return password.isascii() and "\x00" not in password


@dataclass(frozen=True)
class ScramKeys:
    """What a password's SCRAM-SHA-256 verifier is made of."""

    salt: bytes
    iterations: int
    client_key: bytes = field(repr=False, compare=False)
    server_key: bytes = field(repr=False, compare=False)

    @classmethod
    def derive(cls, password: str, salt: bytes, iterations: int) -> ScramKeys:
        """PBKDF2 from cryptography, whose own OpenSSL is several times faster here than the system's that
        hashlib uses, and which lets other threads run meanwhile."""
        if not derivable(password):
            raise ValueError("only an ASCII password without NUL is derived here (no SASLprep)")
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
        return {"scram_client_key": _b64(self.client_key), "scram_server_key": _b64(self.server_key)}


def same_as(verifier: str, password: str) -> bool:
    """Whether ``verifier`` (another's, libpq's say) is the one derived here from ``password``."""
    try:
        iterations, salt = verifier.removeprefix("SCRAM-SHA-256$").split("$")[0].split(":")
        mine = ScramKeys.derive(password, base64.b64decode(salt, validate=True), int(iterations)).verifier()
    except ValueError:
        return False
    return hmac.compare_digest(mine, verifier)


class DerivationCheck:
    """Whether ``ScramKeys`` makes the verifiers libpq makes: asked once a process, of libpq's own."""

    def __init__(self) -> None:
        self._agrees: bool | None = None
        self._lock = threading.Lock()

    def agrees(self, libpq_verifier: Callable[[str], str]) -> bool:
        """``libpq_verifier``: a password's verifier as libpq makes it, with a salt of its own."""
        if self._agrees is None:
            with self._lock:
                if self._agrees is None:
                    probe = secrets.token_urlsafe(24)
                    self._agrees = same_as(libpq_verifier(probe), probe)
                    if not self._agrees:
                        log.error("SCRAM verifiers made here differ from libpq's: leaving them to libpq")
        return self._agrees


class FreshKeys:
    """The keys of passwords this process set lately, each for the one login that comes next with the same
    host, port, user and password, within ``TTL`` seconds. Bounded; a login that finds nothing derives
    the keys as usual. The passwords are kept only as keyed hashes."""

    LIMIT = 1024
    TTL = 300.0  # a test that comes later (a retry, another node) logs in with the password

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._keys: OrderedDict[Login, tuple[bytes, float, ScramKeys]] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock
        self._pepper = secrets.token_bytes(32)  # this process's: the hashes mean nothing outside it

    def put(self, login: Login, password: str, keys: ScramKeys) -> None:
        with self._lock:
            self._keys[login] = (self._hash(password), self._clock() + self.TTL, keys)
            self._keys.move_to_end(login)
            while len(self._keys) > self.LIMIT:
                self._keys.popitem(last=False)

    def __contains__(self, login: Login) -> bool:
        with self._lock:
            return login in self._keys

    def take(self, creds: Credentials) -> ScramKeys | None:
        """The keys of ``creds``'s password if this process set it last for that login; at most once."""
        login = (creds.host, creds.port, creds.username)
        with self._lock:
            found = self._keys.get(login)
            if found is None:
                return None
            digest, expires, keys = found
            if expires <= self._clock():
                del self._keys[login]
                return None
            if not hmac.compare_digest(digest, self._hash(creds.password)):
                return None  # another password's login leaves the entry for the one it is kept for
            del self._keys[login]
        return keys

    def _hash(self, password: str) -> bytes:
        return hmac.digest(self._pepper, password.encode("utf-8", "surrogatepass"), "sha256")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
