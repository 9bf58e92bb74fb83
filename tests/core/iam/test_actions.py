"""The authorization facts of each operation, against AWS's Service Authorization Reference.

REFERENCE is the reference's Actions table (the "Condition keys" column of each action, AWS's own placeholders
kept); RESOURCE_TYPE_KEYS its Resource types table. A key ``facts`` derives must be listed there for that action, and
every key an operation declares must come out of a request that carries what the key describes.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import botocore.session
import pytest

from tests.model_gaps import NOT_YET_SERVED
from tumbler.core.iam import Policies, evaluate
from tumbler.core.iam.actions import (
    ENTITY_BOUNDARY_ACTIONS,
    LAMBDA_SERVICE,
    OPERATIONS,
    Check,
    Resolve,
    ResourceType,
    UnknownOperation,
    facts,
    function_arn,
    iam_arn,
    iam_resource_keys,
    secret_resource_keys,
    with_resource,
)
from tumbler.core.iam.request import ContextValue
from tumbler.ops.lambda_ import OPERATIONS as SERVED_LAMBDA
from tumbler.ops.secretsmanager import OPERATIONS as SERVED_SECRETS_MANAGER

from .support import ACCOUNT, allow, identity, request, session

REGION = "us-east-1"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-AbCdEf"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rotate-db"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/rotation"

REFERENCE: dict[str, frozenset[str]] = {
    "secretsmanager:BatchGetSecretValue": frozenset(),
    "secretsmanager:CancelRotateSecret": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:CreateSecret": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:ResourceTag/${TagKey}",
            "aws:TagKeys",
            "secretsmanager:AddReplicaRegions",
            "secretsmanager:Description",
            "secretsmanager:ForceOverwriteReplicaSecret",
            "secretsmanager:KmsKeyArn",
            "secretsmanager:KmsKeyId",
            "secretsmanager:Name",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:Type",
        }
    ),
    "secretsmanager:DeleteResourcePolicy": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:DeleteSecret": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ForceDeleteWithoutRecovery",
            "secretsmanager:RecoveryWindowInDays",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:DescribeSecret": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:GetRandomPassword": frozenset(),
    "secretsmanager:GetResourcePolicy": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:GetSecretValue": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:VersionId",
            "secretsmanager:VersionStage",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:ListSecretVersionIds": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:ListSecrets": frozenset(),
    "secretsmanager:PutResourcePolicy": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:BlockPublicPolicy",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:PutSecretValue": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:RemoveRegionsFromReplication": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:ReplicateSecretToRegions": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:AddReplicaRegions",
            "secretsmanager:ForceOverwriteReplicaSecret",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:RestoreSecret": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:RotateSecret": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ExternalSecretRotationRoleArn",
            "secretsmanager:ModifyRotationRules",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:RotateImmediately",
            "secretsmanager:RotationLambdaARN",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:StopReplicationToReplica": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:TagResource": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:ResourceTag/${TagKey}",
            "aws:TagKeys",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:UntagResource": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "aws:TagKeys",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:UpdateSecret": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:Description",
            "secretsmanager:KmsKeyArn",
            "secretsmanager:KmsKeyId",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:Type",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:UpdateSecretVersionStage": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:VersionStage",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "secretsmanager:ValidateResourcePolicy": frozenset(
        {
            "aws:ResourceTag/${TagKey}",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:SecretId",
            "secretsmanager:SecretPrimaryRegion",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    "lambda:CreateFunction": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "lambda:CodeSigningConfigArn",
            "lambda:Layer",
            "lambda:SecurityGroupIds",
            "lambda:SubnetIds",
            "lambda:VpcIds",
        }
    ),
    "lambda:GetFunction": frozenset(),
    "lambda:GetFunctionConfiguration": frozenset(),
    "lambda:ListFunctions": frozenset(),
    "lambda:UpdateFunctionCode": frozenset(),
    "lambda:UpdateFunctionConfiguration": frozenset(
        {
            "lambda:Layer",
            "lambda:SecurityGroupIds",
            "lambda:SubnetIds",
            "lambda:VpcIds",
        }
    ),
    "lambda:DeleteFunction": frozenset(),
    "lambda:InvokeFunction": frozenset(
        {
            "lambda:EventSourceToken",
            "lambda:InvokedViaFunctionUrl",
        }
    ),
    "lambda:AddPermission": frozenset(
        {
            "lambda:FunctionUrlAuthType",
            "lambda:Principal",
        }
    ),
    "lambda:RemovePermission": frozenset(
        {
            "lambda:FunctionUrlAuthType",
            "lambda:Principal",
        }
    ),
    "lambda:GetPolicy": frozenset(),
    "iam:CreateUser": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "iam:PermissionsBoundary",
        }
    ),
    "iam:GetUser": frozenset(),
    "iam:ListUsers": frozenset(),
    "iam:UpdateUser": frozenset(),
    "iam:DeleteUser": frozenset(),
    "iam:TagUser": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
        }
    ),
    "iam:UntagUser": frozenset(
        {
            "aws:TagKeys",
        }
    ),
    "iam:ListUserTags": frozenset(),
    "iam:PutUserPermissionsBoundary": frozenset(
        {
            "iam:PermissionsBoundary",
        }
    ),
    "iam:DeleteUserPermissionsBoundary": frozenset(
        {
            "iam:PermissionsBoundary",
        }
    ),
    "iam:CreateAccessKey": frozenset(),
    "iam:ListAccessKeys": frozenset(),
    "iam:UpdateAccessKey": frozenset(),
    "iam:DeleteAccessKey": frozenset(),
    "iam:CreateLoginProfile": frozenset(),
    "iam:GetLoginProfile": frozenset(),
    "iam:UpdateLoginProfile": frozenset(),
    "iam:DeleteLoginProfile": frozenset(),
    "iam:CreateRole": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "iam:PermissionsBoundary",
            "iam:RoleTemplateARN",
        }
    ),
    "iam:GetRole": frozenset(
        {
            "iam:PermissionsBoundary",
            "iam:RoleTemplateARN",
        }
    ),
    "iam:ListRoles": frozenset(),
    "iam:UpdateRole": frozenset(
        {
            "iam:PermissionsBoundary",
        }
    ),
    "iam:DeleteRole": frozenset(
        {
            "iam:PermissionsBoundary",
        }
    ),
    "iam:UpdateAssumeRolePolicy": frozenset(
        {
            "iam:PermissionsBoundary",
        }
    ),
    "iam:TagRole": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "iam:RoleTemplateARN",
        }
    ),
    "iam:UntagRole": frozenset(
        {
            "aws:TagKeys",
        }
    ),
    "iam:ListRoleTags": frozenset(),
    "iam:PutRolePermissionsBoundary": frozenset(
        {
            "iam:PermissionsBoundary",
            "iam:RoleTemplateARN",
        }
    ),
    "iam:DeleteRolePermissionsBoundary": frozenset(
        {
            "iam:PermissionsBoundary",
        }
    ),
    "iam:CreateGroup": frozenset(),
    "iam:GetGroup": frozenset(),
    "iam:ListGroups": frozenset(),
    "iam:UpdateGroup": frozenset(),
    "iam:DeleteGroup": frozenset(),
    "iam:AddUserToGroup": frozenset(),
    "iam:RemoveUserFromGroup": frozenset(),
    "iam:ListGroupsForUser": frozenset(),
    "iam:PutUserPolicy": frozenset(
        {
            "iam:PermissionsBoundary",
        }
    ),
    "iam:GetUserPolicy": frozenset(),
    "iam:ListUserPolicies": frozenset(),
    "iam:DeleteUserPolicy": frozenset(
        {
            "iam:PermissionsBoundary",
        }
    ),
    "iam:PutRolePolicy": frozenset(
        {
            "iam:PermissionsBoundary",
            "iam:RoleTemplateARN",
        }
    ),
    "iam:GetRolePolicy": frozenset(),
    "iam:ListRolePolicies": frozenset(),
    "iam:DeleteRolePolicy": frozenset(
        {
            "iam:PermissionsBoundary",
        }
    ),
    "iam:PutGroupPolicy": frozenset(),
    "iam:GetGroupPolicy": frozenset(),
    "iam:ListGroupPolicies": frozenset(),
    "iam:DeleteGroupPolicy": frozenset(),
    "iam:CreatePolicy": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
        }
    ),
    "iam:GetPolicy": frozenset(),
    "iam:ListPolicies": frozenset(),
    "iam:DeletePolicy": frozenset(),
    "iam:CreatePolicyVersion": frozenset(),
    "iam:GetPolicyVersion": frozenset(),
    "iam:ListPolicyVersions": frozenset(),
    "iam:SetDefaultPolicyVersion": frozenset(),
    "iam:DeletePolicyVersion": frozenset(),
    "iam:TagPolicy": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
        }
    ),
    "iam:UntagPolicy": frozenset(
        {
            "aws:TagKeys",
        }
    ),
    "iam:ListPolicyTags": frozenset(),
    "iam:AttachUserPolicy": frozenset(
        {
            "iam:PermissionsBoundary",
            "iam:PolicyARN",
        }
    ),
    "iam:DetachUserPolicy": frozenset(
        {
            "iam:PermissionsBoundary",
            "iam:PolicyARN",
        }
    ),
    "iam:ListAttachedUserPolicies": frozenset(),
    "iam:AttachRolePolicy": frozenset(
        {
            "iam:PermissionsBoundary",
            "iam:PolicyARN",
            "iam:RoleTemplateARN",
        }
    ),
    "iam:DetachRolePolicy": frozenset(
        {
            "iam:PermissionsBoundary",
            "iam:PolicyARN",
        }
    ),
    "iam:ListAttachedRolePolicies": frozenset(),
    "iam:AttachGroupPolicy": frozenset(
        {
            "iam:PolicyARN",
        }
    ),
    "iam:DetachGroupPolicy": frozenset(
        {
            "iam:PolicyARN",
        }
    ),
    "iam:ListAttachedGroupPolicies": frozenset(),
    "sts:AssumeRole": frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:TagKeys",
            "iam:ResourceTag/${TagKey}",
            "sts:ExternalId",
            "sts:RoleSessionName",
            "sts:SourceIdentity",
            "sts:TransitiveTagKeys",
        }
    ),
    "sts:GetSessionToken": frozenset(),
    "iam:PassRole": frozenset({"iam:PassedToService", "iam:AssociatedResourceArn"}),
}

RESOURCE_TYPE_KEYS: dict[ResourceType, frozenset[str]] = {
    ResourceType.SECRET: frozenset(
        {
            "aws:RequestTag/${TagKey}",
            "aws:ResourceTag/${TagKey}",
            "aws:TagKeys",
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:resource/AllowRotationLambdaArn",
            "secretsmanager:resource/Type",
        }
    ),
    ResourceType.FUNCTION: frozenset({"aws:ResourceTag/${TagKey}"}),
    ResourceType.USER: frozenset({"aws:ResourceTag/${TagKey}", "iam:ResourceTag/${TagKey}"}),
    ResourceType.ROLE: frozenset({"aws:ResourceTag/${TagKey}", "iam:ResourceTag/${TagKey}"}),
    ResourceType.GROUP: frozenset(),
    ResourceType.POLICY: frozenset({"aws:ResourceTag/${TagKey}"}),
    ResourceType.NONE: frozenset(),
}

_PLACEHOLDERS = [
    (re.compile(r"^aws:RequestTag/.+$"), "aws:RequestTag/${TagKey}"),
    (re.compile(r"^aws:ResourceTag/.+$"), "aws:ResourceTag/${TagKey}"),
    (re.compile(r"^iam:ResourceTag/.+$"), "iam:ResourceTag/${TagKey}"),
    (re.compile(r"^secretsmanager:ResourceTag/.+$"), "secretsmanager:ResourceTag/tag-key"),
]


def reference_names(keys: dict[str, ContextValue] | Any) -> set[str]:
    """Context key names as the reference spells them: a tag key becomes the reference's placeholder."""
    names = set()
    for key in keys:
        for pattern, placeholder in _PLACEHOLDERS:
            if pattern.match(key):
                key = placeholder
                break
        names.add(key)
    return names


