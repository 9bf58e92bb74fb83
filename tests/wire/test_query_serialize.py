"""Query-protocol responses and errors, read back with botocore's own query parser."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.errorfactory import ClientExceptionsFactory
from botocore.handlers import json_decode_policies
from botocore.model import OperationModel
from botocore.parsers import create_parser

from tumbler.wire import spec
from tumbler.wire.errors import WireError
from tumbler.wire.query import error, parse_query
from tumbler.wire.query_serialize import iso8601, query_error, query_response

ACCOUNT = "123456789012"
REQUEST_ID = "4a8c2f1e-6b7d-4c3e-9f0a-1b2c3d4e5f60"
CREATED = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
TRUST = '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]\n}'  # noqa: E501
POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*",'
    '"Resource":"*","Condition":{"StringLike":{"aws:ResourceTag/team":"db & <ops> \'1\' + 100%"}}}]}'
)
TAGS = [{"Key": "team", "Value": "a & b <c> \"d\" 'e'"}, {"Key": "Équipe 日本", "Value": ""}]
ROLE = {
    "Path": "/service-role/", "RoleName": "rotation", "RoleId": "AROAEXAMPLEID1234567",
    "Arn": f"arn:aws:iam::{ACCOUNT}:role/service-role/rotation", "CreateDate": CREATED,
    "AssumeRolePolicyDocument": TRUST, "Description": "rotates\r\nsecrets\ttoo", "MaxSessionDuration": 3600,
    "PermissionsBoundary": {
        "PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/b",
    },
    "Tags": TAGS, "RoleLastUsed": {"LastUsedDate": CREATED + timedelta(days=1), "Region": "us-east-1"},
}  # fmt: skip
POLICY_SUMMARY = {
    "PolicyName": "rotate-db", "PolicyId": "ANPAEXAMPLEID1234567", "Arn": f"arn:aws:iam::{ACCOUNT}:policy/rotate-db",
    "Path": "/", "DefaultVersionId": "v2", "AttachmentCount": 0, "PermissionsBoundaryUsageCount": 0,
    "IsAttachable": True, "Description": "", "CreateDate": CREATED, "UpdateDate": CREATED, "Tags": [],
}  # fmt: skip

RESULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("iam", "CreateUser"): {"User": {
        "Path": "/", "UserName": "alice", "UserId": "AIDAEXAMPLEID1234567", "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "CreateDate": CREATED, "Tags": TAGS,
    }},
    ("iam", "GetRole"): {"Role": ROLE},
    ("iam", "ListRoles"): {
        "Roles": [ROLE, {**ROLE, "RoleName": "second", "Tags": []}], "IsTruncated": True, "Marker": "m",
    },
    ("iam", "ListPolicies"): {"Policies": [POLICY_SUMMARY], "IsTruncated": False},
    ("iam", "ListPolicies "): {"Policies": [], "IsTruncated": False},
    ("iam", "GetRolePolicy"): {"RoleName": "rotation", "PolicyName": "inline", "PolicyDocument": POLICY},
    ("iam", "GetPolicyVersion"): {"PolicyVersion": {
        "Document": POLICY, "VersionId": "v1", "IsDefaultVersion": False, "CreateDate": CREATED,
    }},
    ("iam", "ListPolicyVersions"): {"Versions": [
        {"VersionId": "v2", "IsDefaultVersion": True, "CreateDate": CREATED},
        {"VersionId": "v1", "IsDefaultVersion": False, "CreateDate": CREATED},
    ], "IsTruncated": False},
    ("iam", "CreateAccessKey"): {"AccessKey": {
        "UserName": "alice", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Active",
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+&<", "CreateDate": CREATED,
    }},
    ("iam", "ListAttachedRolePolicies"): {"AttachedPolicies": [
        {"PolicyName": "SecretsManagerReadWrite", "PolicyArn": "arn:aws:iam::aws:policy/SecretsManagerReadWrite"},
    ], "IsTruncated": False},
    ("iam", "ListRolePolicies"): {"PolicyNames": ["inline", "second"], "IsTruncated": False},
    ("iam", "ListRoleTags"): {"Tags": TAGS, "IsTruncated": False},
    ("iam", "GetAccountSummary"): {"SummaryMap": {"Users": 2, "Roles": 1, "Policies": 0}},
    ("iam", "SimulatePrincipalPolicy"): {"EvaluationResults": [{
        "EvalActionName": "secretsmanager:GetSecretValue", "EvalResourceName": "*", "EvalDecision": "allowed",
        "MatchedStatements": [{"SourcePolicyId": "inline", "SourcePolicyType": "IAM Policy",
                               "StartPosition": {"Line": 1, "Column": 37}, "EndPosition": {"Line": 1, "Column": 200}}],
        "MissingContextValues": ["aws:SourceIp"], "EvalDecisionDetails": {"IAM Policy": "allowed"},
        "PermissionsBoundaryDecisionDetail": {"AllowedByPermissionsBoundary": True},
    }], "IsTruncated": False},
    ("sts", "GetCallerIdentity"): {
        "UserId": "AIDAEXAMPLEID1234567", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    },
    ("sts", "AssumeRole"): {
        "Credentials": {
            "AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": "secret/+=", "SessionToken": "FwoG" + "x" * 300,
            "Expiration": CREATED + timedelta(hours=1),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": "AROAEXAMPLEID1234567:my-fn", "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/rotation/my-fn",
        },
        "PackedPolicySize": 6, "SourceIdentity": "alice",
    },
    ("sts", "GetSessionToken"): {"Credentials": {
        "AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": CREATED,
    }},
}  # fmt: skip
NO_OUTPUT = [("iam", "DeleteUser"), ("iam", "AttachRolePolicy"), ("iam", "PutRolePolicy"), ("iam", "TagRole")]


def operation(service: str, name: str) -> OperationModel:
    return spec.load(service).operation_model(name.strip())


def parse(op: OperationModel, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    received = HeadersDict({k.decode(): v.decode() for k, v in headers})
    response = {"status_code": status, "headers": received, "body": body}
    parsed: dict[str, Any] = create_parser("query").parse(response, op.output_shape)
    metadata = parsed.get("ResponseMetadata", {})
    for added in ("HTTPHeaders", "HTTPStatusCode"):  # the parser's own additions, from the arguments
        metadata.pop(added, None)
    return parsed


def decoded_policies(op: OperationModel, value: Any) -> Any:
    """``value`` with its policy documents as botocore's IAM client hands them out: JSON-decoded."""
    value = copy.deepcopy(value)
    json_decode_policies(value, op)
    return value


