"""Helpers every Secrets Manager operation shares: finding secrets, sealing values, rendering."""

from __future__ import annotations

import re
import secrets as random_source
import string
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from tumbler.core import listing, schedule
from tumbler.core.aad import key_aad as key_aad  # the operations and `tumbler keys` bind data keys with it
from tumbler.core.errors import DomainError, InvalidInput, InvalidParameter, InvalidRequest, NotFound
from tumbler.core.secrets import MAX_VALUE_BYTES, Secret, SecretValue
from tumbler.ops.context import Context, Params, Registry, Result
from tumbler.ports.keyring import Keyring
from tumbler.ports.store import Reader, StoredValue, UnitOfWork

operation = Registry("secretsmanager")

NOT_FOUND = "Secrets Manager can't find the specified secret."
MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion."
ON_REPLICA = "Operation not permitted on a replica secret. Call must be made in primary secret's region."
INVALID_NAME = (
    "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"
)
NAME_CHARS = re.compile(r"[A-Za-z0-9/_+=.@-]+")
SECRET_ID_CHARS = re.compile(r"[A-Za-z0-9/_+=.@:!-]+")  # a name or an ARN
BOTH_VALUES = "You can't specify both a binary secret value and a string secret value in the same secret."
SUFFIX_ALPHABET = string.ascii_letters + string.digits
# SDKs and the CLI fill ClientRequestToken in; a raw request that writes a version must carry one.
NO_TOKEN = "You must provide a ClientRequestToken value. We recommend a UUID-type value."


def new_arn(ctx: Context, name: str, suffix: str | None = None, region: str | None = None) -> str:
    suffix = suffix or "".join(random_source.choice(SUFFIX_ALPHABET) for _ in range(6))
    return f"arn:aws:secretsmanager:{region or ctx.region}:{ctx.account_id}:secret:{name}-{suffix}"


def check_name(name: str) -> str:
    if not NAME_CHARS.fullmatch(name):
        raise InvalidInput(INVALID_NAME)
    return name


def request_token(params: Params, error: type[DomainError] = InvalidRequest) -> str:
    """The request's ClientRequestToken; AWS checks it is there before it looks the secret up."""
    token = params.get("ClientRequestToken")
    if not token:
        raise error(NO_TOKEN)
    return str(token)


def token_in_use(token: str, arn: str) -> str:
    """AWS's ResourceExistsException message for a token reused with another value."""
    return (
        f"You can't use ClientRequestToken {token} because that value is already in use for a version of secret {arn}."
    )


def check_secret_id(secret_id: str) -> str:
    if not SECRET_ID_CHARS.fullmatch(secret_id):
        raise InvalidInput(INVALID_NAME)
    return secret_id


def find(reader: Reader, ctx: Context, secret_id: str) -> Secret:
    secret = reader.find_secret(ctx.region, check_secret_id(secret_id))
    if secret is None:
        raise NotFound(NOT_FOUND)
    return secret


def with_recent_access(ctx: Context, secret: Secret) -> Secret:
    """``secret`` with the access dates this node recorded but has not written yet (they are batched)."""
    pending = ctx.store.pending_accessed(secret.arn)
    if not pending:
        return secret
    versions = {
        vid: replace(v, last_accessed=later(v.last_accessed, pending[vid])) if vid in pending else v
        for vid, v in secret.versions.items()
    }
    return replace(secret, last_accessed=later(secret.last_accessed, max(pending.values())), versions=versions)


def later(recorded: datetime | None, pending: datetime) -> datetime:
    return pending if recorded is None or pending > recorded else recorded


def lock(uow: UnitOfWork, ctx: Context, secret_id: str) -> Secret:
    secret = uow.lock_secret(ctx.region, check_secret_id(secret_id))
    if secret is None:
        raise NotFound(NOT_FOUND)
    return secret


def live(secret: Secret) -> Secret:
    """The secret, unless it is scheduled for deletion."""
    if secret.is_deleted:
        raise InvalidRequest(MARKED_FOR_DELETION)
    return secret


def writable(secret: Secret) -> Secret:
    """The secret, unless it is deleted or a read-only replica."""
    live(secret)
    if secret.is_replica:
        raise InvalidParameter(ON_REPLICA)
    return secret


