"""What every Lambda operation shares: function identifiers, lookups, code packages, rendering.

A function's ``FunctionRecord.config`` holds Lambda's FunctionConfiguration fields exactly as
they are returned, plus private keys (a leading underscore, e.g. ``_Tags``) that never are.
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

from tumbler.core.arns import function_arn, function_not_found, parse_function_id
from tumbler.core.errors import InvalidParameter, NotFound, PreconditionNotMet
from tumbler.core.packages import unsafe_member
from tumbler.ops.context import Context, Params, Registry, Result
from tumbler.ports.store import FunctionRecord, Reader

operation = Registry("lambda")

LATEST = "$LATEST"
MAX_UNZIPPED = 262_144_000  # Lambda's 250 MB limit on a package's unzipped size
BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
EMPTY_ZIP = "Uploaded file must be a non-empty zip"
TOO_BIG_UNZIPPED = f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes"
QUALIFIER_MISMATCH = "The derived qualifier from the function name does not match the specified qualifier."
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def function_name(ctx: Context, identifier: str, qualifier: str | None = None) -> str:
    """The name of the unpublished ($LATEST) function ``identifier`` designates in the caller's region.

    Tumbler keeps no published versions or aliases: any other qualifier, or an ARN of another
    region or account, names a function that is not found.
    """
    name, derived, region, account = parse_function_id(identifier)
    if qualifier is not None and derived is not None and qualifier != derived:
        raise InvalidParameter(QUALIFIER_MISMATCH)
    wanted = qualifier or derived
    elsewhere = (region or ctx.region) != ctx.region or (account or ctx.account_id) != ctx.account_id
    if elsewhere or wanted not in (None, LATEST):
        arn = function_arn(region or ctx.region, account or ctx.account_id, name, wanted)
        raise NotFound(function_not_found(arn))
    return name


def find(reader: Reader, ctx: Context, params: Params) -> FunctionRecord:
    """The function a request's FunctionName (and Qualifier) designates."""
    name = function_name(ctx, params["FunctionName"], params.get("Qualifier"))
    record = reader.function(ctx.region, name)
    if record is None:
        raise NotFound(function_not_found(function_arn(ctx.region, ctx.account_id, name)))
    return record


def check_revision(record: FunctionRecord, params: Params, message: str = REVISION_MISMATCH) -> None:
    expected = params.get("RevisionId")
    if expected is not None and expected != record.config["RevisionId"]:
        raise PreconditionNotMet(message)


def revise(config: dict[str, Any]) -> None:
    """Any change to a function, its policy included, gives it a new RevisionId."""
    config["RevisionId"] = str(uuid.uuid4())


def touch(config: dict[str, Any], now: datetime) -> None:
    """A configuration or code change: a new RevisionId and LastModified."""
    revise(config)
    config["LastModified"] = lambda_date(now)


def lambda_date(moment: datetime) -> str:
    """Lambda's LastModified format: 2024-01-01T00:00:00.000+0000."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def code_sha256(code: bytes) -> str:
    """CodeSha256: the base64 of the package's SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(code).digest()).decode("ascii")


def check_zip(code: bytes) -> None:
    """A deployment package Tumbler can unpack, else Lambda's InvalidParameterValueException."""
    if not code:
        raise InvalidParameter(EMPTY_ZIP)
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise InvalidParameter(BAD_ZIP) from None
    if any(unsafe_member(m.filename) for m in members):
        raise InvalidParameter(BAD_ZIP)
    if sum(m.file_size for m in members) >= MAX_UNZIPPED:
        raise InvalidParameter(TOO_BIG_UNZIPPED)


def set_code(config: dict[str, Any], code: bytes) -> None:
    config["CodeSize"] = len(code)
    config["CodeSha256"] = code_sha256(code)


def configuration(config: dict[str, Any]) -> Result:
    """The FunctionConfiguration a response carries: the stored fields without the private ones."""
    return {k: v for k, v in config.items() if not k.startswith("_")}
