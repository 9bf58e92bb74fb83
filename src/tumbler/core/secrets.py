"""The secret aggregate: metadata, versions and the staging labels that point at them.

Everything here is plain data and pure functions. Storage loads a ``Secret`` (metadata,
version headers and labels, never values), the operation asks these functions what the new
state is, and storage writes the difference back in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tumbler.core.errors import InvalidParameter, LimitExceeded

AWSCURRENT = "AWSCURRENT"
AWSPENDING = "AWSPENDING"
AWSPREVIOUS = "AWSPREVIOUS"

MAX_STAGES_PER_VERSION = 20
MAX_VERSIONS = 100  # unlabelled versions beyond this are pruned ...
PRUNE_GRACE = timedelta(hours=24)  # ... unless younger than this
MAX_VALUE_BYTES = 65536


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each field through object.__setattr__, and
class SecretValue:  # every GetSecretValue builds one (0.45 µs against 0.22). Treated as immutable all the same.
    """Exactly one of ``string`` and ``binary`` is set."""

    string: str | None = None
    binary: bytes | None = None

    def __repr__(self) -> str:  # never let a value reach a log through repr()
        return "SecretValue(<redacted>)"

    def size(self) -> int:
        return len(self.binary) if self.binary is not None else len((self.string or "").encode())


@dataclass
class VersionInfo:
    version_id: str
    created: datetime
    last_accessed: datetime | None = None
    kms_key_ids: list[str] = field(default_factory=list)


@dataclass
class RotationConfig:
    lambda_arn: str | None = None
    rules: dict[str, Any] | None = None
    enabled: bool = False
    last_rotated: datetime | None = None
    next_rotation: datetime | None = None
    # A managed external secret's partner settings (RotateSecret's ExternalSecretRotation*): kept and shown.
    external_metadata: list[dict[str, str]] | None = None
    external_role_arn: str | None = None


@dataclass
class Replica:
    region: str
    kms_key_id: str | None = None
    status: str = "InSync"
    status_message: str = "Replication succeeded"
    last_accessed: datetime | None = None


@dataclass
class Secret:
    arn: str
    name: str
    region: str
    created: datetime
    last_changed: datetime
    description: str | None = None
    partner_type: str | None = None  # Type: the partner holding a managed external secret
    kms_key_id: str | None = None
    last_accessed: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    tagged: bool = False  # once tagged, DescribeSecret shows Tags even when empty again, as AWS does
    deleted_date: datetime | None = None
    deletion_date: datetime | None = None
    policy: str | None = None
    rotation: RotationConfig = field(default_factory=RotationConfig)
    primary_region: str | None = None  # set on a replica: the primary lives there
    replicas: list[Replica] = field(default_factory=list)
    owning_service: str | None = None
    versions: dict[str, VersionInfo] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)  # label -> version id

    @property
    def is_deleted(self) -> bool:
        return self.deleted_date is not None

    @property
    def is_replica(self) -> bool:
        return self.primary_region is not None

    def stages_of(self, version_id: str) -> list[str]:
        return [label for label, vid in self.stages.items() if vid == version_id]

    def version_stages(self) -> dict[str, list[str]]:
        """VersionIdsToStages: only versions that carry at least one label, oldest first as AWS lists them."""
        out: dict[str, list[str]] = {}
        for label, vid in self.stages.items():
            out.setdefault(vid, []).append(label)
        return {vid: out[vid] for vid in sorted(out, key=self._age_order)}

    def _age_order(self, version_id: str) -> tuple[bool, datetime]:
        version = self.versions.get(version_id)
        return (version is None, version.created if version else datetime.min)

    def current_version(self) -> str | None:
        return self.stages.get(AWSCURRENT)


def attach_new_version(secret: Secret, version: VersionInfo, labels: list[str]) -> dict[str, str]:
    """The labels after adding ``version`` carrying ``labels`` (PutSecretValue, CreateSecret).

    Labels move from whichever version held them. If AWSCURRENT moves, the version that
    lost it takes AWSPREVIOUS, as AWS does.
    """
    if len(set(labels)) > MAX_STAGES_PER_VERSION:
        raise LimitExceeded(f"A version can have at most {MAX_STAGES_PER_VERSION} staging labels.")
    stages = dict(secret.stages)
    previous_current = stages.get(AWSCURRENT)
    for label in labels:
        stages[label] = version.version_id
    if AWSCURRENT in labels and previous_current and previous_current != version.version_id:
        stages[AWSPREVIOUS] = previous_current
        if stages.get(AWSPENDING) == previous_current:  # AWS leaves the old version [AWSPREVIOUS] only
            del stages[AWSPENDING]
    return stages


def move_stage(secret: Secret, label: str, move_to: str | None, remove_from: str | None) -> dict[str, str]:
    """The labels after UpdateSecretVersionStage."""
    for vid in (move_to, remove_from):
        if vid is not None and vid not in secret.versions:
            raise InvalidParameter(f"The version {vid} does not exist.")
    stages = dict(secret.stages)
    holder = stages.get(label)
    if remove_from is not None and holder != remove_from:
        raise InvalidParameter(f"The staging label {label} is currently not attached to version {remove_from}.")
    if move_to is not None and holder is not None and holder != move_to and remove_from is None:
        raise InvalidParameter(
            f"The parameter RemoveFromVersionId can't be empty. Staging label {label} is currently "
            f"attached to version {holder}, so you must explicitly reference that version in "
            "RemoveFromVersionId."
        )
    if move_to is None:
        stages.pop(label, None)
        return stages
    if label == AWSCURRENT and holder == move_to:
        return stages
    if label not in stages or stages[label] != move_to:
        count = sum(1 for vid in stages.values() if vid == move_to)
        if count >= MAX_STAGES_PER_VERSION:
            raise LimitExceeded(f"A version can have at most {MAX_STAGES_PER_VERSION} staging labels.")
    stages[label] = move_to
    if label == AWSCURRENT and holder is not None and holder != move_to:
        stages[AWSPREVIOUS] = holder
    return stages


def versions_to_prune(secret: Secret, stages: dict[str, str], now: datetime) -> list[str]:
    """Unlabelled versions to remove so at most MAX_VERSIONS remain, oldest first.

    A version younger than PRUNE_GRACE is kept even past the limit, as AWS does.
    """
    excess = len(secret.versions) - MAX_VERSIONS
    if excess <= 0:
        return []
    labelled = set(stages.values())
    candidates = sorted(
        (v for v in secret.versions.values() if v.version_id not in labelled and now - v.created >= PRUNE_GRACE),
        key=lambda v: v.created,
    )
    return [v.version_id for v in candidates[:excess]]
