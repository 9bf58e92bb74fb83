"""A function's lifecycle: create, read, list, update code and configuration, delete.

Tumbler applies a change before it answers, so a function is never Pending or InProgress:
State is always Active and LastUpdateStatus Successful (AWS answers CreateFunction with
Pending and updates with InProgress, then settles on these).
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from tumbler.core.arns import function_arn
from tumbler.core.errors import AlreadyExists, InvalidInput, InvalidParameter
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.lambda_ import common
from tumbler.ops.lambda_.common import LATEST, operation
from tumbler.ops.sts.sessions import LAMBDA, service_may_assume
from tumbler.ports.store import FunctionRecord

DEFAULT_TIMEOUT = 3
MAX_TIMEOUT = 900
DEFAULT_MEMORY = 128
PAGE_SIZE = 50  # ListFunctions returns at most 50 functions per call, whatever MaxItems says
DEPRECATED = frozenset({"python2.7", "python3.6", "python3.7", "python3.8"})
NO_RUNTIME = "Runtime and Handler are mandatory parameters for functions created with deployment packages."
NO_CODE = "Please provide a source for function code."
ZIP_ONLY = "Tumbler accepts deployment packages as ZipFile only: S3 and container image code are not supported."
RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})  # fmt: skip
RESERVED_MESSAGE = (
    "Lambda was unable to configure your environment variables because the environment variables you have "
    "provided contains reserved keys that are currently not supported for modification. "
    "Reserved keys used in this request: {}"
)
# Only ListFunctions leaves these out; GetFunction has them.
NOT_LISTED = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
              "LastUpdateStatusReasonCode", "RuntimeVersionConfig")  # fmt: skip
# Built-in functions (the rotators of adapters/rotators/) are the host's, in every region, and read-only:
# changing one is refused as Lambda refuses to change a replicated (Lambda@Edge) function.
BUILTIN_READ_ONLY = "Function {} is a Tumbler built-in function and is read-only: it cannot be updated or deleted."
BUILTIN_SINCE = datetime(2025, 1, 1, tzinfo=UTC)  # built-ins change only with Tumbler itself
# A function of the user's own (with its own execution role) whose handler is ``tumbler.builtin.NAME`` runs the
# built-in rotator ``tumbler-NAME`` in-process, as that role.
BUILTIN_HANDLER = "tumbler.builtin."
# Lambda's answer (HTTP 400 InvalidParameterValueException) when the role does not exist or does not trust it.
ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


@operation("CreateFunction")
def create_function(ctx: Context, params: Params) -> Result:
    name = common.function_name(ctx, params["FunctionName"])
    if params.get("PackageType") == "Image":
        raise InvalidParameter(ZIP_ONLY)
    handler = params.get("Handler") or ""
    code = _builtin_code(ctx, params) if _names_builtin(handler) else _zip_from(params["Code"])
    if not params.get("Runtime") or not handler:
        raise InvalidParameter(NO_RUNTIME)
    config = _new_config(ctx, name, params, code)
    _apply_settings(config, params)
    _check_role(ctx, config["Role"])  # last: every other refusal comes first
    with ctx.store.transaction() as uow:
        if uow.function(ctx.region, name) is not None or name in ctx.services.functions.builtins:
            raise AlreadyExists(f"Function already exist: {name}")
        uow.put_function(FunctionRecord(config["FunctionArn"], name, ctx.region, config, code))
    return common.configuration(config)


def _new_config(ctx: Context, name: str, params: Params, code: bytes) -> dict[str, Any]:
    config: dict[str, Any] = {
        "FunctionName": name,
        "FunctionArn": function_arn(ctx.region, ctx.account_id, name),
        "Role": params["Role"],
        "Description": "",
        "Timeout": DEFAULT_TIMEOUT,
        "MemorySize": DEFAULT_MEMORY,
        "Version": LATEST,
        "TracingConfig": {"Mode": "PassThrough"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": params.get("Architectures") or ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
    common.set_code(config, code)
    common.touch(config, ctx.now)
    if params.get("Tags"):
        config["_Tags"] = dict(params["Tags"])
    return config


def _check_role(ctx: Context, role_arn: str) -> None:
    """The execution role must exist and trust Lambda: the runner assumes it for every invocation."""
    with ctx.store.reader() as reader:
        if service_may_assume(reader, role_arn, LAMBDA, ctx.now) is None:
            raise InvalidParameter(ROLE_NOT_ASSUMABLE)


def _names_builtin(handler: str) -> bool:
    return handler.startswith(BUILTIN_HANDLER)


def _builtin_handler(ctx: Context, handler: str) -> str:
    """The built-in rotator a ``tumbler.builtin.NAME`` handler names (``tumbler-NAME``), or Lambda's refusal."""
    builtin = "tumbler-" + handler.removeprefix(BUILTIN_HANDLER)
    names = sorted(ctx.services.functions.builtins)
    if builtin not in names:
        known = ", ".join(BUILTIN_HANDLER + name.removeprefix("tumbler-") for name in names)
        raise InvalidParameter(f"Handler {handler} names no Tumbler built-in function; they are: {known}.")
    return builtin


