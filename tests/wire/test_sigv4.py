"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from unittest import mock
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tumbler.wire.errors import WireError
from tumbler.wire.sigv4 import Caller, Verifier

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
OTHER_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEBYaDHsession+token/=="
NOW = datetime(2024, 1, 1, 0, 25, 0, tzinfo=UTC)
SM = "https://secretsmanager.us-east-1.amazonaws.com/"
LAMBDA = "https://lambda.us-east-1.amazonaws.com"
SM_HEADERS = {"X-Amz-Target": "secretsmanager.GetSecretValue", "Content-Type": "application/x-amz-json-1.1"}
SM_BODY = b'{"SecretId": "prod/db"}'
MISMATCH = (  # AWS's text, spelled out here so a typo in the module shows
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)
INCOMPLETE, INVALID = "IncompleteSignatureException", "InvalidSignatureException"


class Request(NamedTuple):
    method: str
    raw_path: str
    query_string: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _frozen(when: datetime) -> Any:
    return mock.patch("botocore.auth.get_current_datetime", return_value=when)


def _asgi(req: AWSRequest) -> Request:
    """What an ASGI server hands us for this request: the wire path, query and headers."""
    url = urlsplit(req.prepare().url)
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in req.headers.items()]
    if "host" not in req.headers:  # the HTTP client adds it, as botocore assumes when signing
        headers.append((b"host", url.netloc.encode()))
    body = req.body or b""
    if body:  # added after signing by the HTTP layer: an unsigned header
        headers.append((b"content-length", str(len(body)).encode()))
    return Request(req.method, url.path or "/", url.query, headers, body)


def _aws_request(
    method: str, url: str, body: bytes, headers: dict[str, str] | None, params: dict[str, str] | None
) -> AWSRequest:
    return AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}), params=dict(params or {}))


def sign(
    method: str = "POST",
    url: str = SM,
    body: bytes = SM_BODY,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    *,
    token: str | None = None,
    secret: str = SECRET,
    when: datetime = NOW,
    service: str = "secretsmanager",
    region: str = "us-east-1",
    presign: int | None = None,
) -> Request:
    """A request signed by botocore: header auth, or a presigned URL valid ``presign`` seconds."""
    req = _aws_request(method, url, body, SM_HEADERS if headers is None else headers, params)
    creds = Credentials(AKID, secret, token)
    signer = SigV4Auth(creds, service, region) if presign is None else SigV4QueryAuth(creds, service, region, presign)
    with _frozen(when):
        signer.add_auth(req)
    return _asgi(req)


def keys(key_id: str) -> str | None:
    return {AKID: SECRET}.get(key_id)


def verifier(**kwargs: Any) -> Verifier:
    return Verifier(keys, now=lambda: NOW, **kwargs)


def rejected(request: Request, verifier_: Verifier | None = None, **kwargs: Any) -> WireError:
    with pytest.raises(WireError) as caught:
        (verifier_ or verifier()).verify(*request, **kwargs)
    assert caught.value.status == 400  # AWS JSON services send 400 for every SigV4 rejection
    return caught.value


def replace_header(request: Request, name: str, value: str | None) -> Request:
    headers = [(k, v) for k, v in request.headers if k != name.encode()]
    if value is not None:
        headers.append((name.encode(), value.encode()))
    return request._replace(headers=headers)


def header(request: Request, name: str) -> str:
    return next(v.decode() for k, v in request.headers if k == name.encode())


CASES = [  # method, url, body, headers, params
    ("POST", SM, SM_BODY, SM_HEADERS, None),
    ("GET", SM, b"", {}, None),
    ("POST", f"{LAMBDA}/2015-03-31/functions/my%20func/invocations", b'{"x": 1}', {}, None),
    (
        "GET",
        f"{LAMBDA}/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/policy",
        b"",
        {},
        None,
    ),
    ("GET", f"{LAMBDA}/2015-03-31/functions/?b=2&a=1&a=0&empty=&flag&a-b=3", b"", {}, None),
    ("GET", f"{LAMBDA}/2015-03-31/functions/", b"", {}, {"Marker": "a b+c~/é", "MaxItems": "10"}),
    ("GET", "http://localhost:4566/a/./b/../c//d/", b"", {"X-Custom": "  spaced   out  value "}, None),
    ("DELETE", f"{LAMBDA}/2015-03-31/functions/f?Qualifier=%24LATEST", b"", {}, None),
]


