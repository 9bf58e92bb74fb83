"""Functions run as their execution role: Lambda must be able to assume it, and the function calls back with a
session of it (session name = the function name), renewed before it expires; built-in rotators act as a role too.

Live server, real out-of-process functions, boto3 and the AWS CLI; PostgreSQL is a private scram cluster.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import ACCOUNT
from tests.api.rotation_helpers import allow_secrets_manager, current_is, execution_role, iam_beside, wait_for, zip_of
from tests.api.test_rotation import history, settled
from tests.conftest import LiveServer
from tests.dbs import SUPERUSER_PASSWORD, PrivatePostgres

CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."
WHOAMI = """\
import json, os, subprocess

import boto3


def lambda_handler(event, context):
    env = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
    cli = None
    if event.get("cli"):
        done = subprocess.run(["aws", "sts", "get-caller-identity", "--output", "json"], capture_output=True, text=True)
        cli = json.loads(done.stdout)["Arn"] if done.returncode == 0 else done.stderr
    return {**env, "pid": os.getpid(), "arn": boto3.client("sts").get_caller_identity()["Arn"], "cli": cli}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def package(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", source)
    return buffer.getvalue()


def whoami_function(lam: Any, role_arn: str) -> str:
    name = unique("whoami")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": package(WHOAMI)}, Timeout=30,
    )  # fmt: skip
    return name


def invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    body: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def role_with_policy(client: Any, statements: list[dict[str, Any]]) -> tuple[str, str]:
    """A new role that trusts Lambda, with one inline policy of ``statements``: (name, ARN)."""
    name = unique("role")
    arn = execution_role(client, name, policy_arn=None)
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam_beside(client).put_role_policy(RoleName=name, PolicyName="rotation", PolicyDocument=document)
    return name, arn


def rotation_statements(secret_arn: str, *actions: str) -> list[dict[str, Any]]:
    """AWS's "Permissions for rotation" execution-role example for one secret, with ``actions`` on it."""
    return [
        {"Effect": "Allow", "Action": [f"secretsmanager:{a}" for a in actions], "Resource": secret_arn},
        {"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"},
    ]


ROTATION = ("DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage")


@pytest.fixture(scope="module")
def lam(server: LiveServer) -> Any:
    return server.client("lambda")


# -- the function's identity ----------------------------------------------------------------------------
def test_a_function_calls_back_as_a_session_of_its_role(server: LiveServer, lam: Any) -> None:
    role = unique("exec")
    fn = whoami_function(lam, execution_role(lam, role))
    body = invoke(lam, fn, {"cli": True})
    assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{fn}"
    assert body["arn"] == body["cli"] == assumed  # boto3 and `aws sts get-caller-identity`, inside the function
    assert body["AWS_ACCESS_KEY_ID"].startswith("ASIA")  # temporary credentials, not the admin's key
    assert body["AWS_ACCESS_KEY_ID"] != server.keys[0]
    assert body["AWS_SECRET_ACCESS_KEY"]
    assert body["AWS_SESSION_TOKEN"]
    assert not (server.data_dir / "function-credentials").exists()  # no root-equivalent function key any more


def test_credentials_stay_while_far_from_expiry(lam: Any) -> None:
    fn = whoami_function(lam, execution_role(lam))
    first, second = invoke(lam, fn), invoke(lam, fn)
    assert first["pid"] == second["pid"]  # one warm worker
    assert first["AWS_ACCESS_KEY_ID"] == second["AWS_ACCESS_KEY_ID"]


