"""The request context a policy is evaluated against: who asks, for what, on which resource, and the context keys.

AWS fills the principal's global keys (aws:PrincipalArn, aws:userid, aws:PrincipalTag/...) and the clock keys
(aws:CurrentTime, aws:EpochTime) itself; so does ``Request``, from its ``principal`` and ``now``, unless the caller
set them. Key names are case-insensitive, so every key is stored lower-cased.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

ContextValue = str | Sequence[str]


class PrincipalKind(StrEnum):
    """What kind of caller; the value is what aws:PrincipalType holds."""

    ROOT = "Account"
    USER = "User"
    ROLE_SESSION = "AssumedRole"
    SERVICE = "Service"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller.

    ``arn`` is the user ARN, the role-session ARN (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``), the root ARN
    (``arn:aws:iam::ACCOUNT:root``), or for a service the service principal name (``lambda.amazonaws.com``).
    ``role_arn`` is the role behind a role session; ``userid`` is AIDA... for a user, ``AROA...:session`` for a role
    session and the account id for root; ``username`` is set for users only, as in AWS.
    """

    kind: PrincipalKind
    arn: str
    account: str = ""
    userid: str = ""
    username: str = ""
    role_arn: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def partition(self) -> str:
        parts = self.arn.split(":")
        return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root" if self.account else ""


@dataclass(frozen=True)
class Request:
    """One authorization question: may ``principal`` perform ``action`` on ``resource`` given ``context``?

    ``resource`` is an ARN, or ``"*"`` for actions that take no resource (ListSecrets, GetRandomPassword).
    ``context`` maps condition key names to one string or a list of strings (multivalued keys such as aws:TagKeys).
    """

    principal: Principal
    action: str
    resource: str
    now: datetime
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    keys: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = _principal_keys(self.principal) | _clock_keys(self.now)
        for name, value in self.context.items():
            keys[name.lower()] = (value,) if isinstance(value, str) else tuple(value)
        object.__setattr__(self, "keys", keys)

    def values(self, key: str) -> tuple[str, ...] | None:
        """Every value of a (lower-cased) key, or None when the request has no such key."""
        return self.keys.get(key)

    def single(self, key: str) -> str | None:
        """The value of a single-valued key, as policy variables need it; None when absent or multivalued."""
        values = self.keys.get(key)
        return values[0] if values is not None and len(values) == 1 else None


def _principal_keys(principal: Principal) -> dict[str, tuple[str, ...]]:
    if principal.kind is PrincipalKind.SERVICE:
        return {
            "aws:principalisawsservice": ("true",),
            "aws:principalservicename": (principal.arn,),
        }
    keys: dict[str, tuple[str, ...]] = {
        "aws:principalisawsservice": ("false",),
        "aws:principaltype": (principal.kind.value,),
        "aws:principalarn": (principal.role_arn or principal.arn,),
    }
    if principal.account:
        keys["aws:principalaccount"] = (principal.account,)
    if principal.userid:
        keys["aws:userid"] = (principal.userid,)
    if principal.username and principal.kind is PrincipalKind.USER:
        keys["aws:username"] = (principal.username,)
    for tag, value in principal.tags.items():
        keys[f"aws:principaltag/{tag.lower()}"] = (value,)
    return keys


def _clock_keys(now: datetime) -> dict[str, tuple[str, ...]]:
    utc = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    return {
        "aws:currenttime": (utc.strftime("%Y-%m-%dT%H:%M:%SZ"),),
        "aws:epochtime": (str(int(utc.timestamp())),),
    }