@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize(("method", "url", "body", "headers", "params"), CASES)
def test_header_auth_signed_by_botocore_verifies(
    method: str, url: str, body: bytes, headers: dict[str, str], params: dict[str, str] | None, token: str | None
) -> None:
    request = sign(method, url, body, headers, params, token=token)
    assert verifier().verify(*request) == Caller(AKID, "us-east-1", "secretsmanager", token)


@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize(("method", "url", "body", "headers", "params"), CASES)
def test_any_change_to_a_signed_request_is_refused(
    method: str, url: str, body: bytes, headers: dict[str, str], params: dict[str, str] | None, token: str | None
) -> None:
    request = sign(method, url, body, headers, params, token=token)
    flipped = "1" if header(request, "authorization").endswith("0") else "0"
    tampered = [
        replace_header(request, "x-amz-date", header(request, "x-amz-date")[:-3] + "59Z"),
        request._replace(body=request.body + b" "),
        request._replace(method="PUT"),
        replace_header(request, "authorization", header(request, "authorization")[:-1] + flipped),
        replace_header(request, "x-amz-content-sha256", "0" * 64),
        replace_header(request, "x-amz-security-token", "swapped"),
    ]
    for bad in tampered:
        assert rejected(bad).code == INVALID


@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize(("method", "url", "body", "headers", "params"), CASES)
def test_presigned_url_signed_by_botocore_verifies(
    method: str, url: str, body: bytes, headers: dict[str, str], params: dict[str, str] | None, token: str | None
) -> None:
    body = b""  # SigV4QueryAuth moves a body into the query string
    request = sign(method, url, body, headers, params, token=token, presign=300)
    assert "X-Amz-Signature=" in request.query_string
    assert verifier().verify(*request) == Caller(AKID, "us-east-1", "secretsmanager", token)


@pytest.mark.parametrize(("method", "url", "body", "headers", "params"), CASES)
def test_canonical_request_is_botocores_byte_for_byte(
    method: str, url: str, body: bytes, headers: dict[str, str], params: dict[str, str] | None
) -> None:
    # Signed with another secret, so the error shows our canonical request and string to sign.
    req = _aws_request(method, url, body, headers, params)
    signer = SigV4Auth(Credentials(AKID, OTHER_SECRET), "secretsmanager", "us-east-1")
    with _frozen(NOW):
        signer.add_auth(req)
        authorization = req.headers["Authorization"]
        del req.headers["Authorization"]  # as the request was when botocore signed it
        canonical = signer.canonical_request(req)
        to_sign = signer.string_to_sign(req, canonical)
        req.headers["Authorization"] = authorization
    error = rejected(_asgi(req))
    assert error.code == INVALID
    assert error.message == (
        f"{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'"
        f"\n\nThe String-to-Sign should have been\n'{to_sign}'\n"
    )


class Captured(Exception):
    pass


@pytest.fixture
def real_client() -> Iterator[Any]:
    """A real botocore client factory whose requests stop right before the network."""
    session = botocore.session.get_session()
    sent: list[Any] = []

    def grab(request: Any, **_: Any) -> None:
        sent.append(request)
        raise Captured

    def make(service: str, token: str | None = None) -> Any:
        made = session.create_client(
            service,
            region_name="eu-west-3",
            aws_access_key_id=AKID,
            aws_secret_access_key=SECRET,
            aws_session_token=token,
        )
        made.meta.events.register("before-send", grab)
        made.sent = sent
        return made

    with _frozen(NOW):
        yield make