@pytest.fixture(scope="module")
def short_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose function sessions last 30 s: less than a timeout plus the renewal margin, so every
    invocation starts with credentials renewed, as one near expiry would be."""
    env = {"TUMBLER_FUNCTION_SESSION_SECONDS": "30"}
    live = LiveServer(tmp_path_factory.mktemp("short") / "data", env=env).start()
    yield live
    live.stop()


def test_a_warm_function_gets_renewed_credentials_near_expiry(short_sessions: LiveServer) -> None:
    lam = short_sessions.client("lambda")
    role = unique("exec")
    fn = whoami_function(lam, execution_role(lam, role))
    first, second = invoke(lam, fn), invoke(lam, fn)
    assert first["pid"] == second["pid"]  # the same warm process...
    assert first["AWS_ACCESS_KEY_ID"] != second["AWS_ACCESS_KEY_ID"]  # ...with a new session
    assert first["AWS_SESSION_TOKEN"] != second["AWS_SESSION_TOKEN"]
    assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{fn}"
    assert first["arn"] == second["arn"] == assumed  # each set signs requests that are accepted


# -- the role must exist and trust Lambda ------------------------------------------------------------------
def assert_cannot_assume(raised: pytest.ExceptionInfo[ClientError]) -> None:
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidParameterValueException", CANNOT_ASSUME)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_create_function_refuses_a_role_lambda_cannot_assume(server: LiveServer, lam: Any) -> None:
    iam = iam_beside(lam)
    ec2_trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    other = iam.create_role(RoleName=unique("ec2"), AssumeRolePolicyDocument=ec2_trust)["Role"]["Arn"]
    missing = f"arn:aws:iam::{ACCOUNT}:role/{unique('missing')}"
    for role in (missing, other):
        name = unique("refused")
        with pytest.raises(ClientError) as raised:
            lam.create_function(
                FunctionName=name, Runtime="python3.12", Role=role, Handler="lambda_function.lambda_handler",
                Code={"ZipFile": package(WHOAMI)},
            )  # fmt: skip
        assert_cannot_assume(raised)
        with pytest.raises(ClientError) as gone:
            lam.get_function(FunctionName=name)
        assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    archive = server.data_dir.parent / "whoami.zip"
    archive.write_bytes(package(WHOAMI))
    done = server.aws(
        "lambda", "create-function", "--function-name", unique("cli"), "--runtime", "python3.12",
        "--handler", "lambda_function.lambda_handler", "--zip-file", f"fileb://{archive}", "--role", other,
        check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"(InvalidParameterValueException) when calling the CreateFunction operation: {CANNOT_ASSUME}" in done.stderr


def test_update_function_configuration_refuses_such_a_role_and_changes_nothing(lam: Any) -> None:
    role = execution_role(lam)
    fn = whoami_function(lam, role)
    with pytest.raises(ClientError) as raised:
        lam.update_function_configuration(FunctionName=fn, Role=f"arn:aws:iam::{ACCOUNT}:role/{unique('missing')}")
    assert_cannot_assume(raised)
    assert lam.get_function_configuration(FunctionName=fn)["Role"] == role
    other = execution_role(lam, unique("exec"))
    assert lam.update_function_configuration(FunctionName=fn, Role=other)["Role"] == other
    assert invoke(lam, fn)["arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{other.rsplit('/', 1)[1]}/")


# -- built-ins as a function of one's own ------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres.running() as cluster:
        yield cluster


def pg_user(cluster: PrivatePostgres, password: str) -> str:
    user = f"tmb_{uuid.uuid4().hex[:10]}"
    with cluster.connect() as conn:
        conn.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")  # our own literal: no value from outside
    return user


def can_login(cluster: PrivatePostgres, user: str, password: str) -> bool:
    try:
        with cluster.connect(user, password):
            return True
    except psycopg.OperationalError:
        return False


def pg_secret(sm: Any, cluster: PrivatePostgres, user: str, password: str, **extra: str) -> str:
    value = {"engine": "postgres", "host": "127.0.0.1", "port": cluster.port, "username": user,
             "password": password, "dbname": "postgres", **extra}  # fmt: skip
    return str(sm.create_secret(Name=unique("pg/app"), SecretString=json.dumps(value))["ARN"])


def builtin_function(server: LiveServer, role_arn: str, handler: str = "tumbler.builtin.postgresql-single-user") -> str:
    """The documented form: a function of one's own whose handler names a built-in, with no package."""
    name = unique("my-pg-rotator")
    created = server.aws(
        "lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
        "--handler", handler, "--role", role_arn, "--code", "{}",
    )  # fmt: skip
    assert (created["Handler"], created["CodeSize"]) == (handler, 0)
    server.aws(
        "lambda", "add-permission", "--function-name", name, "--action", "lambda:InvokeFunction",
        "--statement-id", "SecretsManager", "--principal", "secretsmanager.amazonaws.com", "--source-account", ACCOUNT,
    )  # fmt: skip
    return name


