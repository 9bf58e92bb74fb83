from typing import Protocol

from tumbler.core.secrets import SecretValue


class Keyring(Protocol):
    """Envelope encryption: per-secret data keys wrapped by a versioned master key.

    ``aad`` binds a wrapped key or a sealed value to where it belongs, so a blob moved to
    another secret (or version) fails to open.
    """

    def resolve_key(self, kms_key_id: str | None) -> str:
        """The canonical id of the named key ('aws/secretsmanager' for the default).

        Raises ``tumbler.core.errors.InvalidParameter`` for a key that does not exist, as AWS does.
        """
        ...

    def new_data_key(self, key_id: str, aad: bytes) -> bytes:
        """A fresh data key for a secret under ``key_id``, returned wrapped."""
        ...

    def seal_value(self, wrapped_key: bytes, arn: str, version_id: str, value: SecretValue) -> bytes:
        """Encrypt a version's value under its secret's data key, bound to that secret and version."""
        ...

    def open_value(self, wrapped_key: bytes, arn: str, version_id: str, blob: bytes) -> SecretValue:
        """Decrypt what ``seal_value`` made for the same secret and version; else ``DecryptionFailure``."""
        ...

    def seal(self, wrapped_key: bytes, key_aad: bytes, value: SecretValue, value_aad: bytes) -> bytes:
        """Encrypt ``value`` under the data key inside ``wrapped_key``."""
        ...

    def open(self, wrapped_key: bytes, key_aad: bytes, blob: bytes, value_aad: bytes) -> SecretValue:
        """Decrypt a sealed value; raises ``DecryptionFailure`` if it was tampered with or moved."""
        ...

    def rewrap(self, wrapped_key: bytes, aad: bytes, *, key_id: str | None = None) -> bytes | None:
        """``wrapped_key`` under the newest master version (and ``key_id`` if given), or None if
        it already is. The data key inside is unchanged, so sealed values still open."""
        ...
