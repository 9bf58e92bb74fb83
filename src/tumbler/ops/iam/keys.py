"""Access keys of IAM users (at most two each): the secret is returned once and stored sealed."""

from __future__ import annotations

import secrets
import string
from typing import Any

from tumbler.core.aad import access_key_aad
from tumbler.core.iam import PrincipalKind
from tumbler.core.secrets import SecretValue
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.iam.common import MAX_KEYS, entity_or_fail, fail, operation
from tumbler.ports.identity import USER, Entity
from tumbler.ports.keyring import Keyring
from tumbler.ports.store import AccessKey, Reader

DATA_KEY = "aws/secretsmanager"  # the master key access keys are sealed under, as the admin key's


def new_key_id(prefix: str) -> str:
    """AKIA... (long-term) or ASIA... (STS): 20 upper-case letters and digits."""
    return prefix + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def new_secret() -> str:
    return secrets.token_urlsafe(30)[:40]


def sealed(keyring: Keyring, key_id: str, secret: str) -> tuple[bytes, bytes]:
    """(wrapped data key, sealed secret) for an access key, as ``CredentialLookup`` opens them."""
    aad = access_key_aad(key_id)
    wrapped = keyring.new_data_key(DATA_KEY, aad)
    return wrapped, keyring.seal(wrapped, aad, SecretValue(string=secret), aad)


def _owner(ctx: Context, reader: Reader, params: Params) -> Entity:
    """The user a key operation is about: UserName, else the calling user (root has no IAM user here)."""
    name = params.get("UserName")
    if name is None:
        if ctx.caller.kind is not PrincipalKind.USER:
            raise fail("ValidationError", "Must specify userName when calling with non-User credentials")
        name = ctx.caller.username
    return entity_or_fail(reader, USER, name)


def _key_of(reader: Reader, user: Entity, key_id: str) -> AccessKey:
    key = reader.access_key(key_id)
    if key is None or key.principal != user.arn or key.expires is not None:
        raise fail("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.")
    return key


@operation("CreateAccessKey")
def create_access_key(ctx: Context, params: Params) -> Result:
    key_id, secret = new_key_id("AKIA"), new_secret()
    wrapped, sealed_secret = sealed(ctx.keyring, key_id, secret)
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        user = _owner(ctx, uow, params)
        if len(uow.access_keys_of(user.arn)) >= MAX_KEYS:
            raise fail("LimitExceeded", f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}")
        uow.put_access_key(AccessKey(key_id, user.arn, wrapped, sealed_secret, "Active", ctx.now))
    key = {"UserName": user.name, "AccessKeyId": key_id, "Status": "Active", "SecretAccessKey": secret,
           "CreateDate": ctx.now}  # fmt: skip
    return {"AccessKey": key}


@operation("ListAccessKeys")
def list_access_keys(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        user = _owner(ctx, reader, params)
        keys = reader.access_keys_of(user.arn)
    found: list[dict[str, Any]] = [
        {"UserName": user.name, "AccessKeyId": k.access_key_id, "Status": k.status, "CreateDate": k.created}
        for k in keys
    ]
    return {"AccessKeyMetadata": found, "IsTruncated": False}


@operation("UpdateAccessKey")
def update_access_key(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        user = _owner(ctx, uow, params)
        _key_of(uow, user, params["AccessKeyId"])
        uow.set_access_key_status(params["AccessKeyId"], params["Status"])
    return {}


@operation("DeleteAccessKey")
def delete_access_key(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        user = _owner(ctx, uow, params)
        _key_of(uow, user, params["AccessKeyId"])
        uow.delete_access_key(params["AccessKeyId"])
    return {}
