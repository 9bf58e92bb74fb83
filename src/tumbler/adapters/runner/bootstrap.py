"""The child side of the function runner: one Lambda execution environment.

Started as ``python -P -u -X utf8 -m tumbler.adapters.runner.bootstrap REQUEST_FD REPLY_FD``
in the function's code directory with only the function's environment. It imports the
handler once (the cold start) and answers ``{"ready": true}`` or the init error, then
serves invocations one at a time. Both pipes carry frames: a 4-byte big-endian length and
that many bytes of UTF-8 JSON. Standard output and error belong to the function: the
parent reads them as the invocation's log, so nothing of the protocol goes there.

What the function sees follows AWS Lambda's Python runtime (awslambdaric): the context
object, the root logger's handler and format, the error objects and their messages.
Only the standard library is imported here, before the code directory joins sys.path,
so a module shipped with the function cannot shadow what the runtime uses. The parent
imports this module too, for the frame format and ``lambda_environment``: the variables
this loop and the function read, defined in one place.
"""

from __future__ import annotations

import base64
import contextlib
import decimal
import importlib
import json
import logging
import os
import resource
import struct
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from tumbler.ports.runner import FunctionSpec, InvokeRequest

HEADER = struct.Struct(">I")
CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"

Handler = Callable[[Any, "LambdaContext"], Any]

_request_id = ""  # the invocation under way, for the log format's %(aws_request_id)s


class Fault(Exception):
    """A runtime-detected error, reported with Lambda's ``Runtime.*`` errorType."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type, self.message, self.trace = error_type, message, trace or []


class CognitoIdentity:
    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


class LambdaContext:
    """The handler's ``context`` argument, with the attributes Lambda's Python runtime sets."""

    def __init__(self, request_id: str, invoked_arn: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a str, as on Lambda
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = CognitoIdentity()
        self.client_context: object | None = None
        self.tenant_id: str | None = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))


class _StdoutHandler(logging.Handler):
    # Looks sys.stdout up per record: a function may replace it.
    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


def _add_request_id(record: logging.LogRecord) -> bool:
    record.aws_request_id = _request_id
    return True


def setup_logging() -> None:
    """Lambda's root logger: a handler in its format, the level left at WARNING unless
    AWS_LAMBDA_LOG_LEVEL says otherwise, so ``logger.setLevel(INFO)`` is what turns info on."""
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_add_request_id)
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)


def load_handler(spec: str) -> Handler:
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {e}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise Fault("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {modname} as a handler module")
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise Fault("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}") from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace) from None
    try:
        handler: Handler = getattr(module, fname)
    except AttributeError:
        raise Fault("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'") from None
    return handler


def error_object(error_type: str, message: str, trace: list[str], request_id: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace}


def exception_object(exc: BaseException, request_id: str) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    first = next((i for i, frame in enumerate(frames) if frame.filename != __file__), len(frames))
    trace = traceback.format_list(frames[first:])  # the runtime's own frames are not the function's
    return error_object(type(exc).__name__, str(exc), trace, request_id)


def log_error(error: Mapping[str, Any]) -> None:
    """The ``[ERROR] Type: message`` block Lambda's runtime prints for an error."""
    head = "[ERROR]"
    if error["errorType"]:
        head += " " + error["errorType"] + (":" if error["errorMessage"] else "")
    if error["errorMessage"]:
        head += " " + error["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    lines += [line for entry in error["stackTrace"] for line in entry.splitlines()]
    sys.stdout.write("\n".join(lines) + "\n")


def ensure_ascii_for(execution_env: str) -> bool:
    """Lambda's python3.12 and later runtimes answer non-ASCII unescaped; older ones escape it."""
    version = execution_env.removeprefix("AWS_Lambda_python")
    try:
        return tuple(int(part) for part in version.split(".")) < (3, 12)
    except ValueError:
        return False


def _json_default(obj: object) -> object:
    if isinstance(obj, decimal.Decimal):  # Lambda's encoder accepts Decimal (DynamoDB numbers)
        return int(obj) if obj.is_finite() and obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def marshal(result: object) -> dict[str, Any]:
    if isinstance(result, bytes):  # Lambda passes bytes through unchanged
        return {"payload_b64": base64.b64encode(result).decode()}
    ascii_only = ensure_ascii_for(os.environ.get("AWS_EXECUTION_ENV", ""))
    try:
        return {"payload": json.dumps(result, ensure_ascii=ascii_only, default=_json_default)}
    except Exception as e:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {e}") from None


def set_credentials(credentials: Mapping[str, str]) -> None:
    wanted = {k: v for k, v in credentials.items() if k in CREDENTIAL_KEYS}
    if wanted == {k: os.environ[k] for k in CREDENTIAL_KEYS if k in os.environ}:
        return
    for key in CREDENTIAL_KEYS:
        os.environ.pop(key, None)
    os.environ.update(wanted)
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:  # its default session caches the credentials it resolved first
        setattr(boto3, "DEFAULT_SESSION", None)  # noqa: B010 - a module attribute mypy cannot see


def max_rss_kb() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss  # bytes on macOS, KiB elsewhere


def flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a function may have closed or replaced it
            stream.flush()


def invoke(handler: Handler, message: Mapping[str, Any]) -> dict[str, Any]:
    global _request_id
    request_id = _request_id = message["id"]
    set_credentials(message["credentials"])
    context = LambdaContext(request_id, message["arn"], message["deadline_ms"])
    try:
        try:
            event = json.loads(message["event"])
        except ValueError as e:
            raise Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}") from None
        reply = marshal(handler(event, context))
    except Fault as fault:
        reply = {"error": error_object(fault.error_type, fault.message, fault.trace, request_id)}
    except Exception as exc:  # SystemExit and KeyboardInterrupt end the process, as on Lambda
        reply = {"error": exception_object(exc, request_id)}
    if "error" in reply:
        log_error(reply["error"])
    flush_output()  # before the reply, so the parent has all of the output when it reads it
    reply["rss_kb"] = max_rss_kb()
    return reply