# A request carrying every member some condition key describes (any operation takes the members it knows).
FULL_PARAMS: dict[str, Any] = {
    "SecretId": "prod/db",
    "SecretIdList": ["prod/db", SECRET_ARN],
    "Filters": [{"Key": "name", "Values": ["prod"]}],
    "Name": "prod/db",
    "Description": "the database",
    "KmsKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "Tags": [{"Key": "team", "Value": "db"}, {"Key": "env", "Value": "prod"}],
    "TagKeys": ["team"],
    "AddReplicaRegions": [{"Region": "eu-west-1"}],
    "ForceOverwriteReplicaSecret": False,
    "Type": "external",
    "RecoveryWindowInDays": 7,
    "ForceDeleteWithoutRecovery": False,
    "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
    "VersionStage": "AWSCURRENT",
    "BlockPublicPolicy": True,
    "RotationLambdaARN": FUNCTION_ARN,
    "RotationRules": {"AutomaticallyAfterDays": 30},
    "RotateImmediately": False,
    "ExternalSecretRotationRoleArn": ROLE_ARN,
    "FunctionName": "rotate-db",
    "Role": ROLE_ARN,
    "CodeSigningConfigArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:code-signing-config:csc-0123456789abcdef0",
    "Layers": [f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:psycopg:3"],
    "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
    "Principal": "secretsmanager.amazonaws.com",
    "FunctionUrlAuthType": "NONE",
    "UserName": "alice",
    "RoleName": "rotation",
    "GroupName": "admins",
    "PolicyName": "rotation",
    "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/rotation",
    "PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/boundary",
    "RoleArn": ROLE_ARN,
    "RoleSessionName": "s1",
    "ExternalId": "x-1",
    "SourceIdentity": "alice",
    "TransitiveTagKeys": ["team"],
}


def checks(service: str, operation: str, params: dict[str, Any]) -> list[Check]:
    return facts(service, operation, params, account=ACCOUNT, region=REGION)


def botocore_operations(service: str) -> list[str]:
    return list(botocore.session.get_session().get_service_model(service).operation_names)


# --- coverage ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", sorted(set(botocore_operations("secretsmanager")) - NOT_YET_SERVED))
def test_every_secrets_manager_operation_of_the_pinned_model_has_facts(operation: str) -> None:
    assert ("secretsmanager", operation) in OPERATIONS
    assert checks("secretsmanager", operation, FULL_PARAMS)[0].action == f"secretsmanager:{operation}"


@pytest.mark.parametrize(("service", "served"), [("secretsmanager", SERVED_SECRETS_MANAGER), ("lambda", SERVED_LAMBDA)])
def test_every_operation_tumbler_serves_has_facts(service: str, served: Any) -> None:
    assert {name for name in served if (service, name) not in OPERATIONS} == set()


def test_every_iam_and_sts_operation_is_one_of_the_models() -> None:
    for service in ("iam", "sts"):
        known = set(botocore_operations(service))
        assert {name for s, name in OPERATIONS if s == service} <= known


def test_an_operation_without_facts_is_refused_rather_than_run_unchecked() -> None:
    with pytest.raises(UnknownOperation):
        checks("iam", "CreateServiceLinkedRole", {})


def test_get_caller_identity_needs_no_permission() -> None:
    # "No permissions are required to perform this operation" (STS API reference): not even an explicit Deny stops it.
    assert checks("sts", "GetCallerIdentity", {}) == []


# --- the reference's table -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=lambda key: f"{key[0]}:{key[1]}")
def test_condition_keys_are_the_ones_the_reference_lists_for_the_action(key: tuple[str, str]) -> None:
    operation = OPERATIONS[key]
    listed = REFERENCE[operation.action]
    assert set(operation.keys) <= listed
    produced = checks(*key, FULL_PARAMS)[0].context
    assert reference_names(produced) == set(operation.keys)


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=lambda key: f"{key[0]}:{key[1]}")
def test_resource_type_is_the_reference_s(key: tuple[str, str]) -> None:
    operation = OPERATIONS[key]
    target = checks(*key, FULL_PARAMS)[0].target
    assert target.type is operation.resource
    if operation.resource is ResourceType.NONE:
        assert target.resource == "*"


