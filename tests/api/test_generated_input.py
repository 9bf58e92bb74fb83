"""Requests generated from botocore's models: every operation with one member dropped, null, of the
wrong type, too long, too short or out of range, sent signed to a live server.

Whatever the answer, it is never a 5xx, and the fixture secrets and function are exactly as they
were. A request that breaks a rule is aimed at the fixtures; one that may well be valid (an
optional member of a nested structure dropped or null) at scratch resources instead.
"""

from __future__ import annotations

import base64
import copy
import http.client
import io
import itertools
import json
import urllib.parse
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.credentials import Credentials
from botocore.model import OperationModel, Shape, StructureShape
from botocore.serialize import create_serializer

from tests.api.helpers import ACCOUNT, letters, snapshot
from tests.api.rotation_helpers import execution_role
from tests.conftest import LiveServer
from tumbler.ops.lambda_ import OPERATIONS as LAMBDA_OPERATIONS
from tumbler.wire import spec

MAX_DEPTH = 3  # nested members this deep are mutated too
MAX_STRING = 70_000  # longer limits are left to the size limit's own tests
TOKEN = str(uuid.uuid4())
POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                   "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
})  # fmt: skip


def package() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return event\n")
    return out.getvalue()


ZIP = package()


@dataclass(frozen=True)
class Targets:
    """The resources a request names: the fixtures, or the scratch ones."""

    secret: str
    function: str

    def known(self, member: str) -> Any:
        """A valid value of a member the operations need to get past their first checks."""
        values: dict[str, Any] = {
            "SecretId": self.secret, "Name": self.secret, "FunctionName": self.function,
            "ClientRequestToken": TOKEN, "VersionId": TOKEN, "MoveToVersionId": TOKEN,
            "RemoveFromVersionId": TOKEN, "VersionStage": "AWSCURRENT", "SecretString": "generated",
            "Region": "us-west-2", "ResourcePolicy": POLICY, "Key": "name", "Value": "v",
            "RotationLambdaARN": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:missing",
            "Role": f"arn:aws:iam::{ACCOUNT}:role/generated", "Handler": "lambda_function.lambda_handler",
            "Runtime": "python3.12", "ZipFile": ZIP, "StatementId": "generated", "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com", "Qualifier": "$LATEST", "Payload": b"{}", "ClientContext": "e30=",
            "InvocationType": "DryRun", "LogType": "None",
        }  # fmt: skip
        return values.get(member)


def sample(shape: Shape, name: str, targets: Targets, depth: int = 0) -> Any:
    """A plausible value of ``shape``: every member of a structure filled, to depth ``MAX_DEPTH``."""
    known = targets.known(name)
    if known is not None:
        return known
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure" and isinstance(shape, StructureShape):
        if depth >= MAX_DEPTH:
            return {}
        return {m: sample(sub, m, targets, depth + 1) for m, sub in shape.members.items()}
    if kind == "list":
        return [sample(shape.member, name, targets, depth + 1)]  # type: ignore[attr-defined]
    if kind == "map":
        return {"k": sample(shape.value, "", targets, depth + 1)}  # type: ignore[attr-defined]
    if kind in ("integer", "long"):
        return int(meta.get("min", 1))
    if kind in ("double", "float"):
        return float(meta.get("min", 1))
    if kind == "boolean":
        return False
    if kind == "blob":
        return b"x"
    if kind == "timestamp":
        return 1_700_000_000
    if shape.enum:
        return shape.enum[0]
    return "a" * max(int(meta.get("min", 1)), 1)


def wrong_type(shape: Shape) -> Any:
    return {"string": 123, "structure": [1], "list": {"a": 1}, "map": [1], "boolean": "yes"}.get(
        shape.type_name, "not a number"
    )


@dataclass(frozen=True)
class Mutation:
    path: tuple[str | int, ...]  # member names, 0 for a list's element, "k" for a map's value
    kind: str
    value: Any  # the new value; ``DROP`` removes the member
    risky: bool  # the request may well be valid: aim it at the scratch resources


DROP = object()


