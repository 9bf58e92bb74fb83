"""Rows <-> ``Secret``: shared by every SQL store so they read and write the same shapes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tumbler.core import listing
from tumbler.core.rotation import Rotation, State
from tumbler.core.secrets import Replica, RotationConfig, Secret, VersionInfo

# The columns secret_from_row reads, in its order (a store may select them with a table alias).
SECRET_COLUMNS = "arn, region, name, source_arn, doc, created, last_accessed, deletion_date, next_rotation"
# What listing sorts and filters on besides those (listing.SearchFields), kept in columns of their own.
SEARCH_COLUMNS = ("last_changed", "deleted_date", "primary_region", "owning_service", "tag_keys", "tag_values",
                  "description_words", "all_words")  # fmt: skip


def ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def source_arn(secret: Secret) -> str:
    """A replica shows the versions of its primary, which share its name in another region."""
    if secret.primary_region is None:
        return secret.arn
    parts = secret.arn.split(":")
    parts[3] = secret.primary_region
    return ":".join(parts)


def doc(secret: Secret) -> str:
    rotation = secret.rotation
    return orjson.dumps(
        {
            "description": secret.description,
            "type": secret.partner_type,
            "kms_key_id": secret.kms_key_id,
            "last_changed": ts(secret.last_changed),
            "tags": list(secret.tags.items()),
            "tagged": secret.tagged,
            "deleted_date": ts(secret.deleted_date),
            "policy": secret.policy,
            "rotation": {
                "lambda_arn": rotation.lambda_arn,
                "rules": rotation.rules,
                "enabled": rotation.enabled,
                "last_rotated": ts(rotation.last_rotated),
                "external_metadata": rotation.external_metadata,
                "external_role_arn": rotation.external_role_arn,
            },
            "primary_region": secret.primary_region,
            "replicas": [{**asdict(r), "last_accessed": ts(r.last_accessed)} for r in secret.replicas],
            "owning_service": secret.owning_service,
        }
    ).decode()


def secret_from_row(row: Sequence[Any], versions: Sequence[Any], stages: Sequence[Any]) -> Secret:
    """``row`` is (arn, region, name, source_arn, doc, created, last_accessed, deletion_date, next_rotation)."""
    d = orjson.loads(row[4])
    rot = d["rotation"]
    return Secret(
        arn=row[0],
        region=row[1],
        name=row[2],
        created=dt_required(row[5]),
        last_changed=dt_required(d["last_changed"]),
        description=d["description"],
        partner_type=d.get("type"),
        kms_key_id=d["kms_key_id"],
        last_accessed=dt(row[6]),
        tags=dict(d["tags"]),
        tagged=d.get("tagged", bool(d["tags"])),
        deleted_date=dt(d["deleted_date"]),
        deletion_date=dt(row[7]),
        policy=d["policy"],
        rotation=RotationConfig(
            lambda_arn=rot["lambda_arn"],
            rules=rot["rules"],
            enabled=rot["enabled"],
            last_rotated=dt(rot["last_rotated"]),
            next_rotation=dt(row[8]),
            external_metadata=rot.get("external_metadata"),
            external_role_arn=rot.get("external_role_arn"),
        ),
        primary_region=d["primary_region"],
        replicas=[Replica(**{**r, "last_accessed": dt(r["last_accessed"])}) for r in d["replicas"]],
        owning_service=d["owning_service"],
        versions={v[0]: VersionInfo(v[0], dt_required(v[1]), dt(v[2])) for v in versions},
        stages={s[0]: s[1] for s in stages},
    )


def dt_required(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


_ROTATION_FIELDS = tuple(f.name for f in fields(Rotation))


def rotation_doc(rotation: Rotation) -> str:
    # Every field is a plain value: no need for asdict's deep copy, a large share of a journal write.
    values = {name: getattr(rotation, name) for name in _ROTATION_FIELDS}
    for key in ("created", "not_before", "finished"):
        values[key] = ts(values[key])
    values["state"] = rotation.state.value
    values["late_by"] = rotation.late_by.total_seconds() if rotation.late_by is not None else None
    return orjson.dumps(values).decode()


def rotation_from_doc(text: str) -> Rotation:
    fields = orjson.loads(text)
    for key in ("created", "not_before", "finished"):
        fields[key] = dt(fields[key])
    fields["state"] = State(fields["state"])
    fields["steps"] = tuple(fields["steps"])
    fields["late_by"] = timedelta(seconds=fields["late_by"]) if fields["late_by"] is not None else None
    return Rotation(**fields)


# -- the parameters of the writes every SQL store makes, in its column order --------------------------
def secret_insert_row(s: Secret, wrapped_key: bytes) -> tuple[Any, ...]:
    """(arn, region, name, source_arn, doc, created, last_accessed, deletion_date, next_rotation, wrapped_key,
    *SEARCH_COLUMNS)"""
    return (
        s.arn, s.region, s.name, source_arn(s), doc(s), ts(s.created), ts(s.last_accessed),
        ts(s.deletion_date), ts(s.rotation.next_rotation), wrapped_key, *search_row(s),
    )  # fmt: skip


def secret_update_row(s: Secret) -> tuple[Any, ...]:
    """(doc, deletion_date, next_rotation, last_accessed, *SEARCH_COLUMNS, arn)"""
    return (doc(s), ts(s.deletion_date), ts(s.rotation.next_rotation), ts(s.last_accessed), *search_row(s), s.arn)


def search_row(s: Secret) -> tuple[Any, ...]:
    """The SEARCH_COLUMNS of a secret, in their order."""
    found = listing.search_fields(s)
    return (
        ts(s.last_changed), ts(s.deleted_date), found.primary_region, found.owning_service,
        orjson.dumps(found.tag_keys).decode(), orjson.dumps(found.tag_values).decode(),
        found.description_words, found.all_words,
    )  # fmt: skip


def rotation_row(r: Rotation) -> tuple[Any, ...]:
    """(rotation_id, secret_arn, state, created, not_before, doc)"""
    return (r.rotation_id, r.secret_arn, r.state.value, ts(r.created), ts(r.not_before), rotation_doc(r))