def value_from(params: Params) -> SecretValue | None:
    """The SecretString or SecretBinary of a request, if it has one."""
    text, binary = params.get("SecretString"), params.get("SecretBinary")
    if text is not None and binary is not None:
        raise InvalidParameter(BOTH_VALUES)
    if text is None and binary is None:
        return None
    value = SecretValue(string=text) if text is not None else SecretValue(binary=binary)
    if value.size() > MAX_VALUE_BYTES:
        raise InvalidParameter(f"The secret value exceeds the maximum size of {MAX_VALUE_BYTES} bytes.")
    return value


def filters_from(raw: list[dict[str, Any]] | None) -> list[listing.Filter]:
    """The request's Filters member as core filters."""
    return [listing.make_filter(f.get("Key"), f.get("Values")) for f in raw or []]


def seal(keyring: Keyring, wrapped_key: bytes, arn: str, version_id: str, value: SecretValue) -> bytes:
    return keyring.seal_value(wrapped_key, arn, version_id, value)


def unseal(keyring: Keyring, stored: StoredValue) -> SecretValue | None:
    """The plaintext of a stored version; None for a version created without a value."""
    if stored.blob is None:
        return None
    return keyring.open_value(stored.wrapped_key, stored.arn, stored.version_id, stored.blob)


def value_fields(value: SecretValue) -> Result:
    if value.binary is not None:
        return {"SecretBinary": value.binary}
    return {"SecretString": value.string}


def day_of(moment: datetime) -> datetime:
    """AWS keeps access dates to the day: midnight UTC of ``moment`` (timezone-aware, as the clock gives)."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def replication_status(secret: Secret) -> list[dict[str, Any]]:
    out = []
    for r in secret.replicas:
        item: dict[str, Any] = {"Region": r.region, "Status": r.status, "StatusMessage": r.status_message}
        item["KmsKeyId"] = r.kms_key_id or "alias/aws/secretsmanager"
        if r.last_accessed:
            item["LastAccessedDate"] = r.last_accessed
        out.append(item)
    return out


def shown_rules(secret: Secret) -> dict[str, Any]:
    """RotationRules as AWS shows them: with AutomaticallyAfterDays derived for a ScheduleExpression."""
    raw = dict(secret.rotation.rules or {})
    if "ScheduleExpression" in raw and "AutomaticallyAfterDays" not in raw:
        rules = schedule.parse_rules(raw)
        raw["AutomaticallyAfterDays"] = schedule.reported_after_days(
            rules, secret.rotation.last_rotated, secret.created
        )
    return raw


def next_rotation_date(secret: Secret) -> datetime | None:
    rot = secret.rotation
    if not rot.enabled or not rot.rules:
        return None
    return schedule.next_rotation_date(schedule.parse_rules(rot.rules), rot.last_rotated, secret.created)


def describe(secret: Secret, stages_key: str = "VersionIdsToStages") -> Result:
    """DescribeSecret's fields (ListSecrets names the version map SecretVersionsToStages)."""
    out: Result = {"ARN": secret.arn, "Name": secret.name}
    if secret.partner_type is not None:
        out["Type"] = secret.partner_type
    if secret.description:  # AWS does not show an empty Description
        out["Description"] = secret.description
    if secret.kms_key_id:
        out["KmsKeyId"] = secret.kms_key_id
    rot = secret.rotation
    if rot.lambda_arn is not None or rot.rules is not None or rot.enabled:
        out["RotationEnabled"] = rot.enabled
    if rot.lambda_arn:
        out["RotationLambdaARN"] = rot.lambda_arn
    if rot.rules:
        out["RotationRules"] = shown_rules(secret)
    if rot.external_metadata is not None:
        out["ExternalSecretRotationMetadata"] = rot.external_metadata
    if rot.external_role_arn:
        out["ExternalSecretRotationRoleArn"] = rot.external_role_arn
    optional = {
        "LastRotatedDate": rot.last_rotated,
        "LastChangedDate": secret.last_changed,
        "LastAccessedDate": secret.last_accessed,
        "DeletedDate": secret.deleted_date,
        "NextRotationDate": next_rotation_date(secret),
        "OwningService": secret.owning_service,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    if secret.tags or secret.tagged:
        out["Tags"] = tag_list(secret.tags)
    versions = secret.version_stages()
    if versions:
        out[stages_key] = versions
    out["CreatedDate"] = secret.created
    if secret.primary_region:
        out["PrimaryRegion"] = secret.primary_region
    if secret.replicas:
        out["ReplicationStatus"] = replication_status(secret)
    return out
