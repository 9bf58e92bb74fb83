"""PutResourcePolicy's BlockPublicPolicy and ValidateResourcePolicy's three checks, through boto3 and the AWS CLI.

AWS's wording comes from the Secrets Manager User Guide, "Managing a resource-based policy for a secret".
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import ACCOUNT, assert_error, snapshot
from tests.conftest import LiveServer

BROAD_ACCESS_REFUSED = "You can't attach a resource-based policy that allows broad access to the secret."
BROAD_ACCESS = (
    "This resource policy grants broad access to your secret. "
    "Secrets Manager does not allow creating and applying such policies in the console."
)
SYNTAX_ERROR = "This resource policy contains a syntax error."
LOCKOUT = "Your requested changes will not allow you to manage this secret in the future."


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def statement(principal: Any, condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    made = {"Effect": "Allow", "Principal": principal, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    if condition is not None:
        made["Condition"] = condition
    return {**made, **extra}


EVERYONE = policy(statement("*"))
EVERYONE_FROM_A_CONDITION = policy(statement("*", {"StringEquals": {"aws:ResourceTag/team": "a"}}))
PINNED_TO_ACCOUNT = policy(statement("*", {"StringEquals": {"aws:SourceAccount": ACCOUNT}}))
PINNED_TO_VPCE = policy(statement({"AWS": "*"}, {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}))
# The User Guide's lock-out and syntax-error examples.
LOCKOUT_POLICY = policy({"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"})
SYNTAX_POLICY = policy({"Effect": "AllowSomething", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"})


@pytest.mark.parametrize("document", [EVERYONE, EVERYONE_FROM_A_CONDITION])
def test_block_public_policy_refuses_broad_access(sm: Any, name: str, document: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    before = snapshot(sm, name)
    with pytest.raises(ClientError) as raised:
        sm.put_resource_policy(SecretId=name, ResourcePolicy=document, BlockPublicPolicy=True)
    assert_error(raised, "PublicPolicyException", BROAD_ACCESS_REFUSED)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert snapshot(sm, name) == before
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


@pytest.mark.parametrize("document", [PINNED_TO_ACCOUNT, PINNED_TO_VPCE])
def test_block_public_policy_accepts_a_pinned_wildcard(sm: Any, name: str, document: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.put_resource_policy(SecretId=name, ResourcePolicy=document, BlockPublicPolicy=True)
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == json.loads(document)


def test_put_refuses_a_statement_iam_cannot_parse(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.put_resource_policy(SecretId=name, ResourcePolicy=SYNTAX_POLICY)
    assert_error(raised, "MalformedPolicyDocumentException", "This policy has invalid syntax.")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


def test_put_attaches_a_lockout_policy(sm: Any, name: str) -> None:
    # "You can still add, modify, retrieve, and delete resource-based policies using the CLI and API commands."
    # Once attached it is enforced: an explicit Deny in a resource policy applies to the account root too (IAM User
    # Guide, "Policy evaluation logic": every applicable policy is checked for a Deny first).
    sm.create_secret(Name=name, SecretString="v")
    sm.put_resource_policy(SecretId=name, ResourcePolicy=LOCKOUT_POLICY, BlockPublicPolicy=True)
    with pytest.raises(ClientError) as raised:
        sm.get_resource_policy(SecretId=name)
    refused = f"secretsmanager:GetResourcePolicy on resource: {name} with an explicit deny in a resource-based policy"
    root = f"arn:aws:iam::{ACCOUNT}:root"
    assert_error(raised, "AccessDeniedException", f"User: {root} is not authorized to perform: {refused}")


@pytest.mark.parametrize(
    ("document", "errors"),
    [
        (PINNED_TO_ACCOUNT, []),
        (EVERYONE, [{"CheckName": "PUBLIC_ACCESS", "ErrorMessage": BROAD_ACCESS}]),
        (EVERYONE_FROM_A_CONDITION, [{"CheckName": "PUBLIC_ACCESS", "ErrorMessage": BROAD_ACCESS}]),
        (LOCKOUT_POLICY, [{"CheckName": "LOCKOUT", "ErrorMessage": LOCKOUT}]),
        (SYNTAX_POLICY, [{"CheckName": "SYNTAX", "ErrorMessage": SYNTAX_ERROR}]),
        ('{"Statement": [', [{"CheckName": "SYNTAX", "ErrorMessage": SYNTAX_ERROR}]),
        (
            policy(statement("*"), {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}),
            [
                {"CheckName": "PUBLIC_ACCESS", "ErrorMessage": BROAD_ACCESS},
                {"CheckName": "LOCKOUT", "ErrorMessage": LOCKOUT},
            ],
        ),
    ],
)
def test_validate_resource_policy(sm: Any, name: str, document: str, errors: list[dict[str, str]]) -> None:
    sm.create_secret(Name=name, SecretString="v")
    before = snapshot(sm, name)
    for kwargs in ({"SecretId": name}, {}):
        checked = sm.validate_resource_policy(ResourcePolicy=document, **kwargs)
        assert checked["PolicyValidationPassed"] is (not errors)
        assert checked["ValidationErrors"] == errors
    assert snapshot(sm, name) == before


def test_lockout_of_this_secret_only(sm: Any, name: str) -> None:
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    other = arn.replace(":secret:", ":secret:other-")
    deny_other = policy({"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": other})
    assert sm.validate_resource_policy(SecretId=name, ResourcePolicy=deny_other)["PolicyValidationPassed"]
    deny_this = policy({"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": arn})
    assert not sm.validate_resource_policy(SecretId=name, ResourcePolicy=deny_this)["PolicyValidationPassed"]


def test_cli(server: LiveServer, name: str) -> None:
    server.aws("secretsmanager", "create-secret", "--name", name, "--secret-string", "v")
    checked = server.aws("secretsmanager", "validate-resource-policy", "--resource-policy", EVERYONE)
    assert checked["ValidationErrors"] == [{"CheckName": "PUBLIC_ACCESS", "ErrorMessage": BROAD_ACCESS}]
    args = ["secretsmanager", "put-resource-policy", "--secret-id", name, "--resource-policy", EVERYONE]
    done = server.aws(*args, "--block-public-policy", check=False)
    assert done.returncode != 0
    refused = f"(PublicPolicyException) when calling the PutResourcePolicy operation: {BROAD_ACCESS_REFUSED}"
    assert refused in done.stderr
    server.aws(*args)  # "By default, public policies aren't blocked."