# --- Results ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "name"), RESULTS)
def test_round_trip(service: str, name: str) -> None:
    op = operation(service, name)
    result = RESULTS[(service, name)]
    status, headers, body = query_response(op, result, REQUEST_ID)
    assert status == 200
    assert dict(headers) == {b"content-type": b"text/xml", b"x-amzn-requestid": REQUEST_ID.encode()}
    parsed = parse(op, status, headers, body)
    assert parsed.pop("ResponseMetadata") == {"RequestId": REQUEST_ID}
    assert decoded_policies(op, parsed) == decoded_policies(op, result)


def test_the_envelope() -> None:
    op = operation("sts", "GetCallerIdentity")
    _, _, body = query_response(op, RESULTS[("sts", "GetCallerIdentity")], REQUEST_ID)
    assert body == (
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
        b"<UserId>AIDAEXAMPLEID1234567</UserId><Account>123456789012</Account>"
        b"<Arn>arn:aws:iam::123456789012:user/alice</Arn></GetCallerIdentityResult>"
        b"<ResponseMetadata><RequestId>4a8c2f1e-6b7d-4c3e-9f0a-1b2c3d4e5f60</RequestId></ResponseMetadata>"
        b"</GetCallerIdentityResponse>"
    )


def test_lists_maps_booleans_and_timestamps_on_the_wire() -> None:
    op = operation("iam", "ListRoleTags")
    _, _, body = query_response(op, {"Tags": TAGS[:1], "IsTruncated": False}, REQUEST_ID)
    assert b"<Tags><member><Key>team</Key><Value>a &amp; b &lt;c&gt; \"d\" 'e'</Value></member></Tags>" in body
    assert b"<IsTruncated>false</IsTruncated>" in body
    _, _, body = query_response(operation("iam", "GetAccountSummary"), {"SummaryMap": {"Users": 2}}, REQUEST_ID)
    assert b"<SummaryMap><entry><key>Users</key><value>2</value></entry></SummaryMap>" in body
    _, _, body = query_response(operation("iam", "GetRole"), {"Role": ROLE}, REQUEST_ID)
    assert b"<CreateDate>2024-05-01T12:30:15Z</CreateDate>" in body
    assert b"<Description>rotates&#13;\nsecrets\ttoo</Description>" in body
    assert b'xmlns="https://iam.amazonaws.com/doc/2010-05-08/"' in body