def _builtin_code(ctx: Context, params: Params) -> bytes:
    """A function whose handler is a built-in runs no package: Code may be empty (``--code '{}'``); a package
    given anyway is checked and kept, and never run."""
    _builtin_handler(ctx, params["Handler"])
    code: dict[str, Any] = params["Code"]
    given = any(code.get(key) is not None for key in ("ZipFile", "S3Bucket", "S3Key", "ImageUri"))
    return _zip_from(code) if given else b""


def _zip_from(code: dict[str, Any]) -> bytes:
    """The deployment package of a Code (or UpdateFunctionCode) request."""
    if code.get("ZipFile") is not None:
        zipped: bytes = code["ZipFile"]
        common.check_zip(zipped)
        return zipped
    if code.get("S3Bucket") or code.get("S3Key") or code.get("ImageUri"):
        raise InvalidParameter(ZIP_ONLY)
    raise InvalidParameter(NO_CODE)


def _apply_settings(config: dict[str, Any], params: Params) -> None:
    """The settings CreateFunction and UpdateFunctionConfiguration share, checked, onto ``config``."""
    if "Runtime" in params:
        config["Runtime"] = _runtime(params["Runtime"])
        config["RuntimeVersionConfig"] = {"RuntimeVersionArn": _runtime_version_arn(config)}
    for key in ("Role", "Handler", "Description", "MemorySize"):
        if key in params:
            config[key] = params[key]
    if "Timeout" in params:
        config["Timeout"] = _timeout(params["Timeout"])
    if "Environment" in params:
        config["Environment"] = {"Variables": _environment(params["Environment"].get("Variables", {}))}
    if "TracingConfig" in params:
        config["TracingConfig"] = {"Mode": params["TracingConfig"].get("Mode", "PassThrough")}
    if "EphemeralStorage" in params:
        config["EphemeralStorage"] = {"Size": params["EphemeralStorage"]["Size"]}
    if "LoggingConfig" in params:
        config["LoggingConfig"] = {**config["LoggingConfig"], **params["LoggingConfig"]}


def _runtime(runtime: str) -> str:
    """Only Python runs here (on the server's own interpreter); other runtimes get Lambda's refusal."""
    if not runtime.startswith("python3.") or runtime in DEPRECATED:
        raise InvalidParameter(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
            "functions. We recommend you use a supported runtime while creating or updating functions."
        )
    return runtime


