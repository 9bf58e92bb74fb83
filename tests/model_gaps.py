"""Operations of the pinned Secrets Manager model that Tumbler does not serve yet, each with who owns it.

Keep this list short and named: tests/test_model_coverage.py fails when the pinned model (pyproject's
botocore) brings an operation that is neither served nor listed here, so an upgrade shows what is missing.
"""

NOT_YET_SERVED = frozenset({
    "ListResourcePolicies",  # resource-policy names (PolicyName), issue 25
    "AssociateCrossAccountReplica",  # cross-account replicas, issue 25
    "DisassociateCrossAccountReplica",
})  # fmt: skip