def test_policy_documents_are_url_encoded_and_come_back_exactly() -> None:
    op = operation("iam", "GetRole")
    _, _, body = query_response(op, {"Role": ROLE}, REQUEST_ID)
    encoded = ElementTree.fromstring(body).find(".//{*}AssumeRolePolicyDocument")
    assert encoded is not None
    assert encoded.text is not None
    assert encoded.text.startswith("%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22")
    assert unquote(encoded.text) == TRUST  # white space and all, as the user wrote it
    assert decoded_policies(op, parse(op, 200, [], body))["Role"]["AssumeRolePolicyDocument"] == json.loads(TRUST)


@pytest.mark.parametrize("when", [
    datetime(2024, 5, 1, 12, 30, 15, 999_999, tzinfo=UTC),  # whole seconds, as IAM and STS send them
    datetime(2024, 5, 1, 14, 30, 15, tzinfo=timezone(timedelta(hours=2))),
    datetime(2024, 5, 1, 12, 30, 15),  # naive is UTC
])  # fmt: skip
def test_timestamps(when: datetime) -> None:
    assert iso8601(when) == "2024-05-01T12:30:15Z"


def test_none_values_and_unknown_keys_are_left_out() -> None:
    op = operation("sts", "GetCallerIdentity")
    _, _, body = query_response(op, {"Account": ACCOUNT, "Arn": None, "Nonsense": "x"}, REQUEST_ID)
    assert parse(op, 200, [], body) == {"Account": ACCOUNT, "ResponseMetadata": {"RequestId": REQUEST_ID}}


def test_an_empty_result_still_has_its_wrapper() -> None:
    op = operation("iam", "ListRolePolicies")
    _, _, body = query_response(op, {}, REQUEST_ID)
    assert b"<ListRolePoliciesResult></ListRolePoliciesResult>" in body
    assert parse(op, 200, [], body) == {"ResponseMetadata": {"RequestId": REQUEST_ID}}


@pytest.mark.parametrize(("service", "name"), NO_OUTPUT)
def test_operations_without_output_answer_with_metadata_alone(service: str, name: str) -> None:
    op = operation(service, name)
    assert op.output_shape is None
    status, _, body = query_response(op, {}, REQUEST_ID)
    assert body == (
        f'<{name}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata>'
        f"<RequestId>{REQUEST_ID}</RequestId></ResponseMetadata></{name}Response>"
    ).encode()
    assert parse(op, status, [], body) == {"ResponseMetadata": {"RequestId": REQUEST_ID}}


def test_characters_xml_cannot_carry_are_replaced_not_sent() -> None:
    op = operation("sts", "GetCallerIdentity")
    _, _, body = query_response(op, {"Arn": "a\x00b\x1fc\ufffed", "Account": "\U0001f511"}, REQUEST_ID)
    assert parse(op, 200, [], body)["Arn"] == "a\ufffdb\ufffdc\ufffdd"
    assert parse(op, 200, [], body)["Account"] == "\U0001f511"


# --- Errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "code", "status", "message"), [
    ("iam", "NoSuchEntity", 404, "The role with name rotation cannot be found."),
    ("iam", "EntityAlreadyExists", 409, "Role with name rotation already exists."),
    ("iam", "MalformedPolicyDocument", 400, "Syntax errors in policy: \"Statement\" & <Effect> 'x'."),
    ("iam", "AccessDenied", 403, f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: "
     f"iam:CreateRole on resource: arn:aws:iam::{ACCOUNT}:role/x because no identity-based policy allows the "
     "iam:CreateRole action"),
    ("iam", "ServiceFailure", 500, "Request processing has failed due to some unknown error."),
    ("iam", "ValidationError", 400, "1 validation error detected: Value null at 'userName' failed to satisfy "
     "constraint: Member must not be null"),
    ("iam", "InvalidAction", 400, "Could not find operation Nope for version 2010-05-08"),
    ("sts", "AccessDenied", 403, "User: x is not authorized to perform: sts:AssumeRole on resource: y"),
    ("sts", "ExpiredToken", 403, "The security token included in the request is expired"),
    ("sts", "RegionDisabledException", 403, "STS is not activated in this region."),
])  # fmt: skip
def test_errors_as_botocore_reads_them(service: str, code: str, status: int, message: str) -> None:
    err = error(service, code, message)
    got_status, headers, body = query_error(service, err, REQUEST_ID)
    assert got_status == status
    parsed = parse(operation(service, "GetCallerIdentity" if service == "sts" else "GetUser"), status, headers, body)
    kind = "Receiver" if status >= 500 else "Sender"
    assert parsed["Error"] == {"Type": kind, "Code": code, "Message": message}
    assert parsed["ResponseMetadata"] == {"RequestId": REQUEST_ID}


