"""parse_json / parse_rest_json against botocore's own serializers: what a client sends, we read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
import pytest
from botocore.serialize import create_serializer
from botocore.validate import ParamValidator

from tumbler.wire import spec
from tumbler.wire.errors import WireError
from tumbler.wire.parse import compile_route, parse_json, parse_rest_json, route

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"
TOKEN = "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"
TOKEN2 = "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
ROLE = "arn:aws:iam::123456789012:role/lambda-exec"
FILTERS = [{"Key": "name", "Values": ["prod", "!test"]}, {"Key": "tag-key", "Values": ["env"]}]

SECRETSMANAGER: dict[str, dict[str, Any]] = {
    "AssociateCrossAccountReplica": {
        "SecretId": ARN, "CrossAccountReplicaARN": ARN, "ReplicaRestriction": "SameOrg", "ReplicationRoleARN": ROLE,
    },
    "BatchGetSecretValue": {"Filters": FILTERS, "MaxResults": 20, "NextToken": "next"},
    "CancelRotateSecret": {"SecretId": ARN},
    "CreateSecret": {
        "Name": "prod/db", "ClientRequestToken": TOKEN, "Description": "the database",
        "KmsKeyId": "alias/aws/secretsmanager", "SecretBinary": b"\x00\xffbinary\n",
        "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "empty", "Value": ""}],
        "AddReplicaRegions": [{"Region": "eu-west-1", "KmsKeyId": "alias/replica"}],
        "ForceOverwriteReplicaSecret": False, "Type": "SalesforceClientSecret",
    },
    "DeleteResourcePolicy": {"SecretId": ARN},
    "DisassociateCrossAccountReplica": {"SecretId": ARN, "CrossAccountReplicaARN": ARN},
    "DeleteSecret": {"SecretId": ARN, "RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": False},
    "DescribeSecret": {"SecretId": ARN},
    "GetRandomPassword": {
        "PasswordLength": 32, "ExcludeCharacters": "\"'\\/@", "ExcludeNumbers": False,
        "ExcludePunctuation": True, "ExcludeUppercase": False, "ExcludeLowercase": False,
        "IncludeSpace": True, "RequireEachIncludedType": True,
    },
    "GetResourcePolicy": {"SecretId": ARN},
    "GetSecretValue": {"SecretId": ARN, "VersionId": TOKEN, "VersionStage": "AWSCURRENT"},
    "ListResourcePolicies": {"SecretId": ARN, "MaxResults": 10, "NextToken": "n"},
    "ListSecretVersionIds": {"SecretId": ARN, "MaxResults": 100, "NextToken": "n", "IncludeDeprecated": True},
    "ListSecrets": {
        "IncludePlannedDeletion": True, "MaxResults": 1, "NextToken": "n", "Filters": FILTERS,
        "SortOrder": "desc", "SortBy": "last-changed-date",
    },
    "PutResourcePolicy": {"SecretId": ARN, "ResourcePolicy": '{"Version":"2012-10-17"}', "BlockPublicPolicy": True},
    "PutSecretValue": {
        "SecretId": ARN, "ClientRequestToken": TOKEN, "SecretString": '{"password":"s3cr3t ünïcode"}',
        "VersionStages": ["AWSPENDING", "custom"], "RotationToken": "a" * 36,
    },
    "RemoveRegionsFromReplication": {"SecretId": ARN, "RemoveReplicaRegions": ["eu-west-1"]},
    "ReplicateSecretToRegions": {
        "SecretId": ARN, "AddReplicaRegions": [{"Region": "eu-west-1"}], "ForceOverwriteReplicaSecret": True,
    },
    "RestoreSecret": {"SecretId": ARN},
    "RotateSecret": {
        "SecretId": ARN, "ClientRequestToken": TOKEN, "RotationLambdaARN": FUNCTION_ARN,
        "RotationRules": {"AutomaticallyAfterDays": 30, "Duration": "3h", "ScheduleExpression": "rate(10 days)"},
        "ExternalSecretRotationMetadata": [{"Key": "k", "Value": "v"}],
        "ExternalSecretRotationRoleArn": ROLE, "RotateImmediately": False,
    },
    "StopReplicationToReplica": {"SecretId": ARN},
    "TagResource": {"SecretId": ARN, "Tags": [{"Key": "a", "Value": "b"}]},
    "UntagResource": {"SecretId": ARN, "TagKeys": ["a", "b"]},
    "UpdateSecret": {
        "SecretId": ARN, "ClientRequestToken": TOKEN, "Description": "", "KmsKeyId": "k", "SecretBinary": b"\x01",
    },
    "UpdateSecretVersionStage": {
        "SecretId": ARN, "VersionStage": "AWSCURRENT", "RemoveFromVersionId": TOKEN, "MoveToVersionId": TOKEN2,
    },
    "ValidateResourcePolicy": {"SecretId": ARN, "ResourcePolicy": "{}"},
}  # fmt: skip

LAMBDA: dict[str, dict[str, Any]] = {
    "CreateFunction": {
        "FunctionName": "my-fn", "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
        "Code": {"ZipFile": b"PK\x03\x04 not really a zip"}, "Description": "rotates", "Timeout": 30,
        "MemorySize": 256, "Publish": True, "Environment": {"Variables": {"DB_HOST": "db", "SECRET": ARN}},
        "Tags": {"team": "secrets"}, "Architectures": ["arm64"], "TracingConfig": {"Mode": "Active"},
        "EphemeralStorage": {"Size": 1024},
    },
    "GetFunction": {"FunctionName": FUNCTION_ARN, "Qualifier": "$LATEST"},
    "GetFunctionConfiguration": {"FunctionName": "my-fn", "Qualifier": "1"},
    "ListFunctions": {"MasterRegion": "ALL", "FunctionVersion": "ALL", "Marker": "m", "MaxItems": 50},
    "UpdateFunctionCode": {
        "FunctionName": "my-fn", "ZipFile": b"PK\x03\x04", "Publish": True, "DryRun": False, "RevisionId": "r1",
    },
    "UpdateFunctionConfiguration": {
        "FunctionName": FUNCTION_ARN + ":live", "Role": ROLE, "Handler": "h.main", "Timeout": 60,
        "MemorySize": 512, "Environment": {"Variables": {}}, "Runtime": "python3.12",
    },
    "DeleteFunction": {"FunctionName": "my-fn", "Qualifier": "2"},
    "Invoke": {
        "FunctionName": "my-fn", "InvocationType": "RequestResponse", "LogType": "Tail",
        "ClientContext": "e30=", "Payload": b'{"Step": "createSecret"}', "Qualifier": "$LATEST",
    },
    "AddPermission": {
        "FunctionName": "my-fn", "StatementId": "sid-1", "Action": "lambda:InvokeFunction",
        "Principal": "secretsmanager.amazonaws.com", "SourceArn": ARN, "SourceAccount": "123456789012",
        "Qualifier": "1", "RevisionId": "r1",
    },
    "RemovePermission": {"FunctionName": "my-fn", "StatementId": "sid-1", "Qualifier": "1", "RevisionId": "r1"},
    "GetPolicy": {"FunctionName": "my-fn", "Qualifier": "1"},
    # Not served, but they exercise query literals, list/timestamp/boolean query values and long labels.
    "GetLayerVersionByArn": {"Arn": "arn:aws:lambda:us-east-1:123456789012:layer:lib:3"},
    "ListLayers": {"CompatibleRuntime": "python3.12", "MaxItems": 5},
    "GetLayerVersion": {"LayerName": "lib", "VersionNumber": 3},
    "UntagResource": {"Resource": FUNCTION_ARN, "TagKeys": ["a", "b"]},
    "ListDurableExecutionsByFunction": {
        "FunctionName": "my-fn", "Statuses": ["RUNNING", "FAILED"], "ReverseOrder": True,
        "StartedAfter": datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC), "MaxItems": 10,
    },
}  # fmt: skip
LAMBDA_SERVED = {
    "CreateFunction", "GetFunction", "GetFunctionConfiguration", "ListFunctions", "UpdateFunctionCode",
    "UpdateFunctionConfiguration", "DeleteFunction", "Invoke", "AddPermission", "RemovePermission", "GetPolicy",
}  # fmt: skip


def json_request(operation: str, params: dict[str, Any]) -> tuple[str, bytes]:
    op = spec.load("secretsmanager").operation_model(operation)
    request = create_serializer("json").serialize_to_request(params, op)
    return request["headers"]["X-Amz-Target"], request["body"]


RestRequest = tuple[str, str, dict[str, list[str]], dict[str, str], bytes]


def rest_request(operation: str, params: dict[str, Any]) -> RestRequest:
    """What botocore puts on the wire, split the way an HTTP server sees it."""
    op = spec.load("lambda").operation_model(operation)
    request = create_serializer("rest-json").serialize_to_request(params, op)
    path, _, literal = request["url_path"].partition("?")
    encoded = "&".join(part for part in (literal, urlencode(request["query_string"], doseq=True)) if part)
    query = parse_qs(encoded, keep_blank_values=True)
    return request["method"], path, query, request["headers"], request["body"]


def test_every_secrets_manager_operation_is_covered() -> None:
    assert set(SECRETSMANAGER) == set(spec.load("secretsmanager").operation_names)
    assert set(LAMBDA) >= LAMBDA_SERVED


@pytest.mark.parametrize(("service", "operation", "params"), [
    *(("secretsmanager", name, params) for name, params in SECRETSMANAGER.items()),
    *(("lambda", name, params) for name, params in LAMBDA.items()),
])  # fmt: skip
def test_cases_are_valid_for_botocore(service: str, operation: str, params: dict[str, Any]) -> None:
    shape = spec.load(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize(("operation", "params"), SECRETSMANAGER.items())
def test_json_round_trip(operation: str, params: dict[str, Any]) -> None:
    target, body = json_request(operation, params)
    op, parsed = parse_json("secretsmanager", target, body)
    assert op.name == operation
    assert parsed == params


@pytest.mark.parametrize(("operation", "params"), LAMBDA.items())
def test_rest_json_round_trip(operation: str, params: dict[str, Any]) -> None:
    op, parsed = parse_rest_json("lambda", *rest_request(operation, params))
    assert op.name == operation
    assert parsed == params


def test_timestamps_are_utc_aware() -> None:
    operation = "ListDurableExecutionsByFunction"
    _, parsed = parse_rest_json("lambda", *rest_request(operation, LAMBDA[operation]))
    assert parsed["StartedAfter"].utcoffset().total_seconds() == 0


def wire_error(call: Any, *args: Any) -> WireError:
    with pytest.raises(WireError) as caught:
        call(*args)
    return caught.value


# --- awsJson1.1 framing -------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    None, "", "secretsmanager.getSecretValue", "kms.GetSecretValue", "GetSecretValue", "secretsmanager.Nope",
])  # fmt: skip
def test_unknown_target(target: str | None) -> None:
    err = wire_error(parse_json, "secretsmanager", target, b"{}")
    assert (err.code, err.message, err.status) == ("UnknownOperationException", "", 400)


def test_empty_body_is_an_empty_object() -> None:
    assert parse_json("secretsmanager", "secretsmanager.ListSecrets", b"")[1] == {}
    err = wire_error(parse_json, "secretsmanager", "secretsmanager.GetSecretValue", b"")
    assert err.message == (
        "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null"
    )


@pytest.mark.parametrize(("body", "message"), [
    (b"{", ""), (b"not json", ""), (b"null", ""), (b'"x"', ""), (b"1", ""), (b"{,}", ""), (b"\xff", ""),
    (b"[]", "Start of list found where not expected"),
])  # fmt: skip
def test_unreadable_body(body: bytes, message: str) -> None:
    err = wire_error(parse_json, "secretsmanager", "secretsmanager.ListSecrets", body)
    assert (err.code, err.message, err.status) == ("SerializationException", message, 400)


def test_unknown_members_are_dropped_and_null_is_absent() -> None:
    body = b'{"SecretId": "s", "VersionId": null, "Bogus": {"x": 1}, "secretid": 5}'
    assert parse_json("secretsmanager", "secretsmanager.GetSecretValue", body)[1] == {"SecretId": "s"}
    body = b'{"Filters": [null, {"Key": "name", "Values": ["a", null]}]}'
    parsed = parse_json("secretsmanager", "secretsmanager.ListSecrets", body)[1]
    assert parsed == {"Filters": [{"Key": "name", "Values": ["a"]}]}


def test_decimal_for_an_integer_is_truncated() -> None:
    assert parse_json("secretsmanager", "secretsmanager.ListSecrets", b'{"MaxResults": 5.9}')[1] == {"MaxResults": 5}


@pytest.mark.parametrize(("value", "message"), [
    ('"QUJD"', None),
    ('"QUJ"', "Value can not be converted to a Blob: "
              "Base64 encoded length is expected a multiple of 4 bytes but found: 3"),
    ('"QU*D"', "Value can not be converted to a Blob: Invalid Base64 character"),
    ('"QUJDRA=="', None),
    ('"QQ==QQ=="', "Value can not be converted to a Blob: Invalid Base64 character"),
    ('"éééé"', "Value can not be converted to a Blob: Invalid Base64 character"),
    ("12", "NUMBER_VALUE can not be converted to a Blob"),
    ("[]", "Start of list found where not expected"),
])  # fmt: skip
def test_blob_members(value: str, message: str | None) -> None:
    body = b'{"SecretId": "s", "SecretBinary": %s}' % value.encode()
    if message is None:
        assert isinstance(parse_json("secretsmanager", "secretsmanager.PutSecretValue", body)[1]["SecretBinary"], bytes)
        return
    err = wire_error(parse_json, "secretsmanager", "secretsmanager.PutSecretValue", body)
    assert (err.code, err.message) == ("SerializationException", message)


def test_type_error_wins_over_validation_errors() -> None:
    body = b'{"SecretId": "", "VersionId": "short", "VersionStage": 5}'
    err = wire_error(parse_json, "secretsmanager", "secretsmanager.GetSecretValue", body)
    assert (err.code, err.message) == ("SerializationException", "NUMBER_VALUE can not be converted to a String")


# --- restJson1 routing ---------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "query", "operation", "labels"), [
    ("GET", "/2015-03-31/functions", {}, "ListFunctions", {}),
    ("GET", "/2015-03-31/functions/", {}, "ListFunctions", {}),
    ("POST", "/2015-03-31/functions", {}, "CreateFunction", {}),
    ("GET", "/2015-03-31/functions/f%3A1", {}, "GetFunction", {"FunctionName": "f:1"}),
    ("GET", "/2015-03-31/functions/f/configuration", {}, "GetFunctionConfiguration", {"FunctionName": "f"}),
    ("DELETE", "/2015-03-31/functions/f/policy/s%2F1", {}, "RemovePermission",
     {"FunctionName": "f", "StatementId": "s/1"}),
    ("GET", "/2018-10-31/layers", {"find": ["LayerVersion"], "Arn": ["a"]}, "GetLayerVersionByArn", {}),
    ("GET", "/2018-10-31/layers", {"find": ["Other"]}, "ListLayers", {}),
    ("GET", "/2019-09-30/functions/f/provisioned-concurrency", {"List": ["ALL"]},
     "ListProvisionedConcurrencyConfigs", {"FunctionName": "f"}),
    ("GET", "/2019-09-30/functions/f/provisioned-concurrency", {"Qualifier": ["1"]},
     "GetProvisionedConcurrencyConfig", {"FunctionName": "f"}),
])  # fmt: skip
def test_routes(method: str, path: str, query: dict[str, list[str]], operation: str, labels: dict[str, str]) -> None:
    op, found = route("lambda", method, path, query)
    assert (op.name, found) == (operation, labels)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/nope"), ("PATCH", "/2015-03-31/functions"), ("GET", "/2015-03-31/functions/a/b/c/d"),
    ("PUT", "/2015-03-31/functions/f/invocations"), ("GET", "/2015-03-31/functions//configuration"),
])  # fmt: skip
def test_no_route_is_404(method: str, path: str) -> None:
    err = wire_error(parse_rest_json, "lambda", method, path, {}, {}, b"")
    assert (err.code, err.message, err.status) == ("UnknownOperationException", "", 404)


class _FakeOp:
    def __init__(self, uri: str) -> None:
        self.http = {"requestUri": uri, "method": "GET"}


def test_greedy_labels_and_ranks() -> None:
    greedy = compile_route(_FakeOp("/{Bucket}/{Key+}"))
    found = greedy.path.fullmatch("/b/a/deep/key.txt")
    assert found is not None
    assert {greedy.labels[g]: v for g, v in found.groupdict().items()} == {"Bucket": "b", "Key": "a/deep/key.txt"}
    exact = compile_route(_FakeOp("/{Bucket}/fixed?acl"))
    assert exact.query == (("acl", None),)
    assert exact.rank > greedy.rank


# --- restJson1 values ---------------------------------------------------------------------------


def test_string_values_are_typed_by_shape() -> None:
    path = "/2025-12-01/functions/f/durable-executions"
    query = {"MaxItems": ["7"], "ReverseOrder": ["TRUE"], "StartedBefore": ["1714566615"], "Statuses": ["RUNNING"]}
    _, params = parse_rest_json("lambda", "GET", path, query, {}, b"")
    assert params == {
        "FunctionName": "f", "MaxItems": 7, "ReverseOrder": True, "Statuses": ["RUNNING"],
        "StartedBefore": datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC),
    }  # fmt: skip


@pytest.mark.parametrize(("query", "message"), [
    ({"MaxItems": ["x"]}, "STRING_VALUE can not be converted to an Integer"),
    ({"MaxItems": ["1_0"]}, "STRING_VALUE can not be converted to an Integer"),
    ({"ReverseOrder": ["yes"]}, "STRING_VALUE can not be converted to an Boolean"),
    ({"StartedAfter": ["yesterday"]}, "STRING_VALUE can not be converted to a Date"),
])  # fmt: skip
def test_bad_string_values(query: dict[str, list[str]], message: str) -> None:
    err = wire_error(parse_rest_json, "lambda", "GET", "/2025-12-01/functions/f/durable-executions", query, {}, b"")
    assert (err.code, err.message, err.status) == ("SerializationException", message, 400)


def test_headers_are_case_insensitive_and_validated() -> None:
    path = "/2015-03-31/functions/f/invocations"
    _, params = parse_rest_json("lambda", "POST", path, {}, {"x-amz-invocation-type": "Event"}, b"")
    assert params == {"FunctionName": "f", "InvocationType": "Event"}
    err = wire_error(parse_rest_json, "lambda", "POST", path, {}, {"X-Amz-Invocation-Type": "Bogus"}, b"")
    assert err.message == (
        "1 validation error detected: Value 'Bogus' at 'invocationType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
    )


def test_payload_is_the_raw_body() -> None:
    body = b"\x00not json at all"
    _, params = parse_rest_json("lambda", "POST", "/2015-03-31/functions/f/invocations", {}, {}, body)
    assert params == {"FunctionName": "f", "Payload": body}


def test_body_members_cannot_override_located_ones() -> None:
    body = b'{"FunctionName": "other", "Timeout": 3}'
    _, params = parse_rest_json("lambda", "PUT", "/2015-03-31/functions/f/configuration", {}, {}, body)
    assert params == {"FunctionName": "f", "Timeout": 3}


@pytest.mark.parametrize(("body", "code", "message"), [
    (b"{x", "InvalidRequestContentException", "Could not parse request body into json: "),
    (b"[1]", "SerializationException", "Start of list found where not expected"),
    (b'{"FunctionName": "f", "Role": 1}', "SerializationException", "NUMBER_VALUE can not be converted to a String"),
])  # fmt: skip
def test_bad_rest_bodies(body: bytes, code: str, message: str) -> None:
    err = wire_error(parse_rest_json, "lambda", "POST", "/2015-03-31/functions", {}, {}, body)
    assert (err.code, err.status) == (code, 400)
    assert err.message.startswith(message)
    assert message or err.message == ""


def test_rest_validation_uses_coral_paths() -> None:
    body = b'{"Role": "nope", "Code": {}, "Timeout": 0, "Environment": {"Variables": {"1BAD": "s3cr3t"}}}'
    err = wire_error(parse_rest_json, "lambda", "POST", "/2015-03-31/functions", {}, {}, body)
    assert err.code == "ValidationException"
    assert err.message == (
        "4 validation errors detected: "
        "Value null at 'functionName' failed to satisfy constraint: Member must not be null; "
        "Value 'nope' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+; "
        "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1; "
        "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: "
        "[Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+, Member must not be null]"
    )
    assert "s3cr3t" not in err.message
    assert "1BAD" not in err.message


# The flat fast path (structures of strings) must answer exactly as the generic parse and validation.
FLAT_CANDIDATES: list[Any] = [
    "app/db", "", "x" * 64, "x" * 2049, "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE", "a" * 31, "AWSCURRENT",
    "ünïcode", "bad\nline", 7, 1.5, True, ["list"], {"map": 1}, None,
]  # fmt: skip


def _generic(operation: str, data: dict[str, Any]) -> Any:
    from tumbler.wire.parse import from_json
    from tumbler.wire.validate import validate

    shape = spec.load("secretsmanager").operation_model(operation).input_shape
    try:
        params = from_json(shape, data, "secretsmanager")
        validate(shape, params, "secretsmanager")
    except WireError as err:
        return (err.code, err.message)
    return params


def _fast(operation: str, data: dict[str, Any]) -> Any:
    try:
        return parse_json("secretsmanager", f"secretsmanager.{operation}", orjson.dumps(data))[1]
    except WireError as err:
        return (err.code, err.message)


@pytest.mark.parametrize("operation", ["GetSecretValue", "DescribeSecret", "DeleteResourcePolicy", "GetRandomPassword"])
def test_flat_fast_path_answers_as_the_generic_path(operation: str) -> None:
    shape = spec.load("secretsmanager").operation_model(operation).input_shape
    names = list(shape.members)
    for value in FLAT_CANDIDATES:
        for name in names:
            data = {name: value}
            full = {n: value if n == name else "AWSCURRENT" for n in names}
            assert _fast(operation, data) == _generic(operation, data), (name, value)
            assert _fast(operation, full) == _generic(operation, full), (name, value)