# The parent's side of the contract: what a worker starts with, and the frames it reads and writes.


def lambda_environment(fn: FunctionSpec, request: InvokeRequest) -> dict[str, str]:
    """The environment a worker starts with (built by the parent): Lambda's defined runtime
    variables over the function's own, and nothing of the server's."""
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LANG": "en_US.UTF-8",
        # Not Lambda's: keep boto3 off the server user's ~/.aws files and the EC2 metadata service.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **{k: v for k, v in fn.environment.items() if k not in CREDENTIAL_KEYS},
    }
    env.update(
        _HANDLER=fn.handler,
        AWS_REGION=request.region,
        AWS_DEFAULT_REGION=request.region,
        AWS_EXECUTION_ENV=f"AWS_Lambda_{fn.runtime}",
        AWS_LAMBDA_FUNCTION_NAME=fn.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(fn.memory_size),
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{fn.name}",
        AWS_LAMBDA_LOG_STREAM_NAME=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
        LAMBDA_TASK_ROOT=str(fn.code_dir),
        TZ=":UTC",
        AWS_ENDPOINT_URL=request.endpoint,
        SECRETS_MANAGER_ENDPOINT=request.endpoint,  # what the AWS rotation templates call
    )
    env.update((k, v) for k, v in request.credentials.items() if k in CREDENTIAL_KEYS)
    env.update({"AWS_CA_BUNDLE": ca} if (ca := os.environ.get("TUMBLER_CA_BUNDLE")) else {})  # a self-signed server
    return env


def invocation_message(fn: FunctionSpec, request: InvokeRequest, deadline_ms: int) -> dict[str, Any]:
    """The request frame ``invoke`` reads."""
    event = request.event.decode("utf-8", errors="replace")
    return {
        "id": request.request_id,
        "event": event,
        "arn": fn.arn,
        "deadline_ms": deadline_ms,
        "credentials": dict(request.credentials),
    }


def reply_payload(reply: Mapping[str, Any]) -> bytes:
    """The return value a successful reply carries, as Lambda answers it."""
    if "payload_b64" in reply:
        return base64.b64decode(reply["payload_b64"])
    return str(reply.get("payload", "null")).encode()


def take_frame(pending: bytearray) -> Any:
    """The first whole message in ``pending`` (removed from it), or None if none is whole yet."""
    if len(pending) < HEADER.size:
        return None
    end = HEADER.size + HEADER.unpack_from(pending)[0]
    if len(pending) < end:
        return None
    message = json.loads(pending[HEADER.size : end])
    del pending[:end]
    return message


def read_frame(fd: int, pending: bytearray) -> Any:
    """The next message, or None when the parent has closed the pipe."""
    while (message := take_frame(pending)) is None:
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        pending += chunk
    return message


def write_frame(fd: int, message: Mapping[str, Any]) -> None:
    body = json.dumps(message).encode()
    view = memoryview(HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view) :]


def _fail_init(reply_fd: int, error: dict[str, Any]) -> NoReturn:
    log_error(error)
    flush_output()
    write_frame(reply_fd, {"error": error, "rss_kb": max_rss_kb()})
    sys.exit(1)  # as Lambda's runtime does: the next invocation starts a fresh environment


def die_with_parent(interval: float = 0.2) -> None:
    """If the server dies (even by SIGKILL), its workers die too: a resumed rotation step must
    never run beside an orphan still running the same step. (PR_SET_PDEATHSIG would follow the
    spawning *thread*, which in a thread pool may end long before the server does.)"""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> None:
    die_with_parent()
    request_fd, reply_fd = int(argv[1]), int(argv[2])
    for fd in (request_fd, reply_fd):
        os.set_inheritable(fd, False)  # the function's own child processes must not hold them
    sys.argv = argv[:1]
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    setup_logging()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except Fault as fault:
        _fail_init(reply_fd, error_object(fault.error_type, fault.message, fault.trace, ""))
    except Exception as exc:
        _fail_init(reply_fd, exception_object(exc, ""))
    flush_output()
    write_frame(reply_fd, {"ready": True, "rss_kb": max_rss_kb()})
    pending = bytearray()
    while (message := read_frame(request_fd, pending)) is not None:
        write_frame(reply_fd, invoke(handler, message))


if __name__ == "__main__":
    main(sys.argv)