def mutations(shape: Shape, path: tuple[str | int, ...], required: bool, top: bool) -> Iterator[Mutation]:
    """Every mutation of the member at ``path`` and of the members inside it."""
    meta = shape.metadata
    yield Mutation(path, "mistype", wrong_type(shape), False)
    if shape.type_name == "string" and "max" in meta and meta["max"] < MAX_STRING:
        yield Mutation(path, "long", "a" * (int(meta["max"]) + 1), False)
    if shape.type_name == "string" and meta.get("min", 0) > 0:
        yield Mutation(path, "short", "a" * (int(meta["min"]) - 1), False)
    if shape.type_name == "string" and (shape.enum or "pattern" in meta):
        yield Mutation(path, "pattern", "<bad \u2028 value>"[: int(meta.get("max", 64))], False)
    if shape.type_name == "string" and not top:
        yield Mutation(path, "odd", "\u00e9\u2028\x00 " * 2, True)  # characters a nested member may not expect
    if shape.type_name == "list" and meta.get("min", 0) > 0:
        yield Mutation(path, "short", [], False)
    if shape.type_name in ("integer", "long"):
        if "min" in meta:
            yield Mutation(path, "below", int(meta["min"]) - 1, False)
        if "max" in meta:
            yield Mutation(path, "above", int(meta["max"]) + 1, False)
        yield Mutation(path, "huge", 2**64, False)
        yield Mutation(path, "fraction", 1.5, True)  # read as 1, as Jackson does
    if shape.type_name == "list" and "max" in meta:
        yield Mutation(path, "many", ["a"] * (int(meta["max"]) + 1), False)
    if not top or required:  # the wire layer reads a null anywhere as absent, so only these are sure to fail
        yield Mutation(path, "null", None, not top)
        if not isinstance(path[-1], int):
            yield Mutation(path, "drop", DROP, not top)
    if len(path) > MAX_DEPTH:
        return
    if shape.type_name == "structure" and isinstance(shape, StructureShape):
        for member, sub in shape.members.items():
            yield from mutations(sub, (*path, member), member in shape.required_members, False)
    elif shape.type_name == "list":
        yield from mutations(shape.member, (*path, 0), True, False)  # type: ignore[attr-defined]
    elif shape.type_name == "map":
        yield from mutations(shape.value, (*path, "k"), True, False)  # type: ignore[attr-defined]


def apply(op: OperationModel, mutation: Mutation, targets: Targets, *, full: bool) -> dict[str, Any]:
    """The request: the mutated member over the required ones and those with a known value, or over all."""
    shape = op.input_shape
    assert isinstance(shape, StructureShape)
    params = {m: sample(sub, m, targets) for m, sub in shape.members.items() if full or m in shape.required_members}
    params.update({m: v for m in shape.members if m not in params and (v := targets.known(m)) is not None})
    first = mutation.path[0]
    assert isinstance(first, str)
    if first not in params:
        params[first] = sample(shape.members[first], first, targets)
    holder: Any = params
    for step in mutation.path[:-1]:
        holder = holder[step]
    if mutation.value is DROP:
        del holder[mutation.path[-1]]
    else:
        holder[mutation.path[-1]] = copy.deepcopy(mutation.value)
    return params


