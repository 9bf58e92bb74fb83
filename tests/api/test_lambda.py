"""The Lambda API subset on the live server: functions, Invoke, permissions, errors, the AWS CLI.

Expected behaviour is AWS Lambda's: botocore's model for operations, members and statuses, and
AWS's own responses (LocalStack's AWS-recorded snapshots, users' reports of real errors) for
field formats and error messages.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import ACCOUNT, assert_error
from tests.api.rotation_helpers import execution_role
from tests.conftest import LiveServer
from tumbler.adapters.runner.host import FunctionHost
from tumbler.core.errors import NotFound
from tumbler.ports.runner import Execution, FunctionRunner, FunctionSpec, InvokeRequest, InvokeResult
from tumbler.ports.secrets_client import SecretsClients
from tumbler.ports.store import FunctionRecord, Store

ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
HANDLER = "lambda_function.lambda_handler"
LAST_MODIFIED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."

ECHO = """\
import os

def lambda_handler(event, context):
    print("echo handler got an event")
    return {
        "event": event,
        "function_name": context.function_name,
        "version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "region": os.environ["AWS_REGION"],
        "greeting": os.environ.get("GREETING"),
        "endpoint": os.environ.get("SECRETS_MANAGER_ENDPOINT"),
    }
"""
ECHO_V2 = 'def lambda_handler(event, context):\n    return {"v": 2}\n'
RAISES = 'def lambda_handler(event, context):\n    raise ValueError("boom " + str(event.get("n")))\n'
SLEEPS = 'import time\n\ndef lambda_handler(event, context):\n    time.sleep(5)\n    return "late"\n'
# Calls Tumbler back: reads a secret (answering only its digest) or creates one.
CALLBACK = """\
import hashlib
import os

import boto3

def lambda_handler(event, context):
    sm = boto3.client("secretsmanager", endpoint_url=os.environ["SECRETS_MANAGER_ENDPOINT"])
    if "Create" in event:
        sm.create_secret(Name=event["Create"], SecretString="made by a function")
        return {"created": event["Create"]}
    value = sm.get_secret_value(SecretId=event["SecretId"])["SecretString"]
    return {"sha256": hashlib.sha256(value.encode()).hexdigest()}
