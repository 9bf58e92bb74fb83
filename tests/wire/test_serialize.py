"""Responses and errors, read back with botocore's own parsers: what a client gets is what we meant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser

from tumbler.wire import errors, spec
from tumbler.wire.errors import WireError
from tumbler.wire.serialize import error_response, json_body, rest_json_error, rest_json_response

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
WHEN = datetime(2018, 4, 11, 20, 5, 45, 713_999, tzinfo=UTC)  # AWS keeps whole milliseconds: .713


def sm_parse(operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    shape = spec.load("secretsmanager").operation_model(operation).output_shape
    response = {"status_code": status, "headers": {}, "body": body}
    parsed: dict[str, Any] = create_parser("json").parse(response, shape)
    return parsed


def lambda_parse(operation: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes,
                 shape: Any = "output") -> dict[str, Any]:  # fmt: skip
    if shape == "output":
        shape = spec.load("lambda").operation_model(operation).output_shape
    # Case-insensitive, as the headers botocore gets from urllib3 are.
    received = HeadersDict({k.decode(): v.decode() for k, v in headers})
    response = {"status_code": status, "headers": received, "body": body}
    parsed: dict[str, Any] = create_parser("rest-json").parse(response, shape)
    return parsed


# --- json_body -----------------------------------------------------------------------------------


def test_timestamps_are_epoch_seconds_with_milliseconds() -> None:
    assert json_body({"CreatedDate": WHEN}) == b'{"CreatedDate":1523477145.713}'
    naive = datetime(2018, 4, 11, 20, 5, 45)  # naive means UTC, whatever the host's zone
    assert json_body({"d": naive}) == b'{"d":1523477145.0}'
    east = datetime(2018, 4, 11, 22, 5, 45, tzinfo=timezone(timedelta(hours=2)))
    assert json_body({"d": east}) == b'{"d":1523477145.0}'


def test_blobs_are_base64() -> None:
    assert json_body({"SecretBinary": b"\x00\xff", "b": bytearray(b"a"), "m": memoryview(b"ab")}) == (
        b'{"SecretBinary":"AP8=","b":"YQ==","m":"YWI="}'
    )


def test_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError):
        json_body({"x": object()})


def test_get_secret_value_reads_back() -> None:
    result = {
        "ARN": ARN, "Name": "prod/db", "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
        "SecretBinary": b"\x00binary\xff", "SecretString": "pässword", "VersionStages": ["AWSCURRENT"],
        "CreatedDate": WHEN,
    }  # fmt: skip
    parsed = sm_parse("GetSecretValue", json_body(result))
    parsed.pop("ResponseMetadata")
    assert parsed == {**result, "CreatedDate": datetime(2018, 4, 11, 20, 5, 45, 713_000, tzinfo=UTC)}


def test_describe_secret_reads_back() -> None:
    result = {
        "ARN": ARN, "Name": "prod/db", "RotationEnabled": True, "RotationRules": {"AutomaticallyAfterDays": 30},
        "LastChangedDate": WHEN, "CreatedDate": datetime(2020, 1, 1, tzinfo=UTC),
        "Tags": [{"Key": "env", "Value": "prod"}],
        "VersionIdsToStages": {"EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE": ["AWSCURRENT", "AWSPENDING"]},
    }  # fmt: skip
    parsed = sm_parse("DescribeSecret", json_body(result))
    assert parsed["LastChangedDate"] == datetime(2018, 4, 11, 20, 5, 45, 713_000, tzinfo=UTC)
    assert parsed["CreatedDate"] == datetime(2020, 1, 1, tzinfo=UTC)
    assert parsed["Tags"] == result["Tags"]
    assert parsed["VersionIdsToStages"] == result["VersionIdsToStages"]
    assert parsed["RotationRules"] == {"AutomaticallyAfterDays": 30}
    assert parsed["RotationEnabled"] is True


# --- awsJson1.1 errors --------------------------------------------------------------------------


def test_error_response_reads_back() -> None:
    text = "Secrets Manager can't find the specified secret."
    status, headers, body = error_response(errors.error("secretsmanager", "ResourceNotFoundException", text))
    assert (status, headers) == (400, [(b"content-type", b"application/x-amz-json-1.1")])
    parsed = sm_parse("GetSecretValue", body, status)
    assert parsed["Error"] == {"Code": "ResourceNotFoundException", "Message": text}


def test_error_response_fields_and_empty_message() -> None:
    status, _, body = error_response(WireError("UnknownOperationException", "", 400))
    assert (status, orjson.loads(body)) == (400, {"__type": "UnknownOperationException"})
    err = errors.error("secretsmanager", "InternalServiceError", "boom", Retryable=True)
    status, _, body = error_response(err)
    assert status == 500
    assert orjson.loads(body) == {"__type": "InternalServiceError", "Message": "boom", "Retryable": True}


# --- restJson1 responses ------------------------------------------------------------------------


CONFIGURATION = {
    "FunctionName": "my-fn", "FunctionArn": FUNCTION_ARN, "Runtime": "python3.12", "Handler": "app.handler",
    "CodeSize": 1234, "Timeout": 30, "MemorySize": 256, "LastModified": "2024-05-01T12:30:15.000+0000",
    "Version": "$LATEST", "Environment": {"Variables": {"DB_HOST": "db"}}, "Architectures": ["arm64"],
    "State": "Active",
}  # fmt: skip


def test_get_function_reads_back() -> None:
    result = {"Configuration": CONFIGURATION, "Code": {"RepositoryType": "S3", "Location": "https://x/y"},
              "Tags": {"team": "secrets"}}  # fmt: skip
    status, headers, body = rest_json_response(spec.load("lambda").operation_model("GetFunction"), result)
    assert (status, headers) == (200, [(b"content-type", b"application/json")])
    parsed = lambda_parse("GetFunction", status, headers, body)
    parsed.pop("ResponseMetadata")
    assert parsed == result


def test_create_function_takes_the_model_status() -> None:
    status, _, body = rest_json_response(spec.load("lambda").operation_model("CreateFunction"), CONFIGURATION)
    assert status == 201
    assert lambda_parse("CreateFunction", status, [], body)["FunctionArn"] == FUNCTION_ARN
    assert rest_json_response(spec.load("lambda").operation_model("CreateFunction"), CONFIGURATION, 200)[0] == 200


def test_delete_function_has_no_body() -> None:
    assert rest_json_response(spec.load("lambda").operation_model("DeleteFunction"), {}) == (200, [], b"")
    assert rest_json_response(spec.load("lambda").operation_model("RemovePermission"), {}) == (204, [], b"")


def test_invoke_places_headers_status_and_raw_payload() -> None:
    result = {"StatusCode": 202, "FunctionError": "Unhandled", "LogResult": "bG9n", "ExecutedVersion": "$LATEST",
              "Payload": b'{"errorMessage": "boom"}'}  # fmt: skip
    status, headers, body = rest_json_response(spec.load("lambda").operation_model("Invoke"), result)
    assert (status, body) == (202, b'{"errorMessage": "boom"}')
    assert headers == [
        (b"x-amz-function-error", b"Unhandled"), (b"x-amz-log-result", b"bG9n"),
        (b"x-amz-executed-version", b"$LATEST"), (b"content-type", b"application/octet-stream"),
    ]  # fmt: skip
    parsed = lambda_parse("Invoke", status, headers, body)
    parsed.pop("ResponseMetadata")
    assert parsed == {**result, "Payload": '{"errorMessage": "boom"}'}  # botocore decodes a non-streaming payload


def test_invoke_without_payload() -> None:
    status, headers, body = rest_json_response(spec.load("lambda").operation_model("Invoke"), {"StatusCode": 204})
    assert (status, headers, body) == (204, [], b"")


def test_get_policy_reads_back() -> None:
    result = {"Policy": '{"Version":"2012-10-17","Statement":[]}', "RevisionId": "r1"}
    status, headers, body = rest_json_response(spec.load("lambda").operation_model("GetPolicy"), result)
    parsed = lambda_parse("GetPolicy", status, headers, body)
    assert (parsed["Policy"], parsed["RevisionId"]) == (result["Policy"], "r1")


# --- restJson1 errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "message", "status", "key"), [
    ("ResourceNotFoundException", f"Function not found: {FUNCTION_ARN}", 404, "Message"),
    ("ResourceConflictException", "The statement id (sid-1) provided already exists.", 409, "message"),
    ("InvalidParameterValueException", "Unsupported runtime", 400, "message"),
    ("ServiceException", "boom", 500, "Message"),
    ("ValidationException", "1 validation error detected: ...", 400, "message"),
])  # fmt: skip
def test_rest_json_error_reads_back(code: str, message: str, status: int, key: str) -> None:
    got_status, headers, body = rest_json_error(errors.error("lambda", code, message))
    assert got_status == status
    assert (b"x-amzn-errortype", code.encode()) in headers
    assert orjson.loads(body) == {"Type": "User" if status < 500 else "Server", key: message}
    parsed = lambda_parse("GetFunction", got_status, headers, body, shape=None)
    assert parsed["Error"] == {"Code": code, "Message": message}


def test_rest_json_error_places_modeled_header_members() -> None:
    reason = "CallerRateLimitExceeded"
    err = errors.error("lambda", "TooManyRequestsException", "Rate exceeded", retryAfterSeconds="3", Reason=reason)
    status, headers, body = rest_json_error(err)
    assert status == 429
    assert (b"retry-after", b"3") in headers
    assert orjson.loads(body) == {"Type": "User", "message": "Rate exceeded", "Reason": reason}
    shape = spec.load("lambda").shape_for("TooManyRequestsException")
    modeled = lambda_parse("Invoke", status, headers, body, shape=shape)
    assert (modeled["retryAfterSeconds"], modeled["Reason"], modeled["message"]) == ("3", reason, "Rate exceeded")


def test_unknown_operation_error() -> None:
    status, headers, body = rest_json_error(WireError("UnknownOperationException", "", 404))
    assert (status, orjson.loads(body)) == (404, {"Type": "User"})
    parsed = lambda_parse("GetFunction", status, headers, body, shape=None)
    assert parsed["Error"] == {"Code": "UnknownOperationException", "Message": ""}


@pytest.mark.parametrize(("when", "expected"), [
    (datetime(1970, 1, 1, tzinfo=UTC), b"0.0"),
    (datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), b"-0.001"),
    (datetime(2038, 1, 19, 3, 14, 8, 1_000, tzinfo=UTC), b"2147483648.001"),
    (datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC), b"1709251199.999"),
])  # fmt: skip
def test_milliseconds_are_cut_not_rounded(when: datetime, expected: bytes) -> None:
    assert json_body({"t": when}) == b'{"t":' + expected + b"}"