@pytest.mark.parametrize(
    ("action", "keys"),
    [
        ("secretsmanager:GetSecretValue", {"secretsmanager:VersionId", "secretsmanager:VersionStage"}),
        ("secretsmanager:UpdateSecretVersionStage", {"secretsmanager:VersionStage"}),
        ("secretsmanager:PutResourcePolicy", {"secretsmanager:BlockPublicPolicy"}),
        (
            "secretsmanager:DeleteSecret",
            {"secretsmanager:RecoveryWindowInDays", "secretsmanager:ForceDeleteWithoutRecovery"},
        ),
        (
            "secretsmanager:RotateSecret",
            {
                "secretsmanager:RotationLambdaARN",
                "secretsmanager:ModifyRotationRules",
                "secretsmanager:RotateImmediately",
                "secretsmanager:ExternalSecretRotationRoleArn",
            },
        ),
        ("secretsmanager:PutSecretValue", set()),
        ("secretsmanager:DescribeSecret", set()),
    ],
)
def test_the_issue_s_secrets_manager_keys(action: str, keys: set[str]) -> None:
    operation = OPERATIONS[("secretsmanager", action.split(":")[1])]
    assert set(operation.keys) == keys


def test_keys_carry_the_request_s_values() -> None:
    create = checks("secretsmanager", "CreateSecret", FULL_PARAMS)[0].context
    assert create["secretsmanager:Name"] == "prod/db"
    assert create["aws:RequestTag/team"] == "db"
    assert create["aws:TagKeys"] == ["team", "env"]
    assert create["secretsmanager:AddReplicaRegions"] == ["eu-west-1"]
    assert create["secretsmanager:KmsKeyArn"] == FULL_PARAMS["KmsKeyId"]
    delete = checks("secretsmanager", "DeleteSecret", {"SecretId": "s", "ForceDeleteWithoutRecovery": True})[0]
    assert delete.context == {"secretsmanager:ForceDeleteWithoutRecovery": "true"}
    assert checks("secretsmanager", "DeleteSecret", {"SecretId": "s", "RecoveryWindowInDays": 7})[0].context == {
        "secretsmanager:RecoveryWindowInDays": "7"
    }


