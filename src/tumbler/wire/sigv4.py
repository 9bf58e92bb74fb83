"""AWS Signature Version 4 verification of every incoming request.

Header auth (``Authorization`` with ``X-Amz-Date`` or ``Date``) and presigned URLs both work. The canonical request
is rebuilt exactly as botocore's ``SigV4Auth`` builds it for non-S3 services; checks run in the order AWS's JSON
services run them, with their codes, messages and HTTP 400. Region and service come from the credential scope
(regions are namespaces in Tumbler: any non-empty one will do). A presigned URL lives until ``X-Amz-Expires`` or
the clock skew runs out, whichever is first.

``dev=True`` is emulator mode for throwaway local use, as with moto or LocalStack: requests must still be
well-formed SigV4, but the key is not looked up and neither the clock, the body hash nor the signature is checked.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote, unquote_plus

from tumbler.wire.errors import WireError

ALGORITHM, STAMP = "AWS4-HMAC-SHA256", "%Y%m%dT%H%M%SZ"
INCOMPLETE, INVALID = "IncompleteSignatureException", "InvalidSignatureException"

# AWS's own texts, as Secrets Manager, DynamoDB and the other JSON services send them (shorter ones are inline).
UNKNOWN_KEY = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
EXPLAIN = (
    "\n\nThe Canonical String for this request should have been\n'{}'\n\nThe String-to-Sign should have been\n'{}'\n"
)
BOTH = "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
BAD_DATE = "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601"
NOT_A_PAIR = "'{}' not a valid key=value pair (missing equal-sign) in Authorization header: '{}'."
EXPIRED = "Signature expired: {} is now earlier than {} ({} - {})"
NOT_YET = "Signature not yet current: {} is still later than {} ({} + {})"
MUST_SIGN = "'{}' must be a 'SignedHeader' in the AWS Authorization."
FIVE_PARTS = "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'"
BAD_SCOPE_DATE = "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "

Pairs = list[tuple[str, str]]
Headers = dict[str, str]
_HEADER_PARTS = ("Credential", "Signature", "SignedHeaders")  # in the order AWS lists them as missing
_QUERY_PARTS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")


class Caller(NamedTuple):
    """Who signed the request, and for which region and service."""

    access_key_id: str
    region: str  # from the credential scope: regions are namespaces in Tumbler
    service: str  # from the credential scope
    session_token: str | None


class _Claims(NamedTuple):  # what a request says about its signature, whichever way it was sent
    algorithm: str
    credential: str
    signature: str
    signed_headers: str
    stamp: str
    expires: int | None  # X-Amz-Expires: presigned URLs only
    token: str | None
    presigned: bool


def _fail(code: str, message: str) -> WireError:
    return WireError(code, message, 400)  # AWS JSON services answer every SigV4 rejection with 400


def _derive_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _trim(value: str) -> str:
    return " ".join(value.split())


def _header_map(headers: list[tuple[bytes, bytes]]) -> Headers:
    out: Headers = {}
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        out[name] = f"{_trim(out[name])},{_trim(value)}" if name in out else value  # as botocore joins them
    return out


def _query_pairs(query: str) -> Pairs:
    # latin-1 both ways keeps every byte, so re-encoding gives back exactly the bytes that were signed;
    # '+' is a space, as botocore's urlencode() writes it.
    pairs: Pairs = []
    for piece in query.split("&") if query else ():
        key, _, value = piece.partition("=")
        pairs.append((unquote_plus(key, "latin-1"), unquote_plus(value, "latin-1")))
    return pairs


def _canonical_query(pairs: Pairs) -> str:
    if not pairs:
        return ""
    encoded = sorted((quote(k, "-_.~", "latin-1"), quote(v, "-_.~", "latin-1")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)  # sorted by encoded key, then encoded value


def _canonical_uri(raw_path: str) -> str:
    segments: list[str] = []
    for segment in raw_path.split("/"):  # RFC 3986 dot segments; AWS drops empty ones too
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    path = ("/" if raw_path.startswith("/") else "") + "/".join(segments)
    path += "/" if raw_path.endswith("/") and segments else ""
    return quote(path or "/", "/~", "latin-1")  # encoded once more: "my%20func" -> "my%2520func"


def _canonical_request(method: str, path: str, pairs: Pairs, claims: _Claims, headers: Headers, body_hash: str) -> str:
    if claims.presigned:  # the signature cannot sign itself
        pairs = [(key, value) for key, value in pairs if key != "X-Amz-Signature"]
    names = claims.signed_headers.lower().split(";")
    canonical_headers = "".join(f"{name}:{_trim(headers.get(name, ''))}\n" for name in names)
    head = f"{method.upper()}\n{_canonical_uri(path)}\n{_canonical_query(pairs)}\n{canonical_headers}"
    return f"{head}\n{claims.signed_headers}\n{body_hash}"


def _parse_stamp(s: str) -> datetime:
    # By hand: strptime accepts short fields such as '2024011T...'.
    if len(s) == 16 and s[8] == "T" and s[15] == "Z" and s.isascii() and (s[:8] + s[9:15]).isdigit():
        try:
            return datetime(int(s[:4]), int(s[4:6]), int(s[6:8]), int(s[9:11]), int(s[11:13]), int(s[13:15]), 0, UTC)
        except ValueError:
            pass
    raise _fail(INCOMPLETE, BAD_DATE.format(s))


def _http_date(value: str) -> str:
    try:  # botocore sends a Date header in HTTP's format; the string to sign has it as ISO-8601 basic
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return value  # for _parse_stamp to accept as ISO-8601 basic, or refuse
    return f"{moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC):{STAMP}}"


def _span(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} sec."


def _auth_fields(auth: str) -> tuple[str, dict[str, str]]:
    algorithm, _, rest = auth.strip().partition(" ")
    fields: dict[str, str] = {}
    for piece in rest.replace(",", " ").split():
        key, eq, value = piece.partition("=")
        if not eq:
            raise _fail(INCOMPLETE, NOT_A_PAIR.format(piece, auth))
        fields[key] = value
    return algorithm, fields


def _header_claims(auth: str, headers: Headers) -> _Claims:
    algorithm, fields = _auth_fields(auth)
    stamp = headers.get("x-amz-date") or _http_date(headers.get("date", ""))
    missing = [f"Authorization header requires '{part}' parameter. " for part in _HEADER_PARTS if not fields.get(part)]
    if not stamp:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
    if missing:
        raise _fail(INCOMPLETE, "".join(missing) + f"Authorization={auth}")
    signed, token = fields["SignedHeaders"], headers.get("x-amz-security-token")
    return _Claims(algorithm, fields["Credential"], fields["Signature"], signed, stamp, None, token, False)


def _query_claims(params: dict[str, str]) -> _Claims:
    missing = [f"AWS query-string parameters must include '{part}'. " for part in _QUERY_PARTS if not params.get(part)]
    if missing:
        raise _fail(INCOMPLETE, "".join(missing) + "Re-examine the query-string parameters.")
    expires = params.get("X-Amz-Expires")
    if expires is not None and not (expires.isascii() and expires.isdigit() and len(expires) <= 18):
        raise _fail(INCOMPLETE, "X-Amz-Expires should be a number")
    algorithm, credential, signature, signed, stamp = (params[part] for part in _QUERY_PARTS)
    expiry = None if expires is None else int(expires)
    return _Claims(algorithm, credential, signature, signed, stamp, expiry, params.get("X-Amz-Security-Token"), True)


def _claims(headers: Headers, params: dict[str, str]) -> _Claims:
    auth = headers.get("authorization")
    if "X-Amz-Algorithm" in params:
        if auth is not None:
            raise _fail(INVALID, BOTH)
        return _query_claims(params)
    if auth is None or not auth.strip().startswith("AWS4-"):
        raise _fail("MissingAuthenticationTokenException", "Missing Authentication Token")
    return _header_claims(auth, headers)


def _check_scope(claims: _Claims, service: str | None) -> list[str]:
    """The access key id, date, region and service of a well-formed credential."""
    signed = claims.signed_headers.lower().split(";")
    if "host" not in signed:
        raise _fail(INVALID, MUST_SIGN.format("Host"))
    if claims.algorithm != ALGORITHM:
        raise _fail(INCOMPLETE, f"Unsupported AWS 'algorithm': '{claims.algorithm}' (only {ALGORITHM} for now). ")
    parts = claims.credential.rstrip("/").split("/")
    if len(parts) != 5:
        raise _fail(INCOMPLETE, FIVE_PARTS.format(claims.credential))
    key_id, date, region, scoped_service, terminator = parts
    problems = "" if region else f"Credential should be scoped to a valid region, not '{region}'. "
    if service is not None and scoped_service != service:
        problems += f"Credential should be scoped to correct service: '{service}'. "
    if terminator != "aws4_request":
        problems += f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
    if date != claims.stamp[:8]:
        problems += f"{BAD_SCOPE_DATE}'{date}' != '{claims.stamp[:8]}', from '{claims.stamp}'."
    if problems:
        raise _fail(INVALID, problems)
    if claims.token is not None and not claims.presigned and "x-amz-security-token" not in signed:
        raise _fail(INVALID, MUST_SIGN.format("X-Amz-Security-Token"))  # an unsigned token could be swapped
    if not key_id:
        raise _fail("UnrecognizedClientException", UNKNOWN_KEY)
    return parts[:4]


class Verifier:
    """Checks the SigV4 signature of each request. ``lookup(access_key_id)`` is the secret key, or None if unknown."""

    def __init__(
        self,
        lookup: Callable[[str], str | None],
        *,
        dev: bool = False,
        max_skew: timedelta = timedelta(minutes=15),
        now: Callable[[], datetime] = _utc_now,  # timezone-aware UTC, as Clock.now() gives
        key_cache_size: int = 1024,
    ) -> None:
        self._lookup = lookup
        self._dev = dev
        self._max_skew = max_skew
        self._now = now
        # Kept for GetSecretValue's throughput target (≥ 10,000 requests/s): the key is four HMACs over
        # (secret, date, region, service), the same for a client all day.
        self.signing_keys = lru_cache(maxsize=key_cache_size)(_derive_key)

    def verify(
        self,
        method: str,
        raw_path: str,
        query_string: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        service: str | None = None,
    ) -> Caller:
        """The caller of a correctly signed request, else the ``WireError`` AWS would send. ``raw_path`` and
        ``query_string`` are the wire bytes decoded as latin-1; with ``service``, the scope must name it."""
        header_map = _header_map(headers)
        pairs = _query_pairs(query_string)
        params = dict(reversed(pairs))  # the first of repeated parameters wins
        claims = _claims(header_map, params)
        when = _parse_stamp(claims.stamp)
        if not self._dev:
            self._check_clock(claims, when)
        scope = _check_scope(claims, service)
        key_id, _, region, scoped_service = scope
        if not self._dev:
            body_hash = _sha256(body)
            canonical = _canonical_request(method, raw_path, pairs, claims, header_map, body_hash)
            # x-amz-content-sha256 stands in for the body in what was signed: it must be the body's hash.
            body_ok = header_map.get("x-amz-content-sha256", body_hash) == body_hash
            self._check_signature(claims, scope, canonical, body_ok)
        return Caller(key_id, region, scoped_service, claims.token)

    def _check_clock(self, claims: _Claims, when: datetime) -> None:
        now = self._now().replace(microsecond=0)  # whole seconds, as AWS compares them
        skew = window = self._max_skew
        if claims.expires is not None:  # capped first: a huge X-Amz-Expires would overflow timedelta
            window = timedelta(seconds=min(claims.expires, skew.total_seconds()))
        stamp = claims.stamp
        if when < now - window:
            raise _fail(INVALID, EXPIRED.format(stamp, f"{now - window:{STAMP}}", f"{now:{STAMP}}", _span(window)))
        if when > now + skew:
            raise _fail(INVALID, NOT_YET.format(stamp, f"{now + skew:{STAMP}}", f"{now:{STAMP}}", _span(skew)))

    def _check_signature(self, claims: _Claims, scope: list[str], canonical: str, body_ok: bool) -> None:
        key_id, date, region, service = scope
        secret = self._lookup(key_id)
        if secret is None:
            raise _fail("UnrecognizedClientException", UNKNOWN_KEY)
        digest = _sha256(canonical.encode())
        to_sign = f"{ALGORITHM}\n{claims.stamp}\n{date}/{region}/{service}/aws4_request\n{digest}"
        key = self.signing_keys(secret, date, region, service)
        expected = hmac.digest(key, to_sign.encode(), "sha256").hex()
        if not hmac.compare_digest(expected.encode(), claims.signature.encode()) or not body_ok:
            raise _fail(INVALID, MISMATCH + EXPLAIN.format(canonical, to_sign))
