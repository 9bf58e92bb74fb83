"""The AWS managed policies: each parses as IAM would take it and allows what AWS documents it allows."""

from __future__ import annotations

import pytest

from tumbler.core.iam import Policies, PolicyKind, evaluate, parse_policy
from tumbler.core.iam.managed import ManagedPolicy, managed_policies

from .support import ACCOUNT, SECRET, request, session

POLICIES = managed_policies()
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"


def policy(name: str) -> ManagedPolicy:
    [found] = [p for p in POLICIES.values() if p.name == name]
    return found


def allows(name: str, action: str, resource: str = SECRET) -> bool:
    compiled = parse_policy(policy(name).document, PolicyKind.IDENTITY, name)
    return evaluate(request(session(), action, resource), Policies(identity=(compiled,))).allowed


def test_the_policies_rotation_users_attach_exist_under_their_arns() -> None:
    assert set(POLICIES) == {
        "arn:aws:iam::aws:policy/SecretsManagerReadWrite",
        "arn:aws:iam::aws:policy/IAMFullAccess",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    }
    for arn, managed in POLICIES.items():
        assert managed.arn == arn
        assert managed.default_version_id.startswith("v")
        assert managed.create_date <= managed.update_date


@pytest.mark.parametrize("arn", sorted(POLICIES))
def test_each_document_parses_as_an_identity_policy(arn: str) -> None:
    parsed = parse_policy(POLICIES[arn].document, PolicyKind.IDENTITY, arn)
    assert len(parsed.statements) == len(POLICIES[arn].document["Statement"])


def test_a_document_cannot_be_changed_through_the_shared_copy() -> None:
    policy("AdministratorAccess").document["Statement"].clear()
    assert policy("AdministratorAccess").document["Statement"]


@pytest.mark.parametrize(
    ("name", "action", "resource", "allowed"),
    [
        # SecretsManagerReadWrite: secretsmanager:* on anything, Lambda only on functions named SecretsManager*, no IAM.
        ("SecretsManagerReadWrite", "secretsmanager:GetSecretValue", SECRET, True),
        ("SecretsManagerReadWrite", "secretsmanager:RotateSecret", SECRET, True),
        ("SecretsManagerReadWrite", "secretsmanager:ListSecrets", "*", True),
        ("SecretsManagerReadWrite", "lambda:ListFunctions", "*", True),
        ("SecretsManagerReadWrite", "lambda:InvokeFunction", FUNCTION + "SecretsManagerRotatePostgres", True),
        ("SecretsManagerReadWrite", "lambda:InvokeFunction", FUNCTION + "rotate-db", False),
        ("SecretsManagerReadWrite", "lambda:DeleteFunction", FUNCTION + "SecretsManagerRotatePostgres", False),
        ("SecretsManagerReadWrite", "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/bob", False),
        ("SecretsManagerReadWrite", "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/r", False),
        ("SecretsManagerReadWrite", "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/r", False),
        # IAMFullAccess: what SecretsManagerReadWrite leaves out for rotation configuration, and nothing else of ours.
        ("IAMFullAccess", "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/r", True),
        ("IAMFullAccess", "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/r", True),
        ("IAMFullAccess", "secretsmanager:GetSecretValue", SECRET, False),
        ("AdministratorAccess", "secretsmanager:GetSecretValue", SECRET, True),
        ("AdministratorAccess", "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/bob", True),
        # The execution-role policies grant logs (and ENIs), never a secret.
        ("AWSLambdaBasicExecutionRole", "logs:PutLogEvents", "*", True),
        ("AWSLambdaBasicExecutionRole", "secretsmanager:GetSecretValue", SECRET, False),
        ("AWSLambdaVPCAccessExecutionRole", "ec2:CreateNetworkInterface", "*", True),
        ("AWSLambdaVPCAccessExecutionRole", "logs:CreateLogStream", "*", True),
        ("AWSLambdaVPCAccessExecutionRole", "secretsmanager:PutSecretValue", SECRET, False),
    ],
)
def test_each_policy_allows_what_aws_documents(name: str, action: str, resource: str, allowed: bool) -> None:
    assert allows(name, action, resource) is allowed
