"""Writing a new version: the one path CreateSecret, PutSecretValue and UpdateSecret share."""

from __future__ import annotations

from dataclasses import dataclass

from tumbler.core.errors import AlreadyExists
from tumbler.core.secrets import Secret, SecretValue, VersionInfo, attach_new_version, versions_to_prune
from tumbler.ops.context import Context
from tumbler.ops.secretsmanager.common import seal, token_in_use, unseal
from tumbler.ports.store import UnitOfWork


@dataclass(frozen=True)
class Written:
    version_id: str
    stages: list[str]


def write_version(
    uow: UnitOfWork, ctx: Context, secret: Secret, token: str, value: SecretValue, labels: list[str]
) -> Written:
    """Store ``value`` as version ``token`` carrying ``labels``; a retry with the same value is a no-op."""
    if token in secret.versions:
        return _retry(uow, ctx, secret, token, value)
    version = VersionInfo(token, ctx.now)
    stages = attach_new_version(secret, version, labels)
    secret.versions[token] = version
    pruned = versions_to_prune(secret, stages, ctx.now)
    uow.put_version(secret.arn, version, seal(ctx.keyring, uow.wrapped_key(secret.arn), secret.arn, token, value))
    uow.set_stages(secret.arn, stages)
    if pruned:
        uow.delete_versions(secret.arn, pruned)
    secret.stages = stages
    secret.last_changed = ctx.now
    uow.update_secret(secret)
    return Written(token, secret.stages_of(token))


def _retry(uow: UnitOfWork, ctx: Context, secret: Secret, token: str, value: SecretValue) -> Written:
    stored = uow.value(secret.arn, token)
    existing = unseal(ctx.keyring, stored) if stored else None
    if existing is None and stored is not None:  # a rotation's placeholder: this fills it
        uow.put_version(
            secret.arn, secret.versions[token], seal(ctx.keyring, stored.wrapped_key, secret.arn, token, value)
        )
        secret.last_changed = ctx.now
        uow.update_secret(secret)
    elif existing != value:
        raise AlreadyExists(token_in_use(token, secret.arn))
    return Written(token, secret.stages_of(token))
