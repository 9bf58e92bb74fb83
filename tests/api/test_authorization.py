"""Authorization before every operation, as AWS decides it: IAM users with boto3 and the real AWS CLI against a
live server (ops/authorize.py). The admin key is the account root and may do everything else the tests need."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import ACCOUNT, assert_error
from tests.api.rotation_helpers import zip_of
from tests.conftest import LiveServer

Keys = tuple[str, str]
TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def user_arn(user: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{user}"


def new_user(server: LiveServer, *statements: dict[str, Any]) -> tuple[str, Keys]:
    """An IAM user whose one inline policy holds ``statements`` (none: no policy at all), with an access key."""
    user = unique("user")
    server.aws("iam", "create-user", "--user-name", user)
    if statements:
        server.aws("iam", "put-user-policy", "--user-name", user, "--policy-name", "p",
                   "--policy-document", document(*statements))  # fmt: skip
    key = server.aws("iam", "create-access-key", "--user-name", user)["AccessKey"]
    return user, (key["AccessKeyId"], key["SecretAccessKey"])


def as_user(server: LiveServer, keys: Keys, *args: str) -> subprocess.CompletedProcess[str]:
    """The real AWS CLI signed with ``keys``."""
    env = {**server.cli_env(), "AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1]}
    return subprocess.run(["aws", *args, "--output", "json"], capture_output=True, text=True, env=env, timeout=60,
                          check=False)  # fmt: skip


def not_identity_allowed(user: str, action: str, resource: str | None) -> str:
    on = f" on resource: {resource}" if resource is not None else ""
    return (f"User: {user_arn(user)} is not authorized to perform: {action}{on} "
            f"because no identity-based policy allows the {action} action")  # fmt: skip


def audit_lines(server: LiveServer) -> list[dict[str, Any]]:
    path = server.data_dir / "audit.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [entry for entry in map(json.loads, lines) if entry["event"] == "AccessDenied"]


@pytest.fixture
def sm(server: LiveServer) -> Any:
    return server.client()


def test_no_permission_is_access_denied_even_for_a_missing_secret(server: LiveServer, sm: Any, name: str) -> None:
    user, keys = new_user(server)
    theirs = server.client(keys=keys)
    sm.create_secret(Name=name, SecretString="s3cr3t-value")
    for secret_id in (name, f"{name}/missing"):
        with pytest.raises(ClientError) as raised:
            theirs.get_secret_value(SecretId=secret_id)
        assert_error(raised, "AccessDeniedException", not_identity_allowed(user, "secretsmanager:GetSecretValue",
                                                                          secret_id))  # fmt: skip
    with pytest.raises(ClientError) as raised:
        theirs.list_secrets()
    assert_error(raised, "AccessDeniedException", not_identity_allowed(user, "secretsmanager:ListSecrets", None))
    logged = [e for e in audit_lines(server) if e["principal"] == user_arn(user)]
    assert {(e["action"], e["mode"], e["reason"], e["policy_type"]) for e in logged} == {
        ("secretsmanager:GetSecretValue", "enforce", "implicit_deny", "identity-based policy"),
        ("secretsmanager:ListSecrets", "enforce", "implicit_deny", "identity-based policy"),
    }
    assert "s3cr3t-value" not in (server.data_dir / "audit.log").read_text()


def test_with_permission_a_missing_secret_is_not_found(server: LiveServer, name: str) -> None:
    _, keys = new_user(server, allow("secretsmanager:GetSecretValue"))
    with pytest.raises(ClientError) as raised:
        server.client(keys=keys).get_secret_value(SecretId=f"{name}/missing")
    assert_error(raised, "ResourceNotFoundException")


def test_tag_condition(server: LiveServer, sm: Any, name: str) -> None:
    team = {"StringEquals": {"secretsmanager:ResourceTag/team": "blue"}}
    user, keys = new_user(server, allow("secretsmanager:GetSecretValue", Condition=team))
    sm.create_secret(Name=f"{name}/blue", SecretString="b", Tags=[{"Key": "team", "Value": "blue"}])
    sm.create_secret(Name=f"{name}/red", SecretString="r", Tags=[{"Key": "team", "Value": "red"}])
    theirs = server.client(keys=keys)
    assert theirs.get_secret_value(SecretId=f"{name}/blue")["SecretString"] == "b"
    with pytest.raises(ClientError) as raised:
        theirs.get_secret_value(SecretId=f"{name}/red")
    assert_error(raised, "AccessDeniedException",
                 not_identity_allowed(user, "secretsmanager:GetSecretValue", f"{name}/red"))  # fmt: skip


def test_a_resource_policy_grants_a_user_with_no_identity_policy(server: LiveServer, sm: Any, name: str) -> None:
    user, keys = new_user(server)
    arn = sm.create_secret(Name=name, SecretString="shared")["ARN"]
    sm.create_secret(Name=f"{name}/other", SecretString="not shared")
    grant = allow("secretsmanager:GetSecretValue", Principal={"AWS": user_arn(user)})
    sm.put_resource_policy(SecretId=name, ResourcePolicy=document(grant))
    theirs = server.client(keys=keys)
    assert theirs.get_secret_value(SecretId=arn)["SecretString"] == "shared"
    with pytest.raises(ClientError) as raised:
        theirs.get_secret_value(SecretId=f"{name}/other")
    assert_error(raised, "AccessDeniedException")
    with pytest.raises(ClientError) as raised:  # the grant is for one action
        theirs.describe_secret(SecretId=name)
    assert_error(raised, "AccessDeniedException")


@pytest.mark.parametrize("where", ["identity-based policy", "resource-based policy", "permissions boundary"])
def test_an_explicit_deny_in_any_policy_wins(server: LiveServer, sm: Any, name: str, where: str) -> None:
    user, keys = new_user(server, allow("secretsmanager:*"))
    sm.create_secret(Name=name, SecretString="v")
    theirs = server.client(keys=keys)
    assert theirs.get_secret_value(SecretId=name)["SecretString"] == "v"
    refuse = deny("secretsmanager:GetSecretValue")
    if where == "identity-based policy":
        server.aws("iam", "put-user-policy", "--user-name", user, "--policy-name", "deny",
                   "--policy-document", document(refuse))  # fmt: skip
    elif where == "resource-based policy":
        sm.put_resource_policy(SecretId=name, ResourcePolicy=document({**refuse, "Principal": {"AWS": user_arn(user)}}))
    else:
        boundary = server.aws("iam", "create-policy", "--policy-name", unique("boundary"),
                              "--policy-document", document(allow("*"), refuse))["Policy"]["Arn"]  # fmt: skip
        server.aws("iam", "put-user-permissions-boundary", "--user-name", user, "--permissions-boundary", boundary)
    with pytest.raises(ClientError) as raised:
        theirs.get_secret_value(SecretId=name)
    article = "an" if where.startswith("identity") else "a"
    refused = f"secretsmanager:GetSecretValue on resource: {name} with an explicit deny in {article} {where}"
    assert_error(raised, "AccessDeniedException", f"User: {user_arn(user)} is not authorized to perform: {refused}")
    assert theirs.describe_secret(SecretId=name)["Name"] == name  # the Deny names one action


def test_batch_get_secret_value_reports_each_denied_secret(server: LiveServer, sm: Any, name: str) -> None:
    readable = sm.create_secret(Name=f"{name}/a", SecretString="a")["ARN"]
    sm.create_secret(Name=f"{name}/b", SecretString="b")
    user, keys = new_user(server, allow("secretsmanager:BatchGetSecretValue"),
                          allow("secretsmanager:GetSecretValue", readable))  # fmt: skip
    got = server.client(keys=keys).batch_get_secret_value(SecretIdList=[f"{name}/a", f"{name}/b"])
    assert [v["SecretString"] for v in got["SecretValues"]] == ["a"]
    assert got["Errors"] == [{
        "SecretId": f"{name}/b", "ErrorCode": "AccessDeniedException",
        "Message": not_identity_allowed(user, "secretsmanager:GetSecretValue", f"{name}/b"),
    }]  # fmt: skip


def test_iam_operations_need_iam_permissions(server: LiveServer) -> None:
    user, keys = new_user(server, allow("iam:GetUser"))
    done = as_user(server, keys, "iam", "create-user", "--user-name", unique("other"))
    assert done.returncode != 0
    assert "(AccessDenied) when calling the CreateUser operation" in done.stderr
    with pytest.raises(ClientError) as raised:
        server.client("iam", keys=keys).create_user(UserName=unique("other"))
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert raised.value.response["Error"]["Message"].startswith(
        f"User: {user_arn(user)} is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/"
    )
    assert as_user(server, keys, "iam", "get-user", "--user-name", user).returncode == 0
    assert as_user(server, keys, "sts", "get-caller-identity").returncode == 0  # never needs a permission


def test_lambda_access_denied_is_a_403(server: LiveServer) -> None:
    user, keys = new_user(server)
    function = unique("fn")
    with pytest.raises(ClientError) as raised:
        server.client("lambda", keys=keys).get_function(FunctionName=function)
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"
    assert_error(raised, "AccessDeniedException", not_identity_allowed(user, "lambda:GetFunction", arn), 403)


# -- AWS's "minimum permissions" to enable rotation for another database or service, with the CLI -----------------
# (Secrets Manager User Guide, "Enabling rotation for a secret for another database or service": lambda:CreateFunction,
# lambda:InvokeFunction, secretsmanager:DescribeSecret, secretsmanager:RotateSecret). Lambda's CreateFunction with an
# execution role also needs iam:PassRole on it (Lambda Developer Guide, execution role), which that list leaves out.
MINIMUM = ("lambda:CreateFunction", "iam:PassRole", "lambda:InvokeFunction",
           "secretsmanager:DescribeSecret", "secretsmanager:RotateSecret")  # fmt: skip


@pytest.fixture(scope="module")
def rotation_role(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    trust = tmp_path_factory.mktemp("role") / "trust.json"
    trust.write_text(json.dumps(TRUST_LAMBDA))
    role = server.aws("iam", "create-role", "--role-name", unique("rotation"),
                      "--assume-role-policy-document", f"file://{trust}")["Role"]["Arn"]  # fmt: skip
    return str(role)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("package") / "rotation.zip"
    path.write_bytes(zip_of("generic_rotation.py"))
    return path


@pytest.mark.parametrize("missing", [None, *MINIMUM])
def test_minimum_permissions_to_enable_rotation(server: LiveServer, sm: Any, name: str, rotation_role: str,
                                                package: Path, missing: str | None) -> None:  # fmt: skip
    _, keys = new_user(server, allow([a for a in MINIMUM if a != missing]))
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "initial"}))
    function = unique("rotate")
    steps = [
        (("lambda:CreateFunction", "iam:PassRole"), ("lambda", "create-function", "--function-name", function,
         "--runtime", "python3.12", "--handler", "lambda_function.lambda_handler", "--role", rotation_role,
         "--zip-file", f"fileb://{package}")),
        (("secretsmanager:DescribeSecret",), ("secretsmanager", "describe-secret", "--secret-id", name)),
        (("secretsmanager:RotateSecret", "lambda:InvokeFunction"), ("secretsmanager", "rotate-secret",
         "--secret-id", name, "--rotation-lambda-arn", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}",
         "--rotation-rules", '{"ScheduleExpression": "rate(10 days)"}', "--no-rotate-immediately")),
    ]  # fmt: skip
    for needs, command in steps:
        if command[1] == "rotate-secret":  # the walkthrough's add-permission, by the administrator
            server.aws("lambda", "add-permission", "--function-name", function, "--action", "lambda:InvokeFunction",
                       "--statement-id", "SecretsManager", "--principal", "secretsmanager.amazonaws.com",
                       "--source-account", ACCOUNT)  # fmt: skip
        done = as_user(server, keys, *command)
        if missing in needs:
            assert done.returncode != 0
            assert "(AccessDeniedException) when calling" in done.stderr, done.stderr
            assert f"is not authorized to perform: {missing}" in done.stderr, done.stderr
            return
        assert done.returncode == 0, done.stderr
    assert missing is None
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is True


def test_audit_mode_allows_and_logs(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data", extra_args=["--authorization", "audit"]).start()
    try:
        live.client().create_secret(Name="audited", SecretString="audited-value")
        user, keys = new_user(live)
        assert live.client(keys=keys).get_secret_value(SecretId="audited")["SecretString"] == "audited-value"
        [entry] = audit_lines(live)
        assert entry["mode"] == "audit"
        assert entry["principal"] == user_arn(user)
        assert entry["action"] == "secretsmanager:GetSecretValue"
        assert entry["resource"].startswith(f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:audited-")
        assert (entry["reason"], entry["policy_type"]) == ("implicit_deny", "identity-based policy")
        assert "audited-value" not in (live.data_dir / "audit.log").read_text()
    finally:
        live.stop()


def test_authorization_off_decides_nothing(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data", env={"TUMBLER_AUTHORIZATION": "off"}).start()
    try:
        live.client().create_secret(Name="open", SecretString="v")
        _, keys = new_user(live)
        assert live.client(keys=keys).get_secret_value(SecretId="open")["SecretString"] == "v"
        assert audit_lines(live) == []
    finally:
        live.stop()
