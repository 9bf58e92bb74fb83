"""IAM policy evaluation: parse policy documents once, then decide requests the way AWS does within one account.

The server builds a ``Request`` per call, gathers the caller's ``Policies`` (compiled once with ``parse_policy`` and
cached per principal), and calls ``evaluate``; ``access_denied_message`` words a denial as AWS does.
"""

from tumbler.core.iam.document import (
    Effect,
    MalformedPolicyDocument,
    Policy,
    PolicyKind,
    Statement,
    parse_policy,
)
from tumbler.core.iam.evaluate import (
    Decision,
    Policies,
    PolicyType,
    Reason,
    StatementRef,
    access_denied_message,
    evaluate,
)
from tumbler.core.iam.request import Principal, PrincipalKind, Request

__all__ = [
    "Decision",
    "Effect",
    "MalformedPolicyDocument",
    "Policies",
    "Policy",
    "PolicyKind",
    "PolicyType",
    "Principal",
    "PrincipalKind",
    "Reason",
    "Request",
    "Statement",
    "StatementRef",
    "access_denied_message",
    "evaluate",
    "parse_policy",
]
