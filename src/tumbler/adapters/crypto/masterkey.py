"""The versioned master key that wraps every data key.

A master key is a set of 32-byte AES keys numbered 1..65535; the highest number is current.
New data keys are wrapped under the current version, and old versions stay so that keys
wrapped under them still open until ``tumbler keys rewrap`` has moved them forward.

Where it comes from, in order:

* ``TUMBLER_MASTER_KEY``: either one base64 32-byte key (version 1) or the JSON document
  below. The operator owns the variable, so rotating it is the operator's job.
* ``<data_dir>/master.key``: the JSON document, created on first use with mode 0600.

The JSON document::

    {"format": 1, "keys": {"1": "<base64 32 bytes>", "2": "<base64 32 bytes>"}}

Key bytes never appear in an exception, a repr() or a log line.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

ENV_VAR = "TUMBLER_MASTER_KEY"
FILE_NAME = "master.key"
KEY_BYTES = 32
MAX_VERSION = 0xFFFF  # the wrapped-key header stores the version in two bytes
_FORMAT = 1

Source = Literal["file", "env", "memory"]


class MasterKeyError(Exception):
    """The master key is missing, malformed, unsafe or cannot be changed where it lives."""


class MasterKey:
    """An immutable set of numbered 32-byte keys; the highest number is current."""

    __slots__ = ("_keys", "source")

    def __init__(self, keys: Mapping[int, bytes], source: Source = "memory") -> None:
        if not keys:
            raise MasterKeyError("A master key needs at least one version.")
        for version, key in keys.items():
            if not 1 <= version <= MAX_VERSION:
                raise MasterKeyError(f"Master key version {version} is outside 1..{MAX_VERSION}.")
            if len(key) != KEY_BYTES:
                raise MasterKeyError(f"Master key version {version} is not {KEY_BYTES} bytes long.")
        self._keys = dict(sorted(keys.items()))
        self.source: Source = source

    def __repr__(self) -> str:
        return f"MasterKey(versions={list(self._keys)}, source={self.source!r})"

    @classmethod
    def generate(cls, source: Source = "memory") -> MasterKey:
        return cls({1: secrets.token_bytes(KEY_BYTES)}, source)

    @property
    def current_version(self) -> int:
        return next(reversed(self._keys))

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(self._keys)

    def key(self, version: int) -> bytes:
        """The key bytes of ``version``; raises KeyError (naming only the number) if absent."""
        return self._keys[version]

    def add_version(self, *, allow_env: bool = False) -> MasterKey:
        """A copy with a fresh key as the new current version.

        A key taken from ``TUMBLER_MASTER_KEY`` cannot be rotated by writing a file: this raises
        unless ``allow_env`` is set, in which case the caller must show ``to_json()`` of the
        result to the operator, who puts it in the variable and restarts.
        """
        if self.source == "env" and not allow_env:
            raise MasterKeyError(
                f"The master key comes from the {ENV_VAR} environment variable, so Tumbler cannot "
                f"rotate it. Generate the new key document (tumbler keys rotate --print), set {ENV_VAR} "
                "to it, restart, then rewrap the data keys."
            )
        version = self.current_version + 1
        if version > MAX_VERSION:
            raise MasterKeyError(f"The master key already has version {MAX_VERSION}, the last one.")
        return MasterKey({**self._keys, version: secrets.token_bytes(KEY_BYTES)}, self.source)

    def to_json(self) -> str:
        keys = {str(v): base64.b64encode(k).decode() for v, k in self._keys.items()}
        return json.dumps({"format": _FORMAT, "keys": keys}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: Source = "memory") -> MasterKey:
        try:
            doc = json.loads(text)
            if doc.get("format") != _FORMAT:
                raise MasterKeyError(f"Unsupported master key format {doc.get('format')!r}.")
            return cls({int(v): _b64_key(k) for v, k in doc["keys"].items()}, source)
        except MasterKeyError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError):
            # from None: the parser's message could quote part of the document, i.e. key bytes
            raise MasterKeyError("The master key is not a valid master key document.") from None

    def save(self, data_dir: Path) -> Path:
        """Replace ``<data_dir>/master.key`` atomically with this key (mode 0600).

        Refuses to drop or change a version the file on disk has, so two concurrent rotations
        cannot silently lose the key that wraps some data keys.
        """
        if self.source == "env":
            raise MasterKeyError(f"The master key comes from {ENV_VAR}; it is not saved to a file.")
        path = data_dir / FILE_NAME
        if path.exists():
            on_disk = _read_key_file(path)
            if any(self._keys.get(v) != on_disk.key(v) for v in on_disk.versions):
                raise MasterKeyError(f"{path} has versions this key lacks; reload it and rotate again.")
        _write_private(path, self.to_json().encode(), replace=True)
        return path


def load_master_key(data_dir: Path, env: Mapping[str, str]) -> MasterKey:
    """The master key from ``TUMBLER_MASTER_KEY`` if set, else from the key file (created if absent)."""
    if ENV_VAR not in env and not (data_dir / FILE_NAME).exists():
        _create_key_file(data_dir)
    found = existing_master_key(data_dir, env)
    assert found is not None  # created just above if it was not there
    return found


def existing_master_key(data_dir: Path, env: Mapping[str, str]) -> MasterKey | None:
    """The master key from ``TUMBLER_MASTER_KEY`` if set, else from the key file; None if neither exists."""
    path = data_dir / FILE_NAME
    if ENV_VAR in env:
        if path.exists():
            log.warning("%s is set, so %s is ignored", ENV_VAR, path)
        return _parse_env(env[ENV_VAR])
    if not path.exists():
        return None
    return _read_key_file(path)


def _parse_env(value: str) -> MasterKey:
    value = value.strip()
    if not value:
        raise MasterKeyError(f"{ENV_VAR} is set but empty.")
    if value.startswith("{"):
        return MasterKey.from_json(value, "env")
    try:
        return MasterKey({1: _b64_key(value)}, "env")
    except ValueError:
        raise MasterKeyError(
            f"{ENV_VAR} must be a base64 {KEY_BYTES}-byte key or a master key JSON document."
        ) from None


def _b64_key(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not; ValueError if it is not exactly one key."""
    if not isinstance(text, str):
        raise TypeError("key must be a string")
    text = text.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError("wrong length")
    return key


def _create_key_file(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        _write_private(data_dir / FILE_NAME, MasterKey.generate("file").to_json().encode(), replace=False)
        log.info("created a new master key in %s", data_dir / FILE_NAME)
    except FileExistsError:
        pass  # another process created it first: use theirs


def _read_key_file(path: Path) -> MasterKey:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())  # the mode of the file actually opened, not of a path that may change
        if not stat.S_ISREG(st.st_mode):
            raise MasterKeyError(f"{path} is not a regular file.")
        if st.st_mode & 0o077:
            raise MasterKeyError(
                f"{path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"refusing to use it. Run: chmod 600 {path}"
            )
        text = f.read().decode("utf-8", errors="replace")
    return MasterKey.from_json(text, "file")


def _write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to ``path`` with mode 0600, never visible half-written or world-readable.

    The bytes go to a fresh temporary file created 0600 with O_EXCL, then take the final
    name: os.replace when replacing, os.link when not (link fails if the name exists, so a
    concurrent creator's key is never overwritten).
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # losing the master key loses every secret, so make the new name durable too
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