def cases(service: str) -> Iterator[tuple[OperationModel, Mutation]]:
    model = spec.load(service)
    names = model.operation_names if service == "secretsmanager" else sorted(LAMBDA_OPERATIONS)
    for name in names:
        op = model.operation_model(name)
        shape = op.input_shape
        if not isinstance(shape, StructureShape):
            continue
        for member, sub in shape.members.items():
            for mutation in mutations(sub, (member,), member in shape.required_members, True):
                yield op, mutation


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def request_of(op: OperationModel, params: dict[str, Any]) -> dict[str, Any] | None:
    """The HTTP request for ``params`` as the service's protocol lays it out; None if it cannot be sent."""
    if op.metadata["protocol"] == "json":
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{op.metadata['targetPrefix']}.{op.name}",
        }
        body = json.dumps(params, default=_json_default).encode()
        return {"url_path": "/", "query_string": "", "method": "POST", "body": body, "headers": headers}
    shape = op.input_shape
    located = {m for m, s in shape.members.items() if s.serialization.get("location")}
    payload = shape.serialization.get("payload")  # a blob sent as the whole body (Invoke's Payload)
    if any(params.get(m, "") is None for m in located) or not isinstance(params.get(payload, b""), bytes):
        return None  # a null in a URI or header, or a payload that is not bytes, cannot be sent at all
    try:
        serializer = create_serializer(op.metadata["protocol"], include_validation=False)
        request = serializer.serialize_to_request({k: v for k, v in params.items() if k in located or k == payload}, op)
    except (TypeError, ValueError, AttributeError, KeyError):
        return None  # a URI or header member of a type the HTTP request cannot carry
    if not all(str(value).isascii() for value in request["headers"].values()):
        return None  # HTTP headers carry Latin-1 at most
    body = {k: v for k, v in params.items() if k not in located and k != payload}
    if body:
        request["body"] = json.dumps(body, default=_json_default).encode()
    return request


class Client:
    """Signed requests over one kept-alive connection."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.credentials = Credentials(*server.keys)
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    def send(self, op: OperationModel, request: dict[str, Any]) -> int:
        prepare_request_dict(request, self.server.endpoint)
        aws = create_request_object(request)
        SigV4Auth(self.credentials, op.metadata["signingName"], "us-east-1").add_auth(aws)
        url = urllib.parse.urlsplit(aws.url)
        target = url.path + (f"?{url.query}" if url.query else "")
        body = aws.body if isinstance(aws.body, bytes) else (aws.body or b"")
        self.connection.request(aws.method, target, body=body, headers=dict(aws.headers.items()))
        response = self.connection.getresponse()
        response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status


@pytest.fixture
def fixtures(server: LiveServer, sm: Any) -> Targets:
    secret = f"generated/{letters()}"
    sm.create_secret(Name=secret, SecretString="one", Tags=[{"Key": "t", "Value": "1"}])
    sm.put_secret_value(SecretId=secret, SecretString="two", VersionStages=["AWSCURRENT", "custom"])
    sm.put_secret_value(SecretId=secret, SecretBinary=b"\x00three", ClientRequestToken=TOKEN)
    sm.put_resource_policy(SecretId=secret, ResourcePolicy=POLICY)
    function = f"generated-{letters()}"
    execution_role(server.client("lambda"), "generated")
    server.client("lambda").create_function(
        FunctionName=function, Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/generated",
        Handler="lambda_function.lambda_handler", Code={"ZipFile": ZIP},
    )  # fmt: skip
    return Targets(secret, function)


def function_state(server: LiveServer, name: str) -> dict[str, Any]:
    got = server.client("lambda").get_function(FunctionName=name)
    got.pop("ResponseMetadata")
    got["Code"].pop("Location", None)
    return dict(got)


def test_generated_requests_never_fail_the_server(server: LiveServer, sm: Any, fixtures: Targets) -> None:
    scratch = Targets(f"generated/{letters()}", f"generated-{letters()}")
    sm.create_secret(Name=scratch.secret, SecretString="scratch")
    before = (snapshot(sm, fixtures.secret), function_state(server, fixtures.function))
    client = Client(server)
    sent, skipped, failures = 0, 0, []
    for service in ("secretsmanager", "lambda"):
        for (op, mutation), full in itertools.product(cases(service), (False, True)):
            targets = scratch if mutation.risky else fixtures
            request = request_of(op, apply(op, mutation, targets, full=full))
            if request is None:
                skipped += 1
                continue
            status = client.send(op, request)
            sent += 1
            if status >= 500:
                failures.append(f"{op.name} {mutation.kind} {'.'.join(map(str, mutation.path))}: {status}")
    assert not failures, "\n".join(failures)
    assert (snapshot(sm, fixtures.secret), function_state(server, fixtures.function)) == before
    print(f"{sent} requests sent, {skipped} not sendable")
    assert 1000 < sent < 5000, (sent, skipped)
    assert skipped < sent / 10, (sent, skipped)