@pytest.mark.parametrize(("service", "code", "exception"), [
    ("iam", "NoSuchEntity", "NoSuchEntityException"), ("iam", "EntityAlreadyExists", "EntityAlreadyExistsException"),
    ("iam", "MalformedPolicyDocument", "MalformedPolicyDocumentException"),
    ("sts", "MalformedPolicyDocument", "MalformedPolicyDocumentException"),
    ("sts", "ExpiredTokenException", "ExpiredTokenException"),
])  # fmt: skip
def test_model_errors_go_by_the_code_botocore_raises_them_for(service: str, code: str, exception: str) -> None:
    error(service, code, "m")  # declared: no KeyError
    found = ClientExceptionsFactory().create_client_exceptions(spec.load(service)).from_code(code)
    assert found is not None
    assert found.__name__ == exception


def test_the_error_envelope() -> None:
    err = error("iam", "NoSuchEntity", "The user with name <bob> & co cannot be found.")
    status, headers, body = query_error("iam", err, REQUEST_ID)
    assert (status, dict(headers)[b"content-type"]) == (404, b"text/xml")
    assert body == (
        b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
        b"<Code>NoSuchEntity</Code><Message>The user with name &lt;bob&gt; &amp; co cannot be found.</Message>"
        b"</Error><RequestId>4a8c2f1e-6b7d-4c3e-9f0a-1b2c3d4e5f60</RequestId></ErrorResponse>"
    )


def test_an_empty_message_is_left_out_and_fields_follow_it() -> None:
    status, _, body = query_error("sts", WireError("Throttling", "", 400, Detail="slow down"), REQUEST_ID)
    assert b"<Message>" not in body
    assert b"<Code>Throttling</Code><Detail>slow down</Detail></Error>" in body
    parsed = parse(operation("sts", "GetCallerIdentity"), status, [], body)
    assert parsed["Error"] == {"Type": "Sender", "Code": "Throttling", "Detail": "slow down"}


# --- A real client, with the two halves standing in for the server ----------------------------------


def test_a_boto3_client_reads_what_we_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's whole pipeline (serializer, handlers, parser, error factory) against parse_query and the
    serializers, without a server: the request never leaves the process."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        service = "sts" if "sts" in request.url else "iam"
        body = request.body.encode() if isinstance(request.body, str) else request.body
        op, params = parse_query(service, "", body)
        seen.append((op.name, params))
        if op.name == "GetRole":
            status, headers, out = query_error(service, error(service, "NoSuchEntity", "No role <x>."), REQUEST_ID)
        else:
            status, headers, out = query_response(op, RESULTS.get((service, op.name), {}), REQUEST_ID)
        raw = HeadersDict({k.decode(): v.decode() for k, v in headers})
        return AWSResponse(request.url, status, raw, _Raw(out))

    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s", region_name="us-east-1")
    iam, sts = session.client("iam"), session.client("sts")
    for client in (iam, sts):
        client.meta.events.register("before-send", answer)

    tags = [{"Key": "team", "Value": "db ops"}, {"Key": "Équipe", "Value": ""}]
    role = iam.create_role(RoleName="rotation", AssumeRolePolicyDocument=TRUST, Tags=tags)
    assert seen[-1] == ("CreateRole", {"RoleName": "rotation", "AssumeRolePolicyDocument": TRUST, "Tags": tags})
    assert "Role" not in role  # no CreateRole result in RESULTS: an empty result element
    version = iam.get_policy_version(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/p", VersionId="v1")
    assert version["PolicyVersion"]["Document"] == json.loads(POLICY)  # decoded by botocore's IAM handler
    assert version["ResponseMetadata"]["RequestId"] == REQUEST_ID
    with pytest.raises(iam.exceptions.NoSuchEntityException) as caught:
        iam.get_role(RoleName="missing")
    assert caught.value.response["Error"] == {"Type": "Sender", "Code": "NoSuchEntity", "Message": "No role <x>."}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    credentials = sts.assume_role(RoleArn=ROLE["Arn"], RoleSessionName="my-fn", DurationSeconds=900)["Credentials"]
    assert credentials["Expiration"] == CREATED + timedelta(hours=1)
    assert seen[-1] == ("AssumeRole", {"RoleArn": ROLE["Arn"], "RoleSessionName": "my-fn", "DurationSeconds": 900})


class _Raw:
    """The little of urllib3's response that botocore's AWSResponse reads."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, *_: Any, **__: Any) -> Any:
        yield self.body
