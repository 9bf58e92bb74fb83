"""IAM and STS against a live server, with the real AWS CLI and boto3, as a user would type it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import LiveServer

TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
READ_SECRETS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}  # fmt: skip
ACCOUNT = "123456789012"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def cli(server: LiveServer, keys: tuple[str, ...] | None, *args: str) -> Any:
    """The AWS CLI with other credentials than the admin's (a session's third element is its token)."""
    env = server.cli_env()
    if keys is not None:
        env.update(AWS_ACCESS_KEY_ID=keys[0], AWS_SECRET_ACCESS_KEY=keys[1])
        if len(keys) > 2:
            env["AWS_SESSION_TOKEN"] = keys[2]
    return subprocess.run(["aws", *args, "--output", "json"], capture_output=True, text=True, env=env, timeout=60,
                          check=False)  # fmt: skip


def error_code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


@pytest.fixture
def user_keys(server: LiveServer) -> tuple[str, str, str]:
    """A new IAM user with an access key: (name, key id, secret)."""
    name = unique("alice")
    created = server.aws("iam", "create-user", "--user-name", name)
    assert created["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert created["User"]["UserId"].startswith("AIDA")
    key = server.aws("iam", "create-access-key", "--user-name", name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA")
    assert key["Status"] == "Active"
    return name, key["AccessKeyId"], key["SecretAccessKey"]


def test_rotation_walkthrough_role_and_a_users_identity(server: LiveServer, tmp_path: Path,
                                                        user_keys: tuple[str, str, str]) -> None:  # fmt: skip
    role = unique("rotation-role")
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(TRUST_LAMBDA))
    created = server.aws("iam", "create-role", "--role-name", role, "--assume-role-policy-document", f"file://{trust}")
    assert created["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assert created["Role"]["AssumeRolePolicyDocument"] == TRUST_LAMBDA
    server.aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "read",
               "--policy-document", json.dumps(READ_SECRETS))  # fmt: skip
    server.aws("iam", "attach-role-policy", "--role-name", role,
               "--policy-arn", "arn:aws:iam::aws:policy/SecretsManagerReadWrite")  # fmt: skip
    attached = server.aws("iam", "list-attached-role-policies", "--role-name", role)["AttachedPolicies"]
    assert attached == [{"PolicyName": "SecretsManagerReadWrite",
                         "PolicyArn": "arn:aws:iam::aws:policy/SecretsManagerReadWrite"}]  # fmt: skip
    assert server.aws("iam", "get-role-policy", "--role-name", role, "--policy-name", "read")["PolicyDocument"] == (
        READ_SECRETS
    )
    name, key_id, secret = user_keys
    done = cli(server, (key_id, secret), "sts", "get-caller-identity")
    assert done.returncode == 0, done.stderr
    me = json.loads(done.stdout)
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert me["Account"] == ACCOUNT
    assert me["UserId"].startswith("AIDA")
    root = server.aws("sts", "get-caller-identity")
    assert root == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}


def test_a_user_assumes_a_role_its_trust_policy_allows(server: LiveServer, user_keys: tuple[str, str, str]) -> None:
    name, key_id, secret = user_keys
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    trusting, other = unique("trusting"), unique("other")
    trust_user = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    iam = server.client("iam")
    role_arn = iam.create_role(RoleName=trusting, AssumeRolePolicyDocument=json.dumps(trust_user))["Role"]["Arn"]
    other_arn = iam.create_role(RoleName=other, AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"]["Arn"]
    sts = server.client("sts", keys=(key_id, secret))
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=other_arn, RoleSessionName="s1")
    code, message = error_code(refused)
    assert code == "AccessDenied"
    assert message.startswith(f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {other_arn}")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as too_long:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=7200)
    assert error_code(too_long)[0] == "ValidationError"

    got = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=900)
    credentials, assumed = got["Credentials"], got["AssumedRoleUser"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert assumed["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{trusting}/s1"
    assert assumed["AssumedRoleId"].startswith("AROA")
    assert assumed["AssumedRoleId"].endswith(":s1")
    session = (credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])
    done = cli(server, session, "sts", "get-caller-identity")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"] == assumed["Arn"]
    assert json.loads(done.stdout)["UserId"] == assumed["AssumedRoleId"]

    wrong = cli(server, (*session[:2], session[2][:-4] + "AAAA"), "sts", "get-caller-identity")
    assert wrong.returncode != 0
    assert "InvalidClientTokenId" in wrong.stderr
    missing = cli(server, session[:2], "sts", "get-caller-identity")
    assert "InvalidClientTokenId" in missing.stderr
    sm = server.client("secretsmanager", keys=session[:2], aws_session_token=session[2][:-4] + "AAAA")
    with pytest.raises(ClientError) as bad_token:
        sm.list_secrets()
    assert error_code(bad_token) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


def test_an_expired_session_is_refused(server: LiveServer) -> None:
    sts = server.client("sts")
    role = unique("expiring")
    root = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    trust_root = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": root, "Action": "sts:AssumeRole"}],
    }
    role_arn = server.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust_root))
    credentials = sts.assume_role(RoleArn=role_arn["Role"]["Arn"], RoleSessionName="expiry", DurationSeconds=900)
    credentials = credentials["Credentials"]
    with sqlite3.connect(server.data_dir / "tumbler.db") as db:  # the clock jumps past the expiry
        db.execute("UPDATE access_keys SET expires = expires - 901 WHERE access_key_id = ?",
                   (credentials["AccessKeyId"],))  # fmt: skip
    keys = (credentials["AccessKeyId"], credentials["SecretAccessKey"])
    sm = server.client("secretsmanager", keys=keys, aws_session_token=credentials["SessionToken"])
    with pytest.raises(ClientError) as expired:
        sm.list_secrets()
    assert error_code(expired) == ("ExpiredTokenException", "The security token included in the request is expired")
    expired_sts = server.client("sts", keys=keys, aws_session_token=credentials["SessionToken"])
    with pytest.raises(ClientError) as expired_query:
        expired_sts.get_caller_identity()
    assert error_code(expired_query)[0] == "ExpiredToken"


def test_an_inactive_key_is_refused_and_keys_are_two_at_most(server: LiveServer,
                                                              user_keys: tuple[str, str, str]) -> None:  # fmt: skip
    name, key_id, secret = user_keys
    iam = server.client("iam")
    second = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(ClientError) as third:
        iam.create_access_key(UserName=name)
    assert error_code(third) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    iam.update_access_key(UserName=name, AccessKeyId=key_id, Status="Inactive")
    listed = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert listed == {key_id: "Inactive", second["AccessKeyId"]: "Active"}
    with pytest.raises(ClientError) as inactive:
        server.client("sts", keys=(key_id, secret)).get_caller_identity()
    assert error_code(inactive) == ("InvalidClientTokenId", "The security token included in the request is invalid.")
    with pytest.raises(ClientError) as inactive_sm:
        server.client("secretsmanager", keys=(key_id, secret)).list_secrets()
    assert error_code(inactive_sm)[0] == "UnrecognizedClientException"
    with pytest.raises(ClientError) as conflict:
        iam.delete_user(UserName=name)
    assert error_code(conflict) == ("DeleteConflict", "Cannot delete entity, must delete access keys first.")
    for key in (key_id, second["AccessKeyId"]):
        iam.delete_access_key(UserName=name, AccessKeyId=key)
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as gone:
        iam.get_user(UserName=name)
    assert error_code(gone) == ("NoSuchEntity", f"The user with name {name} cannot be found.")


def test_users_names_and_tags(server: LiveServer) -> None:
    iam = server.client("iam")
    name = unique("Bob")
    iam.create_user(UserName=name, Path="/team/", Tags=[{"Key": "team", "Value": "db"}])
    with pytest.raises(ClientError) as taken:
        iam.create_user(UserName=name.upper())
    assert error_code(taken) == ("EntityAlreadyExists", f"User with name {name.upper()} already exists.")
    iam.tag_user(UserName=name, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_user(UserName=name, TagKeys=["team"])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert name in [u["UserName"] for u in iam.list_users(PathPrefix="/team/")["Users"]]
    assert iam.get_user(UserName=name.lower())["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{name}"


def test_malformed_trust_policy(server: LiveServer) -> None:
    iam = server.client("iam")
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    with pytest.raises(ClientError) as malformed:
        iam.create_role(RoleName=unique("bad"), AssumeRolePolicyDocument=json.dumps(no_principal))
    assert error_code(malformed) == ("MalformedPolicyDocument", "Missing required field Principal")


def test_managed_policy_versions(server: LiveServer) -> None:
    iam = server.client("iam")
    name = unique("ReadSecrets")
    policy = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(READ_SECRETS))["Policy"]
    policy_arn = policy["Arn"]
    assert policy_arn == f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    assert policy["PolicyId"].startswith("ANPA")
    assert policy["DefaultVersionId"] == "v1"
    for _ in range(4):
        iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(READ_SECRETS))
    with pytest.raises(ClientError) as limit:
        iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(READ_SECRETS))
    assert error_code(limit)[0] == "LimitExceeded"
    iam.set_default_policy_version(PolicyArn=policy_arn, VersionId="v3")
    with pytest.raises(ClientError) as default:
        iam.delete_policy_version(PolicyArn=policy_arn, VersionId="v3")
    assert error_code(default) == ("DeleteConflict", "Cannot delete the default version of a policy.")
    iam.delete_policy_version(PolicyArn=policy_arn, VersionId="v1")
    made = iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(READ_SECRETS), SetAsDefault=True)
    assert made["PolicyVersion"]["VersionId"] == "v6"  # never reused
    versions = iam.list_policy_versions(PolicyArn=policy_arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v6", "v5", "v4", "v3", "v2"]
    assert iam.get_policy_version(PolicyArn=policy_arn, VersionId="v6")["PolicyVersion"]["Document"] == READ_SECRETS
    role = unique("holder")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))
    iam.attach_role_policy(RoleName=role, PolicyArn=policy_arn)
    assert iam.get_policy(PolicyArn=policy_arn)["Policy"]["AttachmentCount"] == 1
    local = [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    assert policy_arn in local
    aws = [p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]]
    assert "SecretsManagerReadWrite" in aws
    with pytest.raises(ClientError) as attached:
        iam.delete_role(RoleName=role)
    assert error_code(attached) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.")
    iam.detach_role_policy(RoleName=role, PolicyArn=policy_arn)
    iam.delete_role(RoleName=role)
    with pytest.raises(ClientError) as versions_left:
        iam.delete_policy(PolicyArn=policy_arn)
    assert error_code(versions_left)[0] == "DeleteConflict"
    for version in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=policy_arn, VersionId=version)
    iam.delete_policy(PolicyArn=policy_arn)
    with pytest.raises(ClientError) as gone:
        iam.get_policy(PolicyArn=policy_arn)
    assert error_code(gone)[0] == "NoSuchEntity"


@pytest.mark.parametrize("kind", ["user", "role"])
def test_tags_and_boundaries_of_users_and_roles(server: LiveServer, kind: str) -> None:
    iam, name = server.client("iam"), unique(kind)
    title = kind.title()
    named = {f"{title}Name": name}
    if kind == "user":
        iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "a"}])
    else:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA),
                        Tags=[{"Key": "team", "Value": "a"}])  # fmt: skip
    getattr(iam, f"tag_{kind}")(**named, Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "prod"}])
    getattr(iam, f"untag_{kind}")(**named, TagKeys=["env"])
    assert getattr(iam, f"list_{kind}_tags")(**named)["Tags"] == [{"Key": "team", "Value": "b"}]
    boundary = "arn:aws:iam::aws:policy/SecretsManagerReadWrite"
    getattr(iam, f"put_{kind}_permissions_boundary")(**named, PermissionsBoundary=boundary)
    shown = getattr(iam, f"get_{kind}")(**named)[title]["PermissionsBoundary"]
    assert shown == {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    getattr(iam, f"delete_{kind}_permissions_boundary")(**named)
    assert "PermissionsBoundary" not in getattr(iam, f"get_{kind}")(**named)[title]
    with pytest.raises(ClientError) as err:
        getattr(iam, f"put_{kind}_permissions_boundary")(**named, PermissionsBoundary=boundary + "Nope")
    assert error_code(err)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as err:
        getattr(iam, f"tag_{kind}")(**{f"{title}Name": name + "-gone"}, Tags=[{"Key": "k", "Value": "v"}])
    assert error_code(err) == ("NoSuchEntity", f"The {kind} with name {name}-gone cannot be found.")