def _call(made: Any, operation: str, **params: Any) -> Request:
    with pytest.raises(Captured):
        getattr(made, operation)(**params)
    prepared = made.sent[-1]
    url = urlsplit(prepared.url)
    headers = [(k.lower().encode(), v if isinstance(v, bytes) else v.encode()) for k, v in prepared.headers.items()]
    headers.append((b"host", url.netloc.encode()))
    body = prepared.body or b""
    return Request(prepared.method, url.path, url.query, headers, body if isinstance(body, bytes) else body.encode())


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("secretsmanager", "get_secret_value", {"SecretId": "prod/db", "VersionStage": "AWSCURRENT"}),
        ("secretsmanager", "create_secret", {"Name": "n", "SecretString": "s3cr3t ünïcode"}),
        ("lambda", "invoke", {"FunctionName": "my func", "Payload": b"{}", "Qualifier": "$LATEST"}),
        ("lambda", "get_policy", {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f"}),
        ("lambda", "list_functions", {"MaxItems": 10, "Marker": "a b/c+d=="}),
    ],
)
@pytest.mark.parametrize("token", [None, TOKEN])
def test_requests_from_real_clients_verify(
    real_client: Any, service: str, operation: str, params: dict[str, Any], token: str | None
) -> None:
    request = _call(real_client(service, token), operation, **params)
    caller = verifier().verify(*request, service=service)
    assert caller == Caller(AKID, "eu-west-3", service, token)


def test_presigned_urls_from_real_clients_verify(real_client: Any) -> None:
    made = real_client("lambda", TOKEN)
    url = urlsplit(made.generate_presigned_url("get_function", Params={"FunctionName": "my func"}, ExpiresIn=60))
    request = Request("GET", url.path, url.query, [(b"host", url.netloc.encode())], b"")
    assert verifier().verify(*request, service="lambda") == Caller(AKID, "eu-west-3", "lambda", TOKEN)


def test_repeated_headers_are_joined_as_botocore_joins_them() -> None:
    req = _aws_request("POST", SM, SM_BODY, SM_HEADERS, None)
    req.headers["X-Amz-Meta"] = "first"
    req.headers["X-Amz-Meta"] = "  second   value "  # HTTPHeaders keeps both, as a wire request would
    with _frozen(NOW):
        SigV4Auth(Credentials(AKID, SECRET), "secretsmanager", "us-east-1").add_auth(req)
    request = _asgi(req)
    assert [v for k, v in request.headers if k == b"x-amz-meta"] == [b"first", b"  second   value "]
    assert verifier().verify(*request).access_key_id == AKID


def test_a_signed_date_header_in_http_format_verifies() -> None:
    request = sign(headers={**SM_HEADERS, "Date": "set by botocore"})
    assert header(request, "date") == "Mon, 01 Jan 2024 00:25:00 -0000"
    assert verifier().verify(*request).access_key_id == AKID


def test_a_tampered_body_is_refused() -> None:
    request = sign()._replace(body=b'{"SecretId": "prod/other"}')
    assert rejected(request).message.startswith(MISMATCH + "\n\n")


def test_a_tampered_signed_header_is_refused() -> None:
    request = replace_header(sign(), "x-amz-target", "secretsmanager.DeleteSecret")
    error = rejected(request)
    assert (error.code, error.message.split("\n\n")[0]) == (INVALID, MISMATCH)


def test_unsigned_extra_headers_are_fine() -> None:
    request = replace_header(sign(), "x-forwarded-for", "10.0.0.1")
    assert "x-forwarded-for" not in header(request, "authorization")
    assert verifier().verify(*request).access_key_id == AKID


def test_a_wrong_secret_key_is_refused_without_leaking_the_right_one() -> None:
    request = sign(secret=OTHER_SECRET)
    right_signature = header(sign(), "authorization").rpartition("Signature=")[2]
    error = rejected(request)
    assert error.code == INVALID
    assert error.message.startswith(MISMATCH)
    assert SECRET not in error.message
    assert right_signature not in error.message


def test_an_unknown_access_key_is_refused() -> None:
    error = rejected(sign(), Verifier(lambda _: None, now=lambda: NOW))
    assert (error.code, error.message) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )


