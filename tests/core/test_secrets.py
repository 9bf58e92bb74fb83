from datetime import UTC, datetime, timedelta

import pytest

from tumbler.core.errors import InvalidParameter, LimitExceeded
from tumbler.core.secrets import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    MAX_VERSIONS,
    Secret,
    SecretValue,
    VersionInfo,
    attach_new_version,
    move_stage,
    versions_to_prune,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_secret(*version_ids: str) -> Secret:
    secret = Secret(arn="arn:x", name="x", region="us-east-1", created=T0, last_changed=T0)
    for i, vid in enumerate(version_ids):
        secret.versions[vid] = VersionInfo(vid, T0 + timedelta(minutes=i))
    return secret


def test_first_version_becomes_current_without_previous() -> None:
    secret = make_secret()
    assert attach_new_version(secret, VersionInfo("v1", T0), [AWSCURRENT]) == {AWSCURRENT: "v1"}


def test_new_current_moves_previous() -> None:
    secret = make_secret("v1", "v2")
    secret.stages = {AWSCURRENT: "v2", AWSPREVIOUS: "v1"}
    stages = attach_new_version(secret, VersionInfo("v3", T0), [AWSCURRENT])
    assert stages == {AWSCURRENT: "v3", AWSPREVIOUS: "v2"}


def test_pending_version_leaves_current_alone() -> None:
    secret = make_secret("v1")
    secret.stages = {AWSCURRENT: "v1"}
    assert attach_new_version(secret, VersionInfo("v2", T0), [AWSPENDING]) == {AWSCURRENT: "v1", AWSPENDING: "v2"}


def test_custom_label_moves_from_its_holder() -> None:
    secret = make_secret("v1")
    secret.stages = {AWSCURRENT: "v1", "blue": "v1"}
    stages = attach_new_version(secret, VersionInfo("v2", T0), ["blue"])
    assert stages == {AWSCURRENT: "v1", "blue": "v2"}


def test_too_many_labels_on_a_new_version() -> None:
    with pytest.raises(LimitExceeded):
        attach_new_version(make_secret(), VersionInfo("v1", T0), [f"l{i}" for i in range(21)])


def test_move_current_requires_remove_from() -> None:
    secret = make_secret("v1", "v2")
    secret.stages = {AWSCURRENT: "v1"}
    with pytest.raises(InvalidParameter, match="RemoveFromVersionId can't be empty"):
        move_stage(secret, AWSCURRENT, "v2", None)


def test_move_current_gives_previous_to_loser() -> None:
    secret = make_secret("v1", "v2")
    secret.stages = {AWSCURRENT: "v1", AWSPENDING: "v2"}
    stages = move_stage(secret, AWSCURRENT, "v2", "v1")
    assert stages == {AWSCURRENT: "v2", AWSPENDING: "v2", AWSPREVIOUS: "v1"}


def test_remove_from_wrong_version_is_refused() -> None:
    secret = make_secret("v1", "v2")
    secret.stages = {AWSCURRENT: "v1"}
    with pytest.raises(InvalidParameter, match="not attached to version v2"):
        move_stage(secret, AWSCURRENT, None, "v2")


def test_remove_label() -> None:
    secret = make_secret("v1")
    secret.stages = {AWSCURRENT: "v1", "x": "v1"}
    assert move_stage(secret, "x", None, "v1") == {AWSCURRENT: "v1"}


def test_unknown_version_is_refused() -> None:
    with pytest.raises(InvalidParameter):
        move_stage(make_secret("v1"), "x", "nope", None)


def test_label_limit_per_version() -> None:
    secret = make_secret("v1")
    secret.stages = {f"l{i}": "v1" for i in range(20)}
    with pytest.raises(LimitExceeded):
        move_stage(secret, "one-more", "v1", None)


def test_prune_keeps_labelled_and_young_versions() -> None:
    secret = make_secret(*[f"v{i}" for i in range(MAX_VERSIONS + 5)])
    now = T0 + timedelta(days=2)
    secret.versions["young"] = VersionInfo("young", now - timedelta(hours=1))
    stages = {AWSCURRENT: f"v{MAX_VERSIONS + 4}", "keep": "v0"}
    pruned = versions_to_prune(secret, stages, now)
    assert pruned == [f"v{i}" for i in range(1, 7)]  # 106 versions -> 100; v0 is labelled, "young" too new


def test_prune_nothing_under_limit() -> None:
    secret = make_secret("v1", "v2")
    assert versions_to_prune(secret, {}, T0 + timedelta(days=9)) == []


def test_value_repr_never_shows_the_value() -> None:
    assert "hunter2" not in repr(SecretValue(string="hunter2"))
