"""Example policies from AWS's documentation, each with the decision AWS documents for it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.iam.support import (
    ACCOUNT,
    decide,
    identity,
    request,
    resource_policy,
    service,
    session,
    user,
)
from tumbler.core.iam import PolicyKind, Principal, parse_policy

SM = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret"
Case = tuple[str, str, Principal, dict[str, Any], bool]


def run(policy: Any, cases: list[Case], *, kind: str = "identity") -> None:
    for action, resource, caller, context, expected in cases:
        req = request(caller, action, resource, context)
        decision = decide(req, identity=(policy,)) if kind == "identity" else decide(req, resource=policy)
        assert decision.allowed is expected, (action, resource, context)


# --- IAM User Guide, "Permissions boundaries for IAM entities": ShirleyRodriguez -------------------------------
SHIRLEY_BOUNDARY = identity({"Effect": "Allow", "Action": ["s3:*", "cloudwatch:*", "ec2:*"], "Resource": "*"})
SHIRLEY_CREATE_USER = identity({"Effect": "Allow", "Action": "iam:CreateUser", "Resource": "*"})


def test_boundary_example_shirley() -> None:
    req = request(user("ShirleyRodriguez"), "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/new")
    assert not decide(req, identity=(SHIRLEY_CREATE_USER,), boundary=SHIRLEY_BOUNDARY).allowed
    s3 = request(user("ShirleyRodriguez"), "s3:GetObject", "arn:aws:s3:::bucket/key")
    assert not decide(
        s3, identity=(SHIRLEY_CREATE_USER,), boundary=SHIRLEY_BOUNDARY
    ).allowed  # the boundary grants nothing
    assert decide(
        s3, identity=(identity({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),), boundary=SHIRLEY_BOUNDARY
    ).allowed


# --- IAM User Guide, "Permissions boundaries": XCompanyBoundaries (Zhang's delegated users) ----------------------
XCOMPANY = identity(
    {
        "Sid": "ServiceBoundaries",
        "Effect": "Allow",
        "Action": ["s3:*", "cloudwatch:*", "ec2:*", "dynamodb:*"],
        "Resource": "*",
    },
    {
        "Sid": "AllowIAMConsoleForCredentials",
        "Effect": "Allow",
        "Action": ["iam:ListUsers", "iam:GetAccountPasswordPolicy"],
        "Resource": "*",
    },
    {
        "Sid": "AllowManageOwnPasswordAndAccessKeys",
        "Effect": "Allow",
        "Action": [
            "iam:*AccessKey*",
            "iam:ChangePassword",
            "iam:GetUser",
            "iam:*ServiceSpecificCredential*",
            "iam:*SigningCertificate*",
        ],
        "Resource": ["arn:aws:iam::*:user/${aws:username}"],
    },
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]},
    {
        "Sid": "DenyEC2Production",
        "Effect": "Deny",
        "Action": "ec2:*",
        "Resource": "arn:aws:ec2:*:*:instance/i-1234567890abcdef0",
    },
)
EVERYTHING = identity({"Effect": "Allow", "Action": "*", "Resource": "*"})


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("s3:GetObject", "arn:aws:s3:::data/x", True),
        ("s3:GetObject", "arn:aws:s3:::logs/x", False),
        ("s3:ListBucket", "arn:aws:s3:::logs", False),
        ("ec2:StartInstances", "arn:aws:ec2:us-east-1:111122223333:instance/i-0aaaaaaaaaaaaaaaa", True),
        ("ec2:StopInstances", "arn:aws:ec2:us-east-1:111122223333:instance/i-1234567890abcdef0", False),
        ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/newuser", True),
        ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/someoneelse", False),
        ("iam:ListUsers", "*", True),
        ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x", False),
        ("sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:q", False),
    ],
)
def test_boundary_example_xcompany(action: str, resource: str, expected: bool) -> None:
    req = request(user("newuser"), action, resource)
    assert decide(req, identity=(EVERYTHING,), boundary=XCOMPANY).allowed is expected


# --- IAM User Guide, "The difference between explicit and implicit denies" ---------------------------------------
INTERPLAY = identity(
    {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
    {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("iam:GetUser", True),
        ("iam:ListRoles", True),
        ("iam:CreatePolicy", False),
        ("iam:GetOrganizationsAccessReport", False),
    ],
)
def test_explicit_and_implicit_denies(action: str, expected: bool) -> None:
    extra = identity({"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"})
    assert decide(request(user(), action, "*"), identity=(INTERPLAY, extra)).allowed is expected


# --- IAM User Guide, "Condition operators": ...IfExists (ec2:RunInstances) ----------------------------------------
RUN_INSTANCES = identity(
    {
        "Sid": "RunInstance",
        "Effect": "Allow",
        "Action": "ec2:RunInstances",
        "Resource": "*",
        "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
    },
)


@pytest.mark.parametrize(
    ("context", "expected"),
    [({"ec2:InstanceType": "t2.micro"}, True), ({"ec2:InstanceType": "m5.large"}, False), ({}, True)],
)
def test_if_exists_example(context: dict[str, str], expected: bool) -> None:
    assert decide(request(user(), "ec2:RunInstances", "*", context), identity=(RUN_INSTANCES,)).allowed is expected


# --- IAM User Guide, "Condition operators": Null on aws:TokenIssueTime; Bool aws:SecureTransport -------------------
def test_null_token_issue_time_example() -> None:
    policy = identity(
        {"Action": "ec2:*", "Effect": "Allow", "Resource": "*", "Condition": {"Null": {"aws:TokenIssueTime": "true"}}}
    )
    assert decide(request(user(), "ec2:DescribeVpcs", "*"), identity=(policy,)).allowed
    temporary = request(session(), "ec2:DescribeVpcs", "*", {"aws:TokenIssueTime": "2024-06-01T11:00:00Z"})
    assert not decide(temporary, identity=(policy,)).allowed


def test_secure_transport_example() -> None:
    bucket = "arn:aws:s3:::DOC-EXAMPLE-BUCKET"
    boolean = identity(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {
            "Sid": "BooleanExample",
            "Action": "s3:*",
            "Effect": "Deny",
            "Resource": [bucket, f"{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    assert decide(
        request(user(), "s3:GetObject", f"{bucket}/k", {"aws:SecureTransport": "true"}), identity=(boolean,)
    ).allowed
    assert not decide(
        request(user(), "s3:GetObject", f"{bucket}/k", {"aws:SecureTransport": "false"}), identity=(boolean,)
    ).allowed


# --- IAM User Guide, "Condition operators": IPv4 and IPv6 together -------------------------------------------------
@pytest.mark.parametrize(
    ("ip", "expected"), [("203.0.113.5", True), ("2001:db8:1234:5678:ffff::1", True), ("198.51.100.1", False)]
)
def test_ip_example(ip: str, expected: bool) -> None:
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "someservice:*",
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
        }
    )
    assert decide(request(user(), "someservice:Do", "*", {"aws:SourceIp": ip}), identity=(policy,)).allowed is expected


# --- IAM User Guide, "Condition operators": ARN example (SQS queue policy for an SNS topic) ----------------------
def test_arn_equals_example() -> None:
    queue = "arn:aws:sqs:us-east-1:123456789012:QUEUE-ID"
    policy = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": "123456789012"},
                "Action": "SQS:SendMessage",
                "Resource": queue,
                "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"}},
            },
        },
        PolicyKind.RESOURCE,
    )
    via_topic = {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"}
    caller = user(account="123456789012")
    assert decide(request(caller, "sqs:SendMessage", queue, via_topic), resource=policy).allowed
    assert not decide(request(caller, "sqs:SendMessage", queue), resource=policy).allowed  # called directly


# --- IAM User Guide, "Creating a condition with multiple keys or values" (DynamoDB Thread table) -----------------
THREAD = "arn:aws:dynamodb:us-east-1:111122223333:table/Thread"


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [(["PostDateTime", "Message"], True), (["PostDateTime", "UserName"], False), (["ID"], False)],
)
def test_for_all_values_thread_example(attributes: list[str], expected: bool) -> None:
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": THREAD,
            "Condition": {
                "ForAllValues:StringLike": {"dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]}
            },
        }
    )
    req = request(user(), "dynamodb:GetItem", THREAD, {"dynamodb:requestedAttributes": attributes})
    assert decide(req, identity=(policy,)).allowed is expected


@pytest.mark.parametrize(
    ("attributes", "denied"),
    [(["UserName", "Message", "PostDateTime"], True), (["PostDateTime", "Message"], True), (["UserName"], False)],
)
def test_for_any_value_thread_example(attributes: list[str], denied: bool) -> None:
    policy = identity(
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": THREAD},
        {
            "Effect": "Deny",
            "Action": "dynamodb:PutItem",
            "Resource": THREAD,
            "Condition": {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}},
        },
    )
    req = request(user(), "dynamodb:PutItem", THREAD, {"dynamodb:requestedAttributes": attributes})
    assert decide(req, identity=(policy,)).allowed is not denied


# --- IAM User Guide, "Condition operators": String example with s3:prefix and ${aws:username} ----------------------
def test_s3_home_directory_example() -> None:
    bucket = "arn:aws:s3:::BUCKET-NAME"
    policy = identity(
        {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "Resource": "arn:aws:s3:::*"},
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
        },
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": [f"{bucket}/home/${{aws:username}}", f"{bucket}/home/${{aws:username}}/*"],
        },
    )
    alice = user("alice")
    run(
        policy,
        [
            ("s3:ListBucket", bucket, alice, {"s3:prefix": "home/alice/"}, True),
            ("s3:ListBucket", bucket, alice, {"s3:prefix": "home/"}, True),
            ("s3:ListBucket", bucket, alice, {"s3:prefix": ""}, True),
            ("s3:ListBucket", bucket, alice, {"s3:prefix": "home/bob/"}, False),
            ("s3:PutObject", f"{bucket}/home/alice/file", alice, {}, True),
            ("s3:PutObject", f"{bucket}/home/bob/file", alice, {}, False),
            ("s3:GetBucketLocation", bucket, alice, {}, True),
        ],
    )


# --- Secrets Manager User Guide, "Permissions policy examples" ---------------------------------------------------
def test_sm_read_one_secret_resource_policy() -> None:
    policy = resource_policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/EC2RoleToAccessSecrets"},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    )
    secret = f"{SM}:app-AbCdEf"
    run(
        policy,
        [
            ("secretsmanager:GetSecretValue", secret, session("EC2RoleToAccessSecrets", "i-0abc"), {}, True),
            ("secretsmanager:PutSecretValue", secret, session("EC2RoleToAccessSecrets", "i-0abc"), {}, False),
            ("secretsmanager:GetSecretValue", secret, session("OtherRole"), {}, False),
            ("secretsmanager:GetSecretValue", secret, user(), {}, False),
        ],
        kind="resource",
    )


def test_sm_wildcard_examples() -> None:
    path = identity({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": f"{SM}:TestEnv/*"})
    run(
        path,
        [
            ("secretsmanager:GetSecretValue", f"{SM}:TestEnv/db-AbCdEf", user(), {}, True),
            ("secretsmanager:GetSecretValue", f"{SM}:ProdEnv/db-AbCdEf", user(), {}, False),
        ],
    )
    metadata = identity(
        {"Effect": "Allow", "Action": ["secretsmanager:DescribeSecret", "secretsmanager:List*"], "Resource": "*"}
    )
    run(
        metadata,
        [
            ("secretsmanager:ListSecrets", "*", user(), {}, True),
            ("secretsmanager:ListSecretVersionIds", f"{SM}:x-AbCdEf", user(), {}, True),
            ("secretsmanager:DescribeSecret", f"{SM}:x-AbCdEf", user(), {}, True),
            ("secretsmanager:GetSecretValue", f"{SM}:x-AbCdEf", user(), {}, False),
        ],
    )
    by_name = identity(
        {
            "Effect": "Allow",
            "Action": "secretsmanager:*",
            "Resource": [f"{SM}:a_specific_secret_name-a1b2c3", f"{SM}:another_secret_name-??????"],
        }
    )
    run(
        by_name,
        [
            ("secretsmanager:GetSecretValue", f"{SM}:a_specific_secret_name-a1b2c3", user(), {}, True),
            ("secretsmanager:GetSecretValue", f"{SM}:a_specific_secret_name-zzzzzz", user(), {}, False),
            ("secretsmanager:DeleteSecret", f"{SM}:another_secret_name-Xy12Zw", user(), {}, True),
            ("secretsmanager:DeleteSecret", f"{SM}:another_secret_name-extra-Xy12Zw", user(), {}, False),
        ],
    )


def test_sm_vpc_endpoint_resource_policy() -> None:
    policy = resource_policy(
        {
            "Sid": "RestrictGetSecretValueoperation",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:sourceVpce": "vpce-1234a5678b9012c"}},
        },
    )
    admin = identity({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"})
    secret = f"{SM}:app-AbCdEf"
    inside = request(user(), "secretsmanager:GetSecretValue", secret, {"aws:SourceVpce": "vpce-1234a5678b9012c"})
    outside = request(user(), "secretsmanager:GetSecretValue", secret, {"aws:SourceVpce": "vpce-other"})
    internet = request(user(), "secretsmanager:GetSecretValue", secret)  # no endpoint: the key is absent
    assert decide(inside, identity=(admin,), resource=policy).allowed
    assert not decide(outside, identity=(admin,), resource=policy).allowed
    assert not decide(internet, identity=(admin,), resource=policy).allowed


def test_sm_tag_examples() -> None:
    by_tag = identity(
        {
            "Effect": "Allow",
            "Action": "secretsmanager:DescribeSecret",
            "Resource": "*",
            "Condition": {"StringEquals": {"secretsmanager:ResourceTag/ServerName": "ServerABC"}},
        }
    )
    secret = f"{SM}:x-AbCdEf"
    run(
        by_tag,
        [
            (
                "secretsmanager:DescribeSecret",
                secret,
                user(),
                {"secretsmanager:ResourceTag/ServerName": "ServerABC"},
                True,
            ),
            (
                "secretsmanager:DescribeSecret",
                secret,
                user(),
                {"secretsmanager:ResourceTag/ServerName": "ServerXYZ"},
                False,
            ),
            ("secretsmanager:DescribeSecret", secret, user(), {}, False),
        ],
    )
    # "Allow access to roles that have the same tags as secrets (attach to a secret)": an account principal
    # with ${ aws:PrincipalTag/AccessProject }, spaces included.
    abac = resource_policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ACCOUNT},
            "Condition": {"StringEquals": {"aws:ResourceTag/AccessProject": "${ aws:PrincipalTag/AccessProject }"}},
            "Action": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
    )
    tagged = {"aws:ResourceTag/AccessProject": "alpha"}
    run(
        abac,
        [
            ("secretsmanager:GetSecretValue", secret, session(tags={"AccessProject": "alpha"}), tagged, True),
            ("secretsmanager:GetSecretValue", secret, session(tags={"AccessProject": "beta"}), tagged, False),
            ("secretsmanager:GetSecretValue", secret, session(), tagged, False),
            ("secretsmanager:GetSecretValue", secret, session(tags={"AccessProject": "alpha"}), {}, False),
        ],
        kind="resource",
    )


def test_sm_version_stage_example() -> None:
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": f"{SM}:Prod*",
            "Condition": {"ForAnyValue:StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}},
        }
    )
    secret = f"{SM}:ProdDb-AbCdEf"
    run(
        policy,
        [
            ("secretsmanager:GetSecretValue", secret, user(), {"secretsmanager:VersionStage": "AWSCURRENT"}, True),
            (
                "secretsmanager:GetSecretValue",
                secret,
                user(),
                {"secretsmanager:VersionStage": ["AWSPREVIOUS", "AWSCURRENT"]},
                True,
            ),
            ("secretsmanager:GetSecretValue", secret, user(), {"secretsmanager:VersionStage": "AWSPENDING"}, False),
            (
                "secretsmanager:GetSecretValue",
                secret,
                user(),
                {},
                False,
            ),  # no stage named: denied, as the SM guide warns
            (
                "secretsmanager:GetSecretValue",
                f"{SM}:DevDb-AbCdEf",
                user(),
                {"secretsmanager:VersionStage": "AWSCURRENT"},
                False,
            ),
        ],
    )


def test_sm_require_tags_on_create() -> None:
    # Deny CreateSecret without a tag, via Null on aws:RequestTag, and any tag key but the allowed ones.
    policy = identity(
        {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "secretsmanager:CreateSecret",
            "Resource": "*",
            "Condition": {"Null": {"aws:RequestTag/Owner": "true"}},
        },
        {
            "Effect": "Deny",
            "Action": ["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
            "Resource": "*",
            "Condition": {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["Owner", "Project"]}},
        },
    )
    run(
        policy,
        [
            (
                "secretsmanager:CreateSecret",
                f"{SM}:n-AbCdEf",
                user(),
                {"aws:RequestTag/Owner": "me", "aws:TagKeys": ["Owner"]},
                True,
            ),
            ("secretsmanager:CreateSecret", f"{SM}:n-AbCdEf", user(), {}, False),
            (
                "secretsmanager:CreateSecret",
                f"{SM}:n-AbCdEf",
                user(),
                {"aws:RequestTag/Owner": "me", "aws:TagKeys": ["Owner", "Cost"]},
                False,
            ),
            ("secretsmanager:TagResource", f"{SM}:n-AbCdEf", user(), {"aws:TagKeys": ["Project"]}, True),
        ],
    )


def test_sm_deny_outside_source_ip() -> None:
    policy = identity(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "secretsmanager:*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
        },
    )
    secret = f"{SM}:x-AbCdEf"
    run(
        policy,
        [
            ("secretsmanager:GetSecretValue", secret, user(), {"aws:SourceIp": "192.0.2.10"}, True),
            ("secretsmanager:GetSecretValue", secret, user(), {"aws:SourceIp": "198.51.100.10"}, False),
            ("secretsmanager:GetSecretValue", secret, user(), {}, False),  # no source IP: the negated condition holds
        ],
    )


def test_sm_rotation_function_role_by_lambda_arn() -> None:
    # Pre-2022 "Permissions for rotation": one role rotates every secret whose rotation function is this Lambda.
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:rotator"
    policy = identity(
        {
            "Effect": "Allow",
            "Action": [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"secretsmanager:resource/AllowRotationLambdaArn": function}},
        },
        {"Effect": "Allow", "Action": ["secretsmanager:GetRandomPassword"], "Resource": "*"},
    )
    rotator = session("rotation-role", "rotator")
    secret = f"{SM}:db-AbCdEf"
    run(
        policy,
        [
            (
                "secretsmanager:PutSecretValue",
                secret,
                rotator,
                {"secretsmanager:resource/AllowRotationLambdaArn": function},
                True,
            ),
            (
                "secretsmanager:PutSecretValue",
                secret,
                rotator,
                {"secretsmanager:resource/AllowRotationLambdaArn": function + "2"},
                False,
            ),
            ("secretsmanager:PutSecretValue", secret, rotator, {}, False),
            ("secretsmanager:GetRandomPassword", "*", rotator, {}, True),
            (
                "secretsmanager:DeleteSecret",
                secret,
                rotator,
                {"secretsmanager:resource/AllowRotationLambdaArn": function},
                False,
            ),
        ],
    )


def test_sm_rotation_function_role_current_example() -> None:
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:secretName-AbCdEf"
    policy = identity(
        {
            "Effect": "Allow",
            "Action": [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            "Resource": secret,
        },
        {"Effect": "Allow", "Action": ["secretsmanager:GetRandomPassword"], "Resource": "*"},
        {
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DetachNetworkInterface",
            ],
            "Resource": "*",
            "Effect": "Allow",
        },
    )
    rotator = session("rotation-role", "fn", account="123456789012")
    run(
        policy,
        [
            ("secretsmanager:UpdateSecretVersionStage", secret, rotator, {}, True),
            ("secretsmanager:GetSecretValue", secret.replace("secretName", "other"), rotator, {}, False),
            ("ec2:CreateNetworkInterface", "*", rotator, {}, True),
            ("secretsmanager:RotateSecret", secret, rotator, {}, False),
        ],
    )


def test_sm_restrict_rotation_function_on_rotate_secret() -> None:
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:approved-*"
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "secretsmanager:RotateSecret",
            "Resource": "*",
            "Condition": {"ArnLike": {"secretsmanager:RotationLambdaARN": function}},
        }
    )
    secret = f"{SM}:db-AbCdEf"
    key = "secretsmanager:RotationLambdaARN"
    run(
        policy,
        [
            (
                "secretsmanager:RotateSecret",
                secret,
                user(),
                {key: f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:approved-pg"},
                True,
            ),
            (
                "secretsmanager:RotateSecret",
                secret,
                user(),
                {key: f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mine"},
                False,
            ),
        ],
    )


def test_lambda_rotation_invoke_permission() -> None:
    # aws lambda add-permission --principal secretsmanager.amazonaws.com --source-account ACCOUNT
    function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-rotation-function"
    policy = resource_policy(
        {
            "Sid": "SecretsManager",
            "Effect": "Allow",
            "Principal": {"Service": "secretsmanager.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": function,
            "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}},
        },
        name="default",
    )
    secret = f"{SM}:db-AbCdEf"
    run(
        policy,
        [
            (
                "lambda:InvokeFunction",
                function,
                service(),
                {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": secret},
                True,
            ),
            ("lambda:InvokeFunction", function, service(), {"aws:SourceAccount": "999999999999"}, False),
            ("lambda:InvokeFunction", function, service(), {}, False),
            ("lambda:InvokeFunction", function, service("events.amazonaws.com"), {"aws:SourceAccount": ACCOUNT}, False),
            ("lambda:InvokeFunction", function, user(), {"aws:SourceAccount": ACCOUNT}, False),
        ],
        kind="resource",
    )


def test_lambda_execution_role_trust_policy() -> None:
    policy = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        },
        PolicyKind.TRUST,
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/rotation-role"
    assert decide(request(service("lambda.amazonaws.com"), "sts:AssumeRole", role), resource=policy).allowed
    assert not decide(request(user(), "sts:AssumeRole", role), resource=policy).allowed