@pytest.mark.parametrize(
    ("signed_at", "message"),
    [
        (
            datetime(2024, 1, 1, 0, 9, 59, tzinfo=UTC),
            "Signature expired: 20240101T000959Z is now earlier than 20240101T001000Z (20240101T002500Z - 15 min.)",
        ),
        (
            datetime(2024, 1, 1, 0, 40, 1, tzinfo=UTC),
            "Signature not yet current: 20240101T004001Z is still later than 20240101T004000Z "
            "(20240101T002500Z + 15 min.)",
        ),
    ],
)
def test_a_request_outside_the_clock_skew_is_refused(signed_at: datetime, message: str) -> None:
    error = rejected(sign(when=signed_at))
    assert (error.code, error.message) == (INVALID, message)


@pytest.mark.parametrize("signed_at", [NOW - timedelta(minutes=15), NOW + timedelta(minutes=15)])
def test_a_request_at_the_edge_of_the_clock_skew_is_accepted(signed_at: datetime) -> None:
    assert verifier().verify(*sign(when=signed_at)).access_key_id == AKID


def test_the_allowed_clock_skew_is_configurable() -> None:
    error = rejected(sign(when=NOW - timedelta(minutes=6)), verifier(max_skew=timedelta(minutes=5)))
    assert error.message == (
        "Signature expired: 20240101T001900Z is now earlier than 20240101T002000Z (20240101T002500Z - 5 min.)"
    )


@pytest.mark.parametrize(
    ("expires", "age", "message"),
    [
        (
            90,
            91,
            "Signature expired: 20240101T002329Z is now earlier than 20240101T002330Z (20240101T002500Z - 90 sec.)",
        ),
        (
            3600,
            15 * 60 + 1,
            "Signature expired: 20240101T000959Z is now earlier than 20240101T001000Z (20240101T002500Z - 15 min.)",
        ),
    ],
)
def test_an_expired_presigned_url_is_refused(expires: int, age: int, message: str) -> None:
    request = sign("GET", SM, b"", {}, presign=expires, when=NOW - timedelta(seconds=age))
    error = rejected(request)
    assert (error.code, error.message) == (INVALID, message)


def test_a_presigned_url_within_its_expiry_is_accepted() -> None:
    request = sign("GET", SM, b"", {}, presign=90, when=NOW - timedelta(seconds=90))
    assert verifier().verify(*request).access_key_id == AKID


@pytest.mark.parametrize("authorization", [None, "Bearer abc", "AWS AKIDEXAMPLE:c2lnbmF0dXJl", ""])
def test_a_request_without_sigv4_auth_is_refused(authorization: str | None) -> None:
    request = replace_header(sign(), "authorization", authorization)
    error = rejected(request)
    assert (error.code, error.message) == ("MissingAuthenticationTokenException", "Missing Authentication Token")


SCOPE = "AKIDEXAMPLE/20240101/us-east-1/secretsmanager/aws4_request"
NEEDS = "Authorization header requires '{}' parameter. "


