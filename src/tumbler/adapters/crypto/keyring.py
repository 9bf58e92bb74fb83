"""Envelope encryption with AES-256-GCM: the ``Keyring`` port.

Each secret has its own random 256-bit data key, stored wrapped by the master key::

    wrapped key = b"TK1" | master version (u16 BE) | len(key id) (u8) | key id (utf-8)
                  | nonce (12) | AESGCM(master[version]).encrypt(nonce, data key, key id + b"\\0" + aad)

The key id travels in clear (it is authenticated as AAD) because ``open``, ``seal`` and
``rewrap`` are not told it; a wrapped key whose key id or aad (the secret ARN) changes
fails to open. A value is sealed under the data key::

    sealed value = b"TV1" | nonce (12) | AESGCM(data key).encrypt(nonce, type | payload, value aad)

where ``type`` is ``b"S"`` (SecretString, utf-8) or ``b"B"`` (SecretBinary) and the value aad
is the ARN and version id, so a blob copied to another secret or version fails to open.

Named KMS keys: ``aws/secretsmanager`` always exists. Others come from ``keys``, a callable
returning ``(key_id, alias)`` pairs (the store's ``kms_keys`` records, made by
``tumbler keys create NAME``); ``resolve_key`` accepts the key id, ``alias/NAME`` and the
key and alias ARNs, and returns the key id.

Unwrapped data keys are cached (as ready AESGCM objects) for ``cache_ttl`` seconds from
unwrapping, at most ``cache_size`` of them, least recently used evicted first:
GetSecretValue is the hot path. Key bytes and plaintext never reach an exception, a
repr() or a log line.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tumbler.adapters.crypto.masterkey import MasterKey, MasterKeyError
from tumbler.core.aad import key_aad, value_aad
from tumbler.core.errors import DecryptionFailure, EncryptionFailure, InvalidParameter
from tumbler.core.secrets import SecretValue

log = logging.getLogger(__name__)

DEFAULT_KEY_ID = "aws/secretsmanager"

# The wording of the AWS error shapes (botocore's secretsmanager model documentation).
DECRYPTION_FAILED = "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
ENCRYPTION_FAILED = (
    "Secrets Manager can't encrypt the protected secret text using the provided KMS key. "
    "Check that the KMS key is available, enabled, and not in an invalid state."
)
# What AWS answers (InvalidParameterException) to CreateSecret with a KmsKeyId it cannot find.
INVALID_KEY = "The operation failed because of an invalid KMS key: Invalid keyId"

KeyDirectory = Callable[[], Iterable[tuple[str, str]]]

_KEY_MAGIC = b"TK1"
_VALUE_MAGIC = b"TV1"
_NONCE = 12
_DATA_KEY_BYTES = 32
_TAG = 16
_STRING = b"S"
_BINARY = b"B"
_SEALED_AT = len(_VALUE_MAGIC) + _NONCE  # where the ciphertext starts
_SHORTEST_BLOB = _SEALED_AT + _TAG + 1  # a kind byte at least


@dataclass(frozen=True, repr=False)
class _Wrapped:
    """A parsed wrapped key (no secret material: the data key is still encrypted)."""

    version: int
    key_id: str
    nonce: bytes
    ciphertext: bytes

    def aad(self, aad: bytes) -> bytes:
        return self.key_id.encode() + b"\0" + aad


def _parse_wrapped(blob: bytes) -> _Wrapped:
    if len(blob) < 6 or blob[:3] != _KEY_MAGIC:
        raise DecryptionFailure(DECRYPTION_FAILED)
    version = int.from_bytes(blob[3:5], "big")
    end = 6 + blob[5]
    if len(blob) != end + _NONCE + _DATA_KEY_BYTES + _TAG:
        raise DecryptionFailure(DECRYPTION_FAILED)
    try:
        key_id = blob[6:end].decode()
    except UnicodeDecodeError:
        raise DecryptionFailure(DECRYPTION_FAILED) from None
    return _Wrapped(version, key_id, blob[end : end + _NONCE], blob[end + _NONCE :])


def _encode_wrapped(version: int, key_id: str, nonce: bytes, ciphertext: bytes) -> bytes:
    kid = key_id.encode()
    return _KEY_MAGIC + version.to_bytes(2, "big") + bytes([len(kid)]) + kid + nonce + ciphertext


def key_id_of(wrapped_key: bytes) -> str:
    """The key id a wrapped key is bound to, read without decrypting anything."""
    return _parse_wrapped(wrapped_key).key_id


def master_version_of(wrapped_key: bytes) -> int:
    """The master key version a wrapped key is wrapped under."""
    return _parse_wrapped(wrapped_key).version


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    size: int


class _DataKeyCache:
    """A thread-safe LRU of unwrapped data keys with a fixed lifetime from insertion.

    Every GetSecretValue asks, so a hit takes no lock: the lookup and the move to the end are one C call
    each, atomic under the GIL, and an entry evicted between the two is a hit all the same. The hit count
    is kept without the lock too: under concurrent hits ``stats()`` may count a few short."""

    def __init__(self, ttl: float, size: int, now: Callable[[], float]) -> None:
        self._ttl, self._size, self._now = ttl, size, now
        self._items: OrderedDict[tuple[bytes, bytes], tuple[float, AESGCM]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = 0
        self._next_sweep = 0.0

    def get(self, key: tuple[bytes, bytes]) -> AESGCM | None:
        item = self._items.get(key)
        if item is not None and item[0] > self._now():
            try:  # noqa: SIM105 - contextlib.suppress would cost more than the rest of a hit
                self._items.move_to_end(key)
            except KeyError:
                pass
            self._hits += 1
            return item[1]
        with self._lock:
            if self._items.get(key) is item is not None:  # expired, and not replaced meanwhile
                del self._items[key]
            self._misses += 1
            return None

    def put(self, key: tuple[bytes, bytes], aead: AESGCM) -> None:
        if self._size <= 0 or self._ttl <= 0:
            return
        now = self._now()
        with self._lock:
            self._items[key] = (now + self._ttl, aead)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            if now >= self._next_sweep:  # drop expired keys that nobody asks for any more
                self._next_sweep = now + self._ttl
                # over a snapshot (list() copies in one C call): a hit reorders the dict without the lock
                for k, (expires, _) in list(self._items.items()):
                    if expires <= now:
                        del self._items[k]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._items))


class Keyring:
    """The ``tumbler.ports.keyring.Keyring`` implementation.

    ``keys`` is called by ``resolve_key`` only, to learn the named keys; ``reload`` (for
    instance ``lambda: load_master_key(data_dir, os.environ)``) is called when a wrapped key
    names a master version this keyring lacks, e.g. after ``tumbler keys rotate`` ran in
    another process.
    """

    def __init__(
        self,
        master: MasterKey,
        keys: KeyDirectory | None = None,
        *,
        cache_ttl: float = 300.0,
        cache_size: int = 10_000,
        now: Callable[[], float] = time.monotonic,
        reload: Callable[[], MasterKey] | None = None,
    ) -> None:
        self._keys: KeyDirectory = keys if keys is not None else tuple
        self._reload = reload
        # Kept for GetSecretValue's throughput target (≥ 10,000 requests/s): no data-key unwrap on every read.
        self._cache = _DataKeyCache(cache_ttl, cache_size, now)
        self._master_lock = threading.Lock()
        self._use(master)

    def __repr__(self) -> str:
        return f"Keyring(master_versions={list(self._aeads)}, current={self._current})"

    def use_master(self, master: MasterKey) -> None:
        """Switch to another master key (a reloaded one); cached data keys stay valid."""
        with self._master_lock:
            self._use(master)

    def _use(self, master: MasterKey) -> None:
        aeads = {v: AESGCM(master.key(v)) for v in master.versions}
        self._aeads, self._current = aeads, master.current_version

    @property
    def cache_stats(self) -> CacheStats:
        return self._cache.stats()

    def clear_cache(self) -> None:
        self._cache.clear()

    # -- named keys -------------------------------------------------------------------------

    def resolve_key(self, kms_key_id: str | None) -> str:
        """The key id for a KmsKeyId: None, "", alias/aws/secretsmanager (or its ARN) give the default.

        Raises ``InvalidParameter`` for a key that does not exist, as AWS answers CreateSecret
        and UpdateSecret with InvalidParameterException there.
        """
        ref = _key_reference(kms_key_id)
        if ref is None:
            return DEFAULT_KEY_ID
        kind, name = ref
        for key_id, alias in self._keys():
            if (kind == "alias" and name == alias.removeprefix("alias/")) or (kind == "id" and name == key_id):
                return key_id
        raise InvalidParameter(INVALID_KEY)

    # -- data keys --------------------------------------------------------------------------

    def new_data_key(self, key_id: str, aad: bytes) -> bytes:
        _check_key_id(key_id)
        data_key = AESGCM.generate_key(bit_length=256)
        with self._master_lock:
            version, master = self._current, self._aeads[self._current]
        wrapped = _wrap(master, version, key_id, data_key, aad)
        self._cache.put((wrapped, aad), AESGCM(data_key))  # the caller seals with it next
        return wrapped

    def rewrap(self, wrapped_key: bytes, aad: bytes, *, key_id: str | None = None) -> bytes | None:
        """``wrapped_key`` under the current master version (and ``key_id`` if given), or None
        if it already is. The data key is unchanged, so values sealed under it still open."""
        parsed = _parse_wrapped(wrapped_key)
        new_id = parsed.key_id if key_id is None else _check_key_id(key_id)
        with self._master_lock:
            version, master = self._current, self._aeads[self._current]
        if parsed.version == version and new_id == parsed.key_id:
            return None
        data_key = self._unwrap_bytes(parsed, aad)
        return _wrap(master, version, new_id, data_key, aad)

    def _data_key(self, wrapped_key: bytes, aad: bytes) -> AESGCM:
        # the cache key includes the aad, so a hit never skips the check that binds key and secret
        return self._cache.get((wrapped_key, aad)) or self._unwrapped_key(wrapped_key, aad)

    def _unwrapped_key(self, wrapped_key: bytes, aad: bytes) -> AESGCM:
        aead = AESGCM(self._unwrap_bytes(_parse_wrapped(wrapped_key), aad))
        self._cache.put((wrapped_key, aad), aead)
        return aead

    def _unwrap_bytes(self, parsed: _Wrapped, aad: bytes) -> bytes:
        master = self._master_aead(parsed.version)
        try:
            return master.decrypt(parsed.nonce, parsed.ciphertext, parsed.aad(aad))
        except InvalidTag:
            raise DecryptionFailure(DECRYPTION_FAILED) from None

    def _master_aead(self, version: int) -> AESGCM:
        aead = self._aeads.get(version)
        if aead is None and self._reload is not None:
            try:
                self.use_master(self._reload())
            except (MasterKeyError, OSError) as exc:
                log.warning("could not reload the master key: %s", exc)
            aead = self._aeads.get(version)
        if aead is None:
            log.warning("a data key is wrapped under master key version %d, which is not loaded", version)
            raise DecryptionFailure(DECRYPTION_FAILED)
        return aead

    # -- values -----------------------------------------------------------------------------

    def seal_value(self, wrapped_key: bytes, arn: str, version_id: str, value: SecretValue) -> bytes:
        return self.seal(wrapped_key, key_aad(arn), value, value_aad(arn, version_id))

    def open_value(self, wrapped_key: bytes, arn: str, version_id: str, blob: bytes) -> SecretValue:
        return self.open(wrapped_key, key_aad(arn), blob, value_aad(arn, version_id))

    def seal(self, wrapped_key: bytes, key_aad: bytes, value: SecretValue, value_aad: bytes) -> bytes:
        payload = _encode_value(value)
        try:
            aead = self._data_key(wrapped_key, key_aad)
        except DecryptionFailure:
            raise EncryptionFailure(ENCRYPTION_FAILED) from None
        nonce = os.urandom(_NONCE)
        return _VALUE_MAGIC + nonce + aead.encrypt(nonce, payload, value_aad)

    def open(self, wrapped_key: bytes, key_aad: bytes, blob: bytes, value_aad: bytes) -> SecretValue:
        if len(blob) < _SHORTEST_BLOB or blob[:3] != _VALUE_MAGIC:
            raise DecryptionFailure(DECRYPTION_FAILED)
        aead = self._data_key(wrapped_key, key_aad)
        try:
            plain = aead.decrypt(blob[3:_SEALED_AT], blob[_SEALED_AT:], value_aad)
        except InvalidTag:
            raise DecryptionFailure(DECRYPTION_FAILED) from None
        return _decode_value(plain)


def _check_key_id(key_id: str) -> str:
    # the id is length-prefixed in the header (one byte) and NUL-terminated in the AAD
    kid = key_id.encode()
    if not kid or len(kid) > 255 or b"\0" in kid:
        raise EncryptionFailure(ENCRYPTION_FAILED)
    return key_id


def _wrap(master: AESGCM, version: int, key_id: str, data_key: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    header = _Wrapped(version, key_id, nonce, b"")
    return _encode_wrapped(version, key_id, nonce, master.encrypt(nonce, data_key, header.aad(aad)))


def _encode_value(value: SecretValue) -> bytes:
    if (value.string is None) == (value.binary is None):
        raise ValueError("a SecretValue needs exactly one of string and binary")
    if value.binary is not None:
        return _BINARY + value.binary
    return _STRING + (value.string or "").encode()


def _decode_value(plain: bytes) -> SecretValue:
    kind = plain[:1]
    if kind == _STRING:  # the usual kind first: every GetSecretValue decodes one
        try:
            return SecretValue(plain[1:].decode())
        except UnicodeDecodeError:
            pass
    elif kind == _BINARY:
        return SecretValue(binary=plain[1:])
    raise DecryptionFailure(DECRYPTION_FAILED)


def _key_reference(kms_key_id: str | None) -> tuple[str, str] | None:
    """("alias", NAME) or ("id", KEY_ID) for a KmsKeyId; None for the default key."""
    if not kms_key_id:
        return None
    ref = kms_key_id
    if ref.startswith("arn:"):
        parts = ref.split(":", 5)
        if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith(("alias/", "key/")):
            raise InvalidParameter(INVALID_KEY)
        if parts[5].startswith("key/"):
            return ("id", parts[5].removeprefix("key/"))
        ref = parts[5]
    if ref.startswith("alias/"):
        name = ref.removeprefix("alias/")
        if name == DEFAULT_KEY_ID:
            return None
        if not name or name.startswith("aws/"):  # other AWS managed keys are not Secrets Manager's
            raise InvalidParameter(INVALID_KEY)
        return ("alias", name)
    if ref == DEFAULT_KEY_ID:  # our own canonical id, so resolve_key(resolve_key(x)) == resolve_key(x)
        return None
    return ("id", ref)