def test_a_key_is_absent_when_the_request_does_not_carry_it() -> None:
    # The SM permissions reference: a VersionStage condition denies a GetSecretValue that names no stage (unless
    # the operator is ...IfExists), because the key is then missing.
    assert checks("secretsmanager", "GetSecretValue", {"SecretId": "prod/db"})[0].context == {}
    assert checks("secretsmanager", "UpdateSecret", {"SecretId": "s", "KmsKeyId": "alias/aws/x"})[0].context == {
        "secretsmanager:KmsKeyId": "alias/aws/x"
    }


def test_modify_rotation_rules_says_whether_the_request_carries_rotation_rules() -> None:
    without = checks("secretsmanager", "RotateSecret", {"SecretId": "s"})[0].context
    assert without == {"secretsmanager:ModifyRotationRules": "false"}
    with_rules = {"SecretId": "s", "RotationRules": {"ScheduleExpression": "rate(4 hours)"}}
    assert (
        checks("secretsmanager", "RotateSecret", with_rules)[0].context["secretsmanager:ModifyRotationRules"] == "true"
    )


def test_lambda_tags_are_a_map() -> None:
    context = checks("lambda", "CreateFunction", {"FunctionName": "f", "Tags": {"team": "db"}})[0].context
    assert context == {"aws:RequestTag/team": "db", "aws:TagKeys": ["team"]}