"""


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def fn_arn(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


def not_found(name: str, region: str = "us-east-1") -> str:
    return f"Function not found: {fn_arn(name, region)}"


@pytest.fixture(scope="module")
def lam(server: LiveServer) -> Any:
    client = server.client("lambda")
    execution_role(client, ROLE.rsplit("/", 1)[1])  # ROLE exists and trusts Lambda
    return client


@pytest.fixture
def fname() -> str:
    return f"fn-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make(lam: Any) -> Callable[..., dict[str, Any]]:
    """Create a function from source text (the handler module), with overridable settings."""

    def create(name: str, source: str = ECHO, **settings: Any) -> dict[str, Any]:
        request = {"Runtime": "python3.12", "Handler": HANDLER, "Role": ROLE, **settings}
        created: dict[str, Any] = lam.create_function(
            FunctionName=name, Code={"ZipFile": package({"lambda_function.py": source})}, **request
        )
        return created

    return create


def invoke_json(lam: Any, name: str, event: Any, **kw: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kw)
    return response, json.loads(response["Payload"].read())


# --- CreateFunction, GetFunction, GetFunctionConfiguration ------------------------------------


def test_create_function_returns_lambdas_configuration(lam: Any, fname: str) -> None:
    code = package({"lambda_function.py": ECHO})
    created = lam.create_function(
        FunctionName=fname, Runtime="python3.12", Handler=HANDLER, Role=ROLE, Code={"ZipFile": code}
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    expected = {
        "FunctionName": fname,
        "FunctionArn": fn_arn(fname),
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": HANDLER,
        "CodeSize": len(code),
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "CodeSha256": sha256_b64(code),
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fname}"},
    }
    assert {k: created[k] for k in expected} == expected
    assert LAST_MODIFIED.fullmatch(created["LastModified"])
    assert UUID.fullmatch(created["RevisionId"])
    assert created["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith("arn:aws:lambda:us-east-1::runtime:")
    assert "Environment" not in created  # only a function given variables has the member


def test_get_function_has_configuration_code_and_tags(
    lam: Any, make: Callable[..., dict[str, Any]], fname: str
) -> None:
    created = make(fname, Tags={"team": "secrets"}, Environment={"Variables": {"GREETING": "hi"}})
    got = lam.get_function(FunctionName=fname)
    configuration = lam.get_function_configuration(FunctionName=fname)
    configuration.pop("ResponseMetadata")
    created.pop("ResponseMetadata")
    assert got["Configuration"] == configuration == created
    assert got["Configuration"]["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert got["Code"]["RepositoryType"] == "S3"
    assert got["Code"]["Location"]
    assert got["Tags"] == {"team": "secrets"}


def test_get_function_without_tags_has_no_tags_member(
    lam: Any, make: Callable[..., dict[str, Any]], fname: str
) -> None:
    make(fname)
    assert "Tags" not in lam.get_function(FunctionName=fname)


def test_function_name_may_be_an_arn_a_partial_arn_or_qualified_latest(
    lam: Any, make: Callable[..., dict[str, Any]], fname: str
) -> None:
    make(fname)
    for identifier in (fn_arn(fname), f"{ACCOUNT}:function:{fname}", f"{fname}:$LATEST", f"{fn_arn(fname)}:$LATEST"):
        assert lam.get_function_configuration(FunctionName=identifier)["FunctionName"] == fname
    assert lam.get_function(FunctionName=fname, Qualifier="$LATEST")["Configuration"]["FunctionName"] == fname


def test_unknown_qualifier_or_other_region_is_not_found(
    lam: Any, make: Callable[..., dict[str, Any]], fname: str
) -> None:
    make(fname)
    with pytest.raises(ClientError) as raised:
        lam.get_function(FunctionName=f"{fname}:prod")
    assert_error(raised, "ResourceNotFoundException", f"{not_found(fname)}:prod", 404)
    with pytest.raises(ClientError) as raised:
        lam.get_function(FunctionName=fn_arn(fname, "eu-west-1"))
    assert_error(raised, "ResourceNotFoundException", not_found(fname, "eu-west-1"), 404)
    with pytest.raises(ClientError) as raised:
        lam.get_function(FunctionName=f"{fname}:prod", Qualifier="dev")
    assert_error(
        raised,
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
    )


def test_create_twice_is_a_conflict(make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname)
    with pytest.raises(ClientError) as raised:
        make(fname)
    assert_error(raised, "ResourceConflictException", f"Function already exist: {fname}", 409)


def test_missing_function_is_not_found_everywhere(lam: Any, fname: str) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: lam.get_function(FunctionName=fname),
        lambda: lam.get_function_configuration(FunctionName=fname),
        lambda: lam.update_function_code(FunctionName=fname, ZipFile=package({"a.py": ""})),
        lambda: lam.update_function_configuration(FunctionName=fname, Timeout=5),
        lambda: lam.delete_function(FunctionName=fname),
        lambda: lam.invoke(FunctionName=fname, Payload=b"{}"),
        lambda: lam.get_policy(FunctionName=fname),
        lambda: lam.add_permission(FunctionName=fname, StatementId="s", Action="lambda:InvokeFunction", Principal="*"),
        lambda: lam.remove_permission(FunctionName=fname, StatementId="s"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as raised:
            call()
        assert_error(raised, "ResourceNotFoundException", not_found(fname), 404)


NON_PYTHON = (
    "The runtime parameter of {} is no longer supported for creating or updating AWS Lambda functions. "
    "We recommend you use a supported runtime while creating or updating functions."
)


@pytest.mark.parametrize(
    ("settings", "code", "error", "message"),
    [
        ({"Runtime": "nodejs20.x"}, None, "InvalidParameterValueException", NON_PYTHON.format("nodejs20.x")),
        ({"Runtime": "python3.7"}, None, "InvalidParameterValueException", NON_PYTHON.format("python3.7")),
        ({"Runtime": None}, None, "InvalidParameterValueException", None),
        ({}, b"this is not a zip", "InvalidParameterValueException", BAD_ZIP),
        ({}, b"", "InvalidParameterValueException", "Uploaded file must be a non-empty zip"),
        ({}, package({"../escape.py": "x = 1"}), "InvalidParameterValueException", BAD_ZIP),
        (
            {"Timeout": 901},
            None,
            "ValidationException",
            "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
            "Member must have value less than or equal to 900",
        ),
        (
            {"Environment": {"Variables": {"OK": "1", "AWS_REGION": "x", "AWS_ACCESS_KEY_ID": "y"}}},
            None,
            "InvalidParameterValueException",
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. "
            "Reserved keys used in this request: AWS_REGION, AWS_ACCESS_KEY_ID",
        ),
    ],
    ids=["nodejs", "deprecated-python", "no-runtime", "not-a-zip", "empty", "zip-slip", "timeout", "reserved-env"],
)
def test_create_rejects_what_lambda_rejects(
    lam: Any, fname: str, settings: dict[str, Any], code: bytes | None, error: str, message: str | None
) -> None:
    request = {"Runtime": "python3.12", "Handler": HANDLER, "Role": ROLE, **settings}
    request = {k: v for k, v in request.items() if v is not None}
    zipped = package({"lambda_function.py": ECHO}) if code is None else code
    with pytest.raises(ClientError) as raised:
        lam.create_function(FunctionName=fname, Code={"ZipFile": zipped}, **request)
    expected = message or "Runtime and Handler are mandatory parameters for functions created with deployment packages."
    assert_error(raised, error, expected, 400)
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=fname)  # nothing was created


# --- ListFunctions -------------------------------------------------------------------------------


def test_list_functions_pages_with_marker(server: LiveServer) -> None:
    region = "ap-southeast-2"  # a region no other test uses: the listing is ours plus the built-ins
    regional = server.client("lambda", region=region)
    names = sorted(f"list-{uuid.uuid4().hex[:8]}" for _ in range(3))
    for name in names:
        regional.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Handler=HANDLER,
            Role=ROLE,
            Code={"ZipFile": package({"lambda_function.py": ECHO})},
        )
    first = regional.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == names[:2]
    assert first["NextMarker"]
    second = regional.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert second["Functions"][0]["FunctionName"] == names[2]
    assert second["Functions"][1]["FunctionName"].startswith("tumbler-")  # built-ins sort after "list-"
    listed = first["Functions"][0]
    assert listed["FunctionArn"] == fn_arn(names[0], region)
    # ListFunctions leaves these out (AWS: "use GetFunction" for them).
    assert not {"State", "LastUpdateStatus", "RuntimeVersionConfig"} & set(listed)
    paginated = [f["FunctionName"] for p in regional.get_paginator("list_functions").paginate() for f in p["Functions"]]
    assert [n for n in paginated if not n.startswith("tumbler-")] == names
    assert len([n for n in paginated if n.startswith("tumbler-")]) == 6


# --- UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction -------------------------------


def test_update_function_code_runs_the_new_code(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    created = make(fname)
    invoke_json(lam, fname, {})  # warm the old code
    code = package({"lambda_function.py": ECHO_V2})
    updated = lam.update_function_code(FunctionName=fname, ZipFile=code)
    assert updated["CodeSha256"] == sha256_b64(code) != created["CodeSha256"]
    assert updated["CodeSize"] == len(code)
    assert updated["RevisionId"] != created["RevisionId"]
    assert invoke_json(lam, fname, {})[1] == {"v": 2}
    with pytest.raises(ClientError) as raised:
        lam.update_function_code(FunctionName=fname, ZipFile=b"PK-not-really")
    assert_error(raised, "InvalidParameterValueException", BAD_ZIP)


def test_update_function_code_dry_run_changes_nothing(
    lam: Any, make: Callable[..., dict[str, Any]], fname: str
) -> None:
    created = make(fname)
    code = package({"lambda_function.py": ECHO_V2})
    checked = lam.update_function_code(FunctionName=fname, ZipFile=code, DryRun=True)
    assert checked["CodeSha256"] == sha256_b64(code)
    assert lam.get_function_configuration(FunctionName=fname)["CodeSha256"] == created["CodeSha256"]


def test_update_function_configuration(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    created = make(fname)
    updated = lam.update_function_configuration(
        FunctionName=fname,
        Description="now with a greeting",
        Timeout=30,
        MemorySize=256,
        Environment={"Variables": {"GREETING": "hello"}},
    )
    assert (updated["Description"], updated["Timeout"], updated["MemorySize"]) == ("now with a greeting", 30, 256)
    assert updated["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert updated["RevisionId"] != created["RevisionId"]
    assert updated["CodeSha256"] == created["CodeSha256"]
    got = lam.get_function_configuration(FunctionName=fname)
    assert (got["Timeout"], got["RevisionId"]) == (30, updated["RevisionId"])
    body = invoke_json(lam, fname, {})[1]
    assert (body["greeting"], body["memory"]) == ("hello", "256")


def test_stale_revision_id_is_a_failed_precondition(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    created = make(fname)
    lam.update_function_configuration(FunctionName=fname, RevisionId=created["RevisionId"], Timeout=4)
    with pytest.raises(ClientError) as raised:
        lam.update_function_configuration(FunctionName=fname, RevisionId=created["RevisionId"], Timeout=5)
    assert_error(
        raised,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        412,
    )


def test_delete_function(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname)
    deleted = lam.delete_function(FunctionName=fname)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as raised:
        lam.get_function(FunctionName=fname)
    assert_error(raised, "ResourceNotFoundException", not_found(fname), 404)
    with pytest.raises(ClientError) as raised:
        lam.delete_function(FunctionName=fname)
    assert_error(raised, "ResourceNotFoundException", not_found(fname), 404)


# --- Invoke --------------------------------------------------------------------------------------


def test_invoke_request_response_round_trips_the_payload(
    lam: Any, make: Callable[..., dict[str, Any]], fname: str, server: LiveServer
) -> None:
    make(fname, Environment={"Variables": {"GREETING": "hi"}})
    event = {"a": 1, "nested": {"list": [1, "two", None]}, "text": "h\u00e9llo"}
    response, body = invoke_json(lam, fname, event)
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert "LogResult" not in response  # only with LogType=Tail
    assert body == {
        "event": event,
        "function_name": fname,
        "version": "$LATEST",
        "memory": "128",
        "region": "us-east-1",
        "greeting": "hi",
        "endpoint": server.endpoint,
    }


def test_invoke_without_payload_sends_an_empty_object(
    lam: Any, make: Callable[..., dict[str, Any]], fname: str
) -> None:
    make(fname)
    response = lam.invoke(FunctionName=fname)
    assert json.loads(response["Payload"].read())["event"] == {}


def test_invoke_reports_a_function_error(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname, RAISES)
    response, body = invoke_json(lam, fname, {"n": 7})
    assert response["StatusCode"] == 200  # the call worked; the function failed
    assert response["FunctionError"] == "Unhandled"
    assert body["errorMessage"] == "boom 7"
    assert body["errorType"] == "ValueError"
    assert isinstance(body["stackTrace"], list)


def test_invoke_timeout_is_a_function_error(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname, SLEEPS, Timeout=1)
    response, body = invoke_json(lam, fname, {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")


def test_invoke_log_tail_is_the_base64_end_of_the_log(
    lam: Any, make: Callable[..., dict[str, Any]], fname: str
) -> None:
    make(fname)
    response, _ = invoke_json(lam, fname, {}, LogType="Tail")
    log = base64.b64decode(response["LogResult"])
    assert len(log) <= 4096
    text = log.decode()
    assert "echo handler got an event" in text
    assert re.search(r"^START RequestId: \S+ Version: \$LATEST$", text, re.MULTILINE)
    assert re.search(r"^REPORT RequestId: \S+\tDuration: [\d.]+ ms", text, re.MULTILINE)


def test_invoke_log_tail_keeps_only_the_last_4_kb(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    noisy = 'def lambda_handler(event, context):\n    print("x" * 10000)\n    print("the end")\n    return 1\n'
    make(fname, noisy)
    response, _ = invoke_json(lam, fname, {}, LogType="Tail")
    log = base64.b64decode(response["LogResult"])
    assert len(log) == 4096
    assert b"the end" in log
    assert b"START RequestId" not in log  # cut off with the start of the log


def test_invoke_event_answers_202_and_runs_in_the_background(
    lam: Any, sm: Any, make: Callable[..., dict[str, Any]], fname: str
) -> None:
    make(fname, CALLBACK, Timeout=30)
    secret = f"lambda/event-{uuid.uuid4().hex[:12]}"
    response = lam.invoke(FunctionName=fname, InvocationType="Event", Payload=json.dumps({"Create": secret}))
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    deadline = time.monotonic() + 30
    while True:  # the function creates the secret once it has run
        try:
            assert sm.describe_secret(SecretId=secret)["Name"] == secret
            return
        except ClientError:
            assert time.monotonic() < deadline, "the Event invocation never ran"
            time.sleep(0.2)


def test_invoke_dry_run_answers_204(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname)
    response = lam.invoke(FunctionName=fname, InvocationType="DryRun")
    assert response["StatusCode"] == 204
    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName=fname + "-missing", InvocationType="DryRun")
    assert_error(raised, "ResourceNotFoundException", not_found(fname + "-missing"), 404)


def test_invoke_payload_must_be_json(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname)
    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName=fname, Payload=b"{not json")
    message = assert_error(raised, "InvalidRequestContentException", None, 400)
    assert message.startswith("Could not parse request body into json: Could not parse payload into json: ")


CLIENT_CONTEXT = "Client context must be a valid Base64-encoded JSON object."


@pytest.mark.parametrize("context", ["not base64!", base64.b64encode(b"not json").decode(), "WzFd"])
def test_invoke_client_context_must_be_base64_json(
    lam: Any, make: Callable[..., dict[str, Any]], fname: str, context: str
) -> None:
    make(fname)
    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName=fname, ClientContext=context, Payload=b"{}")
    assert_error(raised, "InvalidRequestContentException", CLIENT_CONTEXT, 400)
    good = base64.b64encode(b'{"custom": {"k": "v"}}').decode()
    assert lam.invoke(FunctionName=fname, ClientContext=good)["StatusCode"] == 200


def test_invoke_payload_over_6_mb_is_refused(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname)
    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName=fname, Payload=json.dumps({"big": "x" * 6_300_000}).encode())
    assert_error(
        raised,
        "RequestEntityTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
        413,
    )


def test_function_calls_secrets_manager_back(
    lam: Any, sm: Any, make: Callable[..., dict[str, Any]], fname: str
) -> None:
    secret_name = f"lambda/callback-{uuid.uuid4().hex[:12]}"
    value = f"s3cret-{uuid.uuid4().hex}"
    sm.create_secret(Name=secret_name, SecretString=value)
    make(fname, CALLBACK, Timeout=30)
    response, body = invoke_json(lam, fname, {"SecretId": secret_name})
    assert "FunctionError" not in response, body
    assert body == {"sha256": hashlib.sha256(value.encode()).hexdigest()}


# --- AddPermission, RemovePermission, GetPolicy ---------------------------------------------------


def test_permissions_lifecycle(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname)
    with pytest.raises(ClientError) as raised:
        lam.get_policy(FunctionName=fname)
    assert_error(raised, "ResourceNotFoundException", "The resource you requested does not exist.", 404)

    source = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:x-AbCdEf"
    added = lam.add_permission(
        FunctionName=fname,
        StatementId="sm",
        Action="lambda:InvokeFunction",
        Principal="secretsmanager.amazonaws.com",
        SourceArn=source,
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = {
        "Sid": "sm",
        "Effect": "Allow",
        "Principal": {"Service": "secretsmanager.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": fn_arn(fname),
        "Condition": {"ArnLike": {"AWS:SourceArn": source}},
    }
    assert json.loads(added["Statement"]) == statement
    lam.add_permission(FunctionName=fname, StatementId="acct", Action="lambda:*", Principal=ACCOUNT)

    policy = lam.get_policy(FunctionName=fname)
    document = json.loads(policy["Policy"])
    assert (document["Version"], document["Id"]) == ("2012-10-17", "default")
    assert document["Statement"][0] == statement
    assert document["Statement"][1]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert policy["RevisionId"] == lam.get_function_configuration(FunctionName=fname)["RevisionId"]

    removed = lam.remove_permission(FunctionName=fname, StatementId="sm")
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [s["Sid"] for s in json.loads(lam.get_policy(FunctionName=fname)["Policy"])["Statement"]] == ["acct"]
    with pytest.raises(ClientError) as raised:
        lam.remove_permission(FunctionName=fname, StatementId="sm")
    assert_error(raised, "ResourceNotFoundException", "Statement sm is not found in resource policy.", 404)

    lam.remove_permission(FunctionName=fname, StatementId="acct")  # the last one: the policy goes
    with pytest.raises(ClientError) as raised:
        lam.get_policy(FunctionName=fname)
    assert_error(raised, "ResourceNotFoundException", "The resource you requested does not exist.", 404)
    with pytest.raises(ClientError) as raised:
        lam.remove_permission(FunctionName=fname, StatementId="acct")
    assert_error(raised, "ResourceNotFoundException", "No policy is associated with the given resource.", 404)


def test_duplicate_statement_id_is_a_conflict(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname)
    grant = {"FunctionName": fname, "StatementId": "dup", "Action": "lambda:InvokeFunction", "Principal": "*"}
    assert json.loads(lam.add_permission(**grant)["Statement"])["Principal"] == "*"
    with pytest.raises(ClientError) as raised:
        lam.add_permission(**grant)
    assert_error(
        raised,
        "ResourceConflictException",
        "The statement id (dup) provided already exists. Please provide a new statement id, or remove the "
        "existing statement.",
        409,
    )


# --- Routing -------------------------------------------------------------------------------------


def test_modelled_but_unserved_operation_is_unknown(lam: Any, make: Callable[..., dict[str, Any]], fname: str) -> None:
    make(fname)
    with pytest.raises(ClientError) as raised:
        lam.list_aliases(FunctionName=fname)
    assert_error(raised, "UnknownOperationException", None, 404)


def test_secrets_manager_is_untouched_by_lambda_routing(sm: Any) -> None:
    name = f"lambda/sm-{uuid.uuid4().hex[:12]}"
    sm.create_secret(Name=name, SecretString="v")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


# --- The AWS CLI ---------------------------------------------------------------------------------


def test_cli_create_function_and_invoke(server: LiveServer, tmp_path: Path, fname: str) -> None:
    archive = tmp_path / "f.zip"
    archive.write_bytes(package({"lambda_function.py": ECHO}))
    created = server.aws(
        "lambda",
        "create-function",
        "--function-name",
        fname,
        "--runtime",
        "python3.12",
        "--handler",
        HANDLER,
        "--zip-file",
        f"fileb://{archive}",
        "--role",
        ROLE,
    )
    assert (created["FunctionName"], created["State"]) == (fname, "Active")
    out = tmp_path / "out.json"
    invoked = server.aws("lambda", "invoke", "--function-name", fname, "--payload", '{"from": "cli"}', str(out))
    assert invoked == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(out.read_text())["event"] == {"from": "cli"}
    failed = server.aws("lambda", "get-function", "--function-name", fname + "-nope", check=False)
    assert failed.returncode != 0
    assert f"(ResourceNotFoundException) when calling the GetFunction operation: {not_found(fname + '-nope')}" in (
        failed.stderr
    )


# --- FunctionHost: the code cache ----------------------------------------------------------------


class OneFunction:
    """A store holding one function, for the host alone."""

    def __init__(self, record: FunctionRecord) -> None:
        self.record = record

    @contextmanager
    def reader(self) -> Iterator[OneFunction]:
        yield self

    def function(self, region: str, name: str) -> FunctionRecord | None:
        return self.record if (region, name) == (self.record.region, self.record.name) else None


class NoRoles:
    """Execution roles for a host whose functions never call back: no credentials."""

    def credentials(self, execution: Execution) -> Mapping[str, str]:
        return {}

    def secrets_clients(self, execution: Execution) -> SecretsClients:
        raise AssertionError("no built-in runs here")


class Recorder:
    """A runner that only records what it was asked to run."""

    def __init__(self) -> None:
        self.specs: list[FunctionSpec] = []

    def invoke(self, fn: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        self.specs.append(fn)
        return InvokeResult(b"null", None, "", 0.0, False)

    def close(self) -> None:
        pass


def host_for(tmp_path: Path, code: bytes) -> tuple[FunctionHost, Recorder]:
    config = {"Handler": HANDLER, "Runtime": "python3.12", "Timeout": 3, "MemorySize": 128}
    record = FunctionRecord(fn_arn("f"), "f", "us-east-1", {**config, "CodeSha256": sha256_b64(code)}, code)
    runner = Recorder()
    store = cast(Store, OneFunction(record))
    host = FunctionHost(
        store, cast(FunctionRunner, runner), tmp_path / "code", "http://x", NoRoles(), account_id=ACCOUNT
    )
    return host, runner


def test_host_unpacks_a_package_once_into_its_digest_directory(tmp_path: Path) -> None:
    code = package({"lambda_function.py": ECHO, "lib/helper.py": "X = 1"})
    host, runner = host_for(tmp_path, code)
    host.invoke("us-east-1", "f", b"{}")
    host.invoke("us-east-1", fn_arn("f"), b"{}")
    first, second = runner.specs
    assert first.code_dir == second.code_dir == tmp_path / "code" / hashlib.sha256(code).hexdigest()
    assert (first.code_dir / "lib" / "helper.py").read_text() == "X = 1"
    assert [p.name for p in (tmp_path / "code").iterdir()] == [first.code_dir.name]  # no staging left


def test_host_refuses_a_package_escaping_its_directory(tmp_path: Path) -> None:
    host, runner = host_for(tmp_path, package({"../../escaped.py": "X = 1"}))
    with pytest.raises(ValueError, match="outside"):
        host.invoke("us-east-1", "f", b"{}")
    assert not runner.specs
    assert not (tmp_path / "escaped.py").exists()
    assert list((tmp_path / "code").iterdir()) == []


def test_host_not_found_uses_lambdas_message(tmp_path: Path) -> None:
    host, _ = host_for(tmp_path, package({"lambda_function.py": ECHO}))
    with pytest.raises(NotFound, match=re.escape(not_found("other"))):
        host.invoke("us-east-1", "other", b"{}")