@pytest.mark.parametrize(
    ("authorization", "code", "message"),
    [
        (
            "AWS4-HMAC-SHA256",
            INCOMPLETE,
            NEEDS.format("Credential")
            + NEEDS.format("Signature")
            + NEEDS.format("SignedHeaders")
            + "Authorization=AWS4-HMAC-SHA256",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host;x-amz-date",
            INCOMPLETE,
            NEEDS.format("Signature")
            + f"Authorization=AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host;x-amz-date",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=ab",
            INCOMPLETE,
            NEEDS.format("Credential") + "Authorization=AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=ab",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /20240101/us-east-1/secretsmanager/aws4_request, Signature=ab",
            INCOMPLETE,
            "'/20240101/us-east-1/secretsmanager/aws4_request' not a valid key=value pair (missing equal-sign) in "
            "Authorization header: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE /20240101/us-east-1/secretsmanager/"
            "aws4_request, Signature=ab'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=x-amz-date, Signature=ab",
            INVALID,
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            f"AWS4-HMAC-SHA512 Credential={SCOPE}, SignedHeaders=host, Signature=ab",
            INCOMPLETE,
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/aws4_request, SignedHeaders=host, Signature=ab",
            INCOMPLETE,
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            "got 'AKIDEXAMPLE/20240101/us-east-1/aws4_request'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231231//secretsmanager/aws4, SignedHeaders=host, Signature=ab",
            INVALID,
            "Credential should be scoped to a valid region, not ''. "
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4'. "
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            "'20231231' != '20240101', from '20240101T002500Z'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, "
            "Signature=ab",
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
    ],
)
def test_each_malformed_authorization_header_gets_awss_error(authorization: str, code: str, message: str) -> None:
    error = rejected(replace_header(sign(), "authorization", authorization))
    assert (error.code, error.message) == (code, message)


@pytest.mark.parametrize("date", ["20240101", "2024-01-01T00:25:00Z", "20241301T002500Z", "2024011T0025000Z"])
def test_a_malformed_date_is_refused(date: str) -> None:
    error = rejected(replace_header(sign(), "x-amz-date", date))
    assert (error.code, error.message) == (
        INCOMPLETE,
        f"Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601",
    )


def test_a_request_without_any_date_is_refused() -> None:
    request = replace_header(sign(), "x-amz-date", None)
    error = rejected(request)
    assert (error.code, error.message) == (
        INCOMPLETE,
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={header(request, 'authorization')}",
    )


def test_a_credential_for_another_service_is_refused_when_one_is_required() -> None:
    error = rejected(sign(service="lambda"), service="secretsmanager")
    assert (error.code, error.message) == (
        INVALID,
        "Credential should be scoped to correct service: 'secretsmanager'. ",
    )


def test_an_unsigned_session_token_is_refused() -> None:
    request = replace_header(sign(), "x-amz-security-token", TOKEN)
    error = rejected(request)
    assert (error.code, error.message) == (
        INVALID,
        "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.",
    )


def test_both_a_header_and_a_presigned_url_is_refused() -> None:
    presigned = sign("GET", SM, b"", {}, presign=60)
    request = presigned._replace(headers=sign("GET", SM, b"", {}).headers)
    error = rejected(request)
    assert (error.code, error.message) == (
        INVALID,
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    )


def test_a_presigned_url_missing_parameters_is_refused() -> None:
    request = sign("GET", SM, b"", {})._replace(query_string="X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=x")
    error = rejected(replace_header(request, "authorization", None))
    assert (error.code, error.message) == (
        INCOMPLETE,
        "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include "
        "'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
        "Re-examine the query-string parameters.",
    )


def test_a_presigned_url_with_a_bad_expiry_is_refused() -> None:
    request = sign("GET", SM, b"", {}, presign=60)
    request = request._replace(query_string=request.query_string.replace("X-Amz-Expires=60", "X-Amz-Expires=-1"))
    error = rejected(request)
    assert (error.code, error.message) == (INCOMPLETE, "X-Amz-Expires should be a number")


def test_content_sha256_must_be_the_hash_of_the_body() -> None:
    body_hash = hashlib.sha256(SM_BODY).hexdigest()
    signed = sign(headers={**SM_HEADERS, "X-Amz-Content-SHA256": body_hash})
    assert verifier().verify(*signed).access_key_id == AKID
    unsigned_payload = sign(headers={**SM_HEADERS, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert rejected(unsigned_payload).message.startswith(MISMATCH)
    lying = replace_header(sign(), "x-amz-content-sha256", hashlib.sha256(b"other").hexdigest())
    assert rejected(lying).message.startswith(MISMATCH)
    assert verifier().verify(*replace_header(sign(), "x-amz-content-sha256", body_hash)).access_key_id == AKID


def test_dev_mode_accepts_any_well_formed_request() -> None:
    dev = Verifier(lambda _: None, dev=True, now=lambda: NOW)
    for request in (sign(secret=OTHER_SECRET), sign(when=NOW - timedelta(days=30)), sign()._replace(body=b"{}")):
        assert dev.verify(*request) == Caller(AKID, "us-east-1", "secretsmanager", None)
    assert dev.verify(*sign(token=TOKEN, region="local")) == Caller(AKID, "local", "secretsmanager", TOKEN)


def test_dev_mode_still_refuses_malformed_requests() -> None:
    dev = Verifier(lambda _: None, dev=True, now=lambda: NOW)
    assert rejected(replace_header(sign(), "authorization", None), dev).code == "MissingAuthenticationTokenException"
    assert rejected(replace_header(sign(), "x-amz-date", "yesterday"), dev).code == INCOMPLETE
    no_key = "AWS4-HMAC-SHA256 Credential=/20240101/r/s/aws4_request, SignedHeaders=host, Signature=x"
    assert rejected(replace_header(sign(), "authorization", no_key), dev).code == "UnrecognizedClientException"


def test_the_signing_key_cache_is_bounded() -> None:
    small = verifier(key_cache_size=2)
    for region in ("us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"):
        assert small.verify(*sign(region=region)).region == region
        assert small.signing_keys.cache_info().currsize <= 2
    assert small.signing_keys.cache_info().currsize == 2


def test_a_cached_signing_key_does_not_outlive_a_rotated_secret() -> None:
    secrets = {AKID: SECRET}
    rotating = Verifier(secrets.get, now=lambda: NOW)
    request = sign()
    assert rotating.verify(*request).access_key_id == AKID
    secrets[AKID] = OTHER_SECRET
    assert rejected(request, rotating).code == INVALID
    assert rotating.verify(*sign(secret=OTHER_SECRET)).access_key_id == AKID


@pytest.mark.parametrize("value", ["a\x1cb", "x\x1f", "caf\xe9", "no\xa0break", "next\x85line"])
def test_header_values_are_trimmed_as_botocore_trims_them(value: str) -> None:
    # str.split() takes \x1c-\x1f, \x85 and \xa0 for white space and bytes.split() does not: botocore trims as str.
    request = sign(headers={**SM_HEADERS, "X-Custom": f" {value}  {value} "})
    assert verifier().verify(*request) == Caller(AKID, "us-east-1", "secretsmanager", None)


@pytest.mark.parametrize("value", ["x\x1f", "no\xa0break"])
def test_a_signature_over_values_trimmed_as_bytes_is_refused(value: str) -> None:
    # Signed by a client that trims as bytes do: not what botocore would sign.
    def bytes_trim(self: SigV4Auth, value: str) -> str:
        return b" ".join(value.encode("latin-1").split()).decode("latin-1")

    with mock.patch.object(SigV4Auth, "_header_value", bytes_trim):
        request = sign(headers={**SM_HEADERS, "X-Custom": value})
    assert rejected(request).code == INVALID


def test_a_signed_header_that_was_not_sent_counts_as_empty() -> None:
    # botocore signs an empty header as "name:"; a request that then leaves it out must read the same.
    request = replace_header(sign(headers={**SM_HEADERS, "X-Custom": ""}), "x-custom", None)
    assert b"x-custom" in header(request, "authorization").encode()
    assert verifier().verify(*request) == Caller(AKID, "us-east-1", "secretsmanager", None)


def test_a_request_that_does_not_sign_host_is_refused() -> None:
    headers_to_sign = SigV4Auth.headers_to_sign

    def without_host(self: SigV4Auth, request: Any) -> Any:
        signed = headers_to_sign(self, request)
        del signed["host"]
        return signed

    with mock.patch.object(SigV4Auth, "headers_to_sign", without_host):
        request = sign()
    assert "SignedHeaders=content-type;x-amz-date;x-amz-target," in header(request, "authorization")
    assert rejected(request).message == "'Host' must be a 'SignedHeader' in the AWS Authorization."


@pytest.mark.parametrize(
    ("rewrite", "code"),
    [
        (str.upper, INVALID),  # hex in capitals
        (lambda sig: f"{sig}, Extra=1", None),  # a field after the signature: ignored
        (lambda sig: f"{'0' * 64}, Signature={sig}", None),  # the field twice: the last one counts
        (lambda sig: f"{sig} ", None),
        (lambda sig: sig[:-1], INVALID),
        (lambda sig: "", INCOMPLETE),
    ],
)
def test_a_signature_out_of_the_usual_form(rewrite: Callable[[str], str], code: str | None) -> None:
    request = sign()
    head, _, signature = header(request, "authorization").rpartition(", Signature=")
    odd = replace_header(request, "authorization", f"{head}, Signature={rewrite(signature)}")
    if code is None:
        assert verifier().verify(*odd) == Caller(AKID, "us-east-1", "secretsmanager", None)
    else:
        assert rejected(odd).code == code
