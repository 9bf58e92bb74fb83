"""What a secret's data key and its sealed values are bound to (their AAD): a blob moved elsewhere fails to open."""

from __future__ import annotations


def key_aad(arn: str) -> bytes:
    """A secret's wrapped data key is bound to the secret."""
    return arn.encode()


def value_aad(arn: str, version_id: str) -> bytes:
    """A sealed value is bound to its secret and version."""
    return f"{arn}\0{version_id}".encode()


def access_key_aad(access_key_id: str) -> bytes:
    """An access key's secret (and its data key) is bound to the key id."""
    return f"access-key:{access_key_id}".encode()