def _runtime_version_arn(config: dict[str, Any]) -> str:
    region = config["FunctionArn"].split(":")[3]
    digest = hashlib.sha256(config["Runtime"].encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def _timeout(seconds: int) -> int:
    # The model declares only the minimum; Lambda's own validator has the maximum.
    if seconds > MAX_TIMEOUT:
        raise InvalidInput(
            f"1 validation error detected: Value '{seconds}' at 'timeout' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_TIMEOUT}"
        )
    return seconds


def _environment(variables: dict[str, str]) -> dict[str, str]:
    reserved = [key for key in variables if key in RESERVED_ENV]
    if reserved:
        raise InvalidParameter(RESERVED_MESSAGE.format(", ".join(reserved)))
    return dict(variables)


@operation("GetFunction")
def get_function(ctx: Context, params: Params) -> Result:
    builtin = _builtin(ctx, params)
    if builtin is not None:  # no package to point at: Code is left out
        return {"Configuration": common.configuration(builtin)}
    with ctx.store.reader() as reader:
        record = common.find(reader, ctx, params)
    out: Result = {
        "Configuration": common.configuration(record.config),
        "Code": {"RepositoryType": "S3", "Location": _code_location(ctx, record)},
    }
    if record.config.get("_Tags"):
        out["Tags"] = record.config["_Tags"]
    return out


def _code_location(ctx: Context, record: FunctionRecord) -> str:
    # AWS answers a presigned S3 URL valid for 10 minutes; Tumbler does not serve packages over HTTP (yet).
    return f"{ctx.services.endpoint}/_tumbler/functions/{record.region}/{record.name}/code"


@operation("GetFunctionConfiguration")
def get_function_configuration(ctx: Context, params: Params) -> Result:
    builtin = _builtin(ctx, params)
    if builtin is not None:
        return common.configuration(builtin)
    with ctx.store.reader() as reader:
        return common.configuration(common.find(reader, ctx, params).config)


@operation("ListFunctions")
def list_functions(ctx: Context, params: Params) -> Result:
    """Functions by name; the marker is the name the next page starts after."""
    size = min(params.get("MaxItems", PAGE_SIZE), PAGE_SIZE)
    marker = params.get("Marker")
    with ctx.store.reader() as reader:
        configs = {r.name: r.config for r in reader.list_functions(ctx.region)}
    configs.update({name: _builtin_config(ctx, name) for name in ctx.services.functions.builtins})
    names = sorted(name for name in configs if marker is None or name > marker)
    page = names[:size]
    out: Result = {"Functions": [_listed(configs[name]) for name in page]}
    if len(names) > size:
        out["NextMarker"] = page[-1]
    return out


def _listed(config: dict[str, Any]) -> Result:
    return {k: v for k, v in common.configuration(config).items() if k not in NOT_LISTED}


@operation("UpdateFunctionCode")
def update_function_code(ctx: Context, params: Params) -> Result:
    _refuse_builtin(ctx, params)
    code = _zip_from(params)
    with ctx.store.transaction() as uow:
        record = common.find(uow, ctx, params)
        common.check_revision(record, params)
        config = dict(record.config)
        common.set_code(config, code)
        if params.get("Architectures"):
            config["Architectures"] = params["Architectures"]
        if params.get("DryRun"):  # validated, nothing changed
            return common.configuration(config)
        common.touch(config, ctx.now)
        uow.put_function(dataclasses.replace(record, config=config, code_zip=code))
    return common.configuration(config)


@operation("UpdateFunctionConfiguration")
def update_function_configuration(ctx: Context, params: Params) -> Result:
    _refuse_builtin(ctx, params)
    if "Handler" in params and _names_builtin(params["Handler"]):
        _builtin_handler(ctx, params["Handler"])
    if "Role" in params:
        _check_role(ctx, params["Role"])
    with ctx.store.transaction() as uow:
        record = common.find(uow, ctx, params)
        common.check_revision(record, params)
        if not record.code_zip and not _names_builtin(params.get("Handler", BUILTIN_HANDLER)):
            raise InvalidParameter(NO_CODE)  # a built-in's function has no package to run another handler from
        _apply_settings(record.config, params)
        common.touch(record.config, ctx.now)
        uow.put_function(record)
    return common.configuration(record.config)


@operation("DeleteFunction")
def delete_function(ctx: Context, params: Params) -> Result:
    _refuse_builtin(ctx, params)
    with ctx.store.transaction() as uow:
        record = common.find(uow, ctx, params)
        uow.delete_function(ctx.region, record.name)
    return {"StatusCode": 204}  # the model says 200; Lambda answers 204 No Content


# -- built-in functions ------------------------------------------------------------------------------
def _builtin(ctx: Context, params: Params) -> dict[str, Any] | None:
    name = common.function_name(ctx, params["FunctionName"], params.get("Qualifier"))
    return _builtin_config(ctx, name) if name in ctx.services.functions.builtins else None


def _refuse_builtin(ctx: Context, params: Params) -> None:
    builtin = _builtin(ctx, params)
    if builtin is not None:
        raise InvalidParameter(BUILTIN_READ_ONLY.format(builtin["FunctionName"]))


def builtin_revision(name: str) -> str:
    """A built-in never changes: its RevisionId (its policy's too) is fixed."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tumbler:builtin:{name}"))


def _builtin_config(ctx: Context, name: str) -> dict[str, Any]:
    """A built-in's FunctionConfiguration: no package (CodeSize 0), its fixed settings as Environment."""
    fn = ctx.services.functions.builtins[name]
    return {
        "FunctionName": name,
        "FunctionArn": function_arn(ctx.region, ctx.account_id, name),
        "Runtime": "python3.12",
        "Handler": "tumbler.builtin",
        "CodeSize": 0,
        "CodeSha256": common.code_sha256(b""),
        "Description": fn.description,
        "Timeout": MAX_TIMEOUT,  # not enforced: a built-in's own connect timeouts bound it
        "MemorySize": DEFAULT_MEMORY,
        "LastModified": common.lambda_date(BUILTIN_SINCE),
        "Version": LATEST,
        "Environment": {"Variables": dict(fn.environment)},
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": builtin_revision(name),
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