def test_a_builtin_with_its_own_role_rotates_a_postgresql_user(
    server: LiveServer, sm: Any, lam: Any, postgres: PrivatePostgres
) -> None:
    user = pg_user(postgres, "Initial-pw-0123456789")
    secret = pg_secret(sm, postgres, user, "Initial-pw-0123456789")
    _, role = role_with_policy(lam, rotation_statements(secret, *ROTATION))
    fn = builtin_function(server, role)
    function_arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    token = sm.rotate_secret(SecretId=secret, RotationLambdaARN=function_arn)["VersionId"]
    wait_for(lambda: current_is(sm, secret, token), timeout=60)
    password = json.loads(sm.get_secret_value(SecretId=secret)["SecretString"])["password"]
    assert can_login(postgres, user, password)
    assert not can_login(postgres, user, "Initial-pw-0123456789")
    logs = list((server.data_dir / "logs" / fn).glob("*.log"))
    assert len(logs) == 4  # one per step, kept like any function's
    assert all(password not in log.read_text() for log in logs)


def test_a_builtin_handler_must_name_a_builtin(lam: Any) -> None:
    with pytest.raises(ClientError) as raised:
        lam.create_function(
            FunctionName=unique("nope"), Runtime="python3.12", Role=execution_role(lam),
            Handler="tumbler.builtin.oracle-single-user", Code={},
        )  # fmt: skip
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert "tumbler.builtin.postgresql-single-user" in error["Message"]


# -- what only the role's policy allows (needs enforcement) ---------------------------------------------------
def failure_of(server: LiveServer, secret: str) -> dict[str, Any]:
    """The settled rotation: its state, the step whose error is shown, and that error."""
    record = wait_for(lambda: settled(server, secret), timeout=60)
    return {**record, "step": record["steps"][record["step_index"]], "error": record["last_error"]}


def test_a_role_without_put_secret_value_fails_create_secret(server: LiveServer, sm: Any, lam: Any) -> None:
    secret = str(sm.create_secret(Name=unique("denied"), SecretString=json.dumps({"password": "initial"}))["ARN"])
    _, role = role_with_policy(lam, rotation_statements(secret, "DescribeSecret", "GetSecretValue",
                                                        "UpdateSecretVersionStage"))  # fmt: skip
    fn = unique("no-put")
    lam.create_function(
        FunctionName=fn, Runtime="python3.12", Role=role, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_of("generic_rotation.py")}, Timeout=30,
    )  # fmt: skip
    allow_secrets_manager(lam, fn)
    sm.rotate_secret(SecretId=secret, RotationLambdaARN=fn)
    failed = failure_of(server, secret)
    assert (failed["state"], failed["step"]) == ("failed", "createSecret")
    assert "AccessDeniedException" in failed["error"]
    assert "secretsmanager:PutSecretValue" in failed["error"]
    logs = "".join(log.read_text() for log in (server.data_dir / "logs" / fn).glob("*.log"))
    assert "AccessDeniedException" in logs
    assert history(server, secret)[0]["state"] == "failed"


def test_a_builtin_cannot_use_a_superuser_secret_its_role_cannot_read(
    server: LiveServer, sm: Any, lam: Any, postgres: PrivatePostgres
) -> None:
    superuser = {"engine": "postgres", "host": "127.0.0.1", "port": postgres.port, "username": postgres.superuser,
                 "password": SUPERUSER_PASSWORD, "dbname": "postgres"}  # fmt: skip
    master = str(sm.create_secret(Name=unique("pg/master"), SecretString=json.dumps(superuser))["ARN"])
    user = pg_user(postgres, "Initial-pw-0123456789")
    secret = pg_secret(sm, postgres, user, "Initial-pw-0123456789", masterarn=master)
    _, role = role_with_policy(lam, rotation_statements(secret, *ROTATION))  # the app's secret only
    fn = builtin_function(server, role)
    sm.rotate_secret(SecretId=secret, RotationLambdaARN=fn)
    failed = failure_of(server, secret)
    assert (failed["state"], failed["step"]) == ("failed", "setSecret")
    assert "AccessDeniedException" in failed["error"]
    assert master in failed["error"]
    assert can_login(postgres, user, "Initial-pw-0123456789")  # nothing was changed with the superuser's login


def test_the_default_role_of_the_builtins_exists(lam: Any) -> None:
    role = iam_beside(lam).get_role(RoleName="tumbler-builtin-rotation")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