# --- targets -------------------------------------------------------------------------------------------------


def test_a_secret_id_is_passed_through_for_the_server_to_resolve() -> None:
    for secret_id in ("prod/db", SECRET_ARN, f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db"):
        target = checks("secretsmanager", "GetSecretValue", {"SecretId": secret_id})[0].target
        assert (target.type, target.name, target.arn, target.resolve) == (
            ResourceType.SECRET,
            secret_id,
            None,
            Resolve.SECRET,
        )
        with pytest.raises(ValueError, match="resolved"):
            _ = target.resource
        assert target.resolved(SECRET_ARN).resource == SECRET_ARN


def test_create_secret_is_checked_on_the_secret_it_creates() -> None:
    target = checks("secretsmanager", "CreateSecret", {"Name": "prod/db"})[0].target
    assert (target.name, target.resolve) == ("prod/db", Resolve.NEW_SECRET)


def test_actions_without_a_resource_are_checked_on_star() -> None:
    for operation in ("ListSecrets", "GetRandomPassword", "BatchGetSecretValue"):
        assert checks("secretsmanager", operation, {})[0].target.resource == "*"
    assert checks("lambda", "ListFunctions", {})[0].target.resource == "*"


@pytest.mark.parametrize(
    ("name", "qualifier", "arn"),
    [
        ("rotate-db", None, FUNCTION_ARN),
        ("rotate-db", "live", f"{FUNCTION_ARN}:live"),
        ("rotate-db:3", None, f"{FUNCTION_ARN}:3"),
        (f"{ACCOUNT}:function:rotate-db", None, FUNCTION_ARN),
        (
            "arn:aws:lambda:eu-west-1:444455556666:function:other",
            None,
            "arn:aws:lambda:eu-west-1:444455556666:function:other",
        ),
        (f"{FUNCTION_ARN}:live", "ignored", f"{FUNCTION_ARN}:live"),
    ],
)
def test_function_arn_from_every_form_of_function_name(name: str, qualifier: str | None, arn: str) -> None:
    assert function_arn(name, ACCOUNT, REGION, qualifier) == arn


def test_invoke_is_authorized_as_invoke_function_on_the_qualified_function() -> None:
    [check] = checks("lambda", "Invoke", {"FunctionName": "rotate-db", "Qualifier": "live"})
    assert (check.action, check.target.resource) == ("lambda:InvokeFunction", f"{FUNCTION_ARN}:live")


def test_iam_entities_are_resolved_for_their_path_and_the_caller_when_unnamed() -> None:
    named = checks("iam", "GetRole", {"RoleName": "rotation"})[0].target
    assert (named.arn, named.resolve) == (ROLE_ARN, Resolve.IAM_PATH)
    assert checks("iam", "GetUser", {})[0].target.resolve is Resolve.CALLER
    created = checks("iam", "CreateRole", {"RoleName": "r", "Path": "/service-role/"})[0].target
    assert (created.resource, created.resolve) == (f"arn:aws:iam::{ACCOUNT}:role/service-role/r", Resolve.NOTHING)
    policy = checks("iam", "CreatePolicy", {"PolicyName": "p"})[0].target
    assert policy.resource == iam_arn(ACCOUNT, "policy", "p")
    assume = checks("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "s"})[0]
    assert (assume.target.resource, assume.context) == (ROLE_ARN, {"sts:RoleSessionName": "s"})


# --- resource-side keys --------------------------------------------------------------------------------------


def test_secret_resource_keys() -> None:
    keys = secret_resource_keys(SECRET_ARN, {"team": "db"}, FUNCTION_ARN)
    assert keys == {
        "secretsmanager:SecretId": SECRET_ARN,
        "aws:ResourceTag/team": "db",
        "secretsmanager:ResourceTag/team": "db",
        "secretsmanager:resource/AllowRotationLambdaArn": FUNCTION_ARN,
    }
    assert "secretsmanager:resource/AllowRotationLambdaArn" not in secret_resource_keys(SECRET_ARN)
    multi = secret_resource_keys(SECRET_ARN, primary_region="us-east-1", secret_type="x")
    assert (multi["secretsmanager:SecretPrimaryRegion"], multi["secretsmanager:resource/Type"]) == ("us-east-1", "x")


@pytest.mark.parametrize(
    "operation", [name for service, name in OPERATIONS if service == "secretsmanager" and name != "CreateSecret"]
)
def test_secret_resource_keys_are_listed_for_every_action_on_an_existing_secret(operation: str) -> None:
    op = OPERATIONS[("secretsmanager", operation)]
    if op.resource is not ResourceType.SECRET:
        return
    keys = secret_resource_keys(SECRET_ARN, {"team": "db"}, FUNCTION_ARN, primary_region="us-east-1", secret_type="x")
    assert reference_names(keys) <= REFERENCE[op.action] | RESOURCE_TYPE_KEYS[ResourceType.SECRET]


@pytest.mark.parametrize("key", [key for key in OPERATIONS if key[0] in ("iam", "sts")], ids=lambda key: key[1])
def test_iam_resource_keys_are_listed_for_the_action(key: tuple[str, str]) -> None:
    op = OPERATIONS[key]
    keys = iam_resource_keys(op.action, op.resource, {"team": "db"}, f"arn:aws:iam::{ACCOUNT}:policy/boundary")
    assert reference_names(keys) <= REFERENCE[op.action] | RESOURCE_TYPE_KEYS[op.resource]
    assert ("iam:PermissionsBoundary" in keys) == (op.action in ENTITY_BOUNDARY_ACTIONS)


def test_request_keys_win_over_resource_keys() -> None:
    [check] = checks("iam", "PutUserPermissionsBoundary", {"UserName": "u", "PermissionsBoundary": "new"})
    merged = with_resource(check, iam_resource_keys(check.action, ResourceType.USER, {}, "old"))
    assert merged["iam:PermissionsBoundary"] == "new"


# --- dependent actions ---------------------------------------------------------------------------------------


def test_rotate_secret_also_needs_invoke_function_on_the_rotation_function() -> None:
    params = {"SecretId": "prod/db", "RotationLambdaARN": FUNCTION_ARN}
    rotate, invoke = checks("secretsmanager", "RotateSecret", params)
    assert rotate.action == "secretsmanager:RotateSecret"
    assert (invoke.action, invoke.target.resource) == ("lambda:InvokeFunction", FUNCTION_ARN)


def test_rotate_secret_without_a_function_checks_the_one_the_secret_has() -> None:
    _, invoke = checks("secretsmanager", "RotateSecret", {"SecretId": "prod/db"})
    assert (invoke.action, invoke.target.name, invoke.target.resolve) == (
        "lambda:InvokeFunction",
        "prod/db",
        Resolve.ROTATION_FUNCTION,
    )


@pytest.mark.parametrize("operation", ["CreateFunction", "UpdateFunctionConfiguration"])
def test_giving_a_function_a_role_passes_the_role_to_lambda(operation: str) -> None:
    own, pass_role = checks("lambda", operation, {"FunctionName": "rotate-db", "Role": ROLE_ARN})
    assert own.target.resource == FUNCTION_ARN
    assert (pass_role.action, pass_role.target.resource) == ("iam:PassRole", ROLE_ARN)
    assert pass_role.context == {"iam:PassedToService": LAMBDA_SERVICE}
    assert reference_names(pass_role.context) <= REFERENCE["iam:PassRole"]


def test_a_configuration_update_without_a_role_passes_none() -> None:
    assert len(checks("lambda", "UpdateFunctionConfiguration", {"FunctionName": "f", "Timeout": 30})) == 1


def test_batch_get_secret_value_needs_get_secret_value_per_secret_and_list_secrets_for_filters() -> None:
    batch, *per_secret = checks("secretsmanager", "BatchGetSecretValue", {"SecretIdList": ["a", SECRET_ARN]})
    assert (batch.action, batch.target.resource) == ("secretsmanager:BatchGetSecretValue", "*")
    assert [(c.action, c.target.name, c.target.resolve, c.partial) for c in per_secret] == [
        ("secretsmanager:GetSecretValue", "a", Resolve.SECRET, True),
        ("secretsmanager:GetSecretValue", SECRET_ARN, Resolve.SECRET, True),
    ]
    _, listing = checks("secretsmanager", "BatchGetSecretValue", {"Filters": [{"Key": "name", "Values": ["x"]}]})
    assert (listing.action, listing.target.resource, listing.partial) == ("secretsmanager:ListSecrets", "*", False)


def test_create_secret_with_tags_and_replicas_needs_tag_resource_and_replicate() -> None:
    create, tag, replicate = checks("secretsmanager", "CreateSecret", FULL_PARAMS)
    assert (tag.action, tag.target) == ("secretsmanager:TagResource", create.target)
    assert reference_names(tag.context) == {"aws:RequestTag/${TagKey}", "aws:TagKeys"}
    assert replicate.action == "secretsmanager:ReplicateSecretToRegions"
    assert replicate.context["secretsmanager:AddReplicaRegions"] == ["eu-west-1"]
    assert len(checks("secretsmanager", "CreateSecret", {"Name": "plain"})) == 1


def test_validate_resource_policy_also_needs_put_resource_policy() -> None:
    validate, put = checks("secretsmanager", "ValidateResourcePolicy", {"SecretId": "prod/db", "ResourcePolicy": "{}"})
    assert (validate.action, put.action) == (
        "secretsmanager:ValidateResourcePolicy",
        "secretsmanager:PutResourcePolicy",
    )
    assert put.target == validate.target


# --- with the evaluator --------------------------------------------------------------------------------------


def decide(check: Check, policy: dict[str, Any], resource_keys: dict[str, ContextValue] | None = None) -> bool:
    """The evaluator's answer for a rotation-role session, a secret named by the request resolved to SECRET_ARN."""
    target = check.target.resolved(SECRET_ARN) if check.target.resolve is Resolve.SECRET else check.target
    req = request(
        session("rotation", "rotate-db"), check.action, target.resource, with_resource(check, resource_keys or {})
    )
    return evaluate(req, Policies(identity=(identity(policy),))).allowed


def test_a_version_stage_condition_needs_the_stage_in_the_request() -> None:
    only_current = allow(
        "secretsmanager:GetSecretValue", Condition={"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}
    )
    named = checks("secretsmanager", "GetSecretValue", {"SecretId": "prod/db", "VersionStage": "AWSCURRENT"})[0]
    unnamed = checks("secretsmanager", "GetSecretValue", {"SecretId": "prod/db"})[0]
    assert decide(named, only_current)
    assert not decide(unnamed, only_current)


def test_the_allow_rotation_lambda_arn_form_of_the_rotation_role_policy() -> None:
    # The pre-2022 "Permissions for rotation" example: Resource "*" with the resource key pinning the function.
    policy = allow(
        ["secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"],
        Condition={"StringEquals": {"secretsmanager:resource/AllowRotationLambdaArn": FUNCTION_ARN}},
    )
    [put] = checks("secretsmanager", "PutSecretValue", {"SecretId": "prod/db"})
    assert decide(put, policy, secret_resource_keys(SECRET_ARN, {}, FUNCTION_ARN))
    assert not decide(put, policy, secret_resource_keys(SECRET_ARN, {}, f"{FUNCTION_ARN}-other"))
    assert not decide(put, policy, secret_resource_keys(SECRET_ARN))


def test_pass_role_only_to_lambda() -> None:
    policy = allow("iam:PassRole", ROLE_ARN, Condition={"StringEquals": {"iam:PassedToService": LAMBDA_SERVICE}})
    _, pass_role = checks("lambda", "CreateFunction", {"FunctionName": "f", "Role": ROLE_ARN})
    assert decide(pass_role, policy)
    assert not decide(
        pass_role,
        allow("iam:PassRole", ROLE_ARN, Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
    )


def test_a_tag_condition_on_create_secret() -> None:
    policy = allow("secretsmanager:CreateSecret", Condition={"StringEquals": {"aws:RequestTag/team": "db"}})
    create = checks("secretsmanager", "CreateSecret", {"Name": "n", "Tags": [{"Key": "team", "Value": "db"}]})[0]
    untagged = checks("secretsmanager", "CreateSecret", {"Name": "n"})[0]
    assert decide(replace(create, target=create.target.resolved(SECRET_ARN)), policy)
    assert not decide(replace(untagged, target=untagged.target.resolved(SECRET_ARN)), policy)
