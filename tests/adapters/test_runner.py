"""The function runner: Lambda's Python runtime, as a rotation function sees it, in worker processes."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from tumbler.adapters.runner.subprocess import MAX_LOG_BYTES, SubprocessRunner
from tumbler.ports.runner import FunctionSpec, InvokeRequest, InvokeResult

ENDPOINT = "http://127.0.0.1:9"
CREDS = {"AWS_ACCESS_KEY_ID": "AKIDTUMBLER", "AWS_SECRET_ACCESS_KEY": "sk-1", "AWS_SESSION_TOKEN": "tok-1"}


class MakeFn(Protocol):
    def __call__(self, code: str, **options: Any) -> FunctionSpec: ...


ECHO = """
import os

def lambda_handler(event, context):
    return {"event": event, "pid": os.getpid()}
"""


def make_fn(
    tmp_path: Path,
    code: str,
    *,
    name: str = "fn",
    handler: str = "lambda_function.lambda_handler",
    timeout: int = 2,
    env: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
) -> FunctionSpec:
    code_dir = tmp_path / name
    code_dir.mkdir()
    sources = {"lambda_function.py": code, **(files or {})}
    for rel, text in sources.items():
        (code_dir / rel).write_text(textwrap.dedent(text))
    digest = hashlib.sha256(json.dumps(sources, sort_keys=True).encode()).hexdigest()
    return FunctionSpec(
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        name=name,
        handler=handler,
        runtime="python3.12",
        code_dir=code_dir,
        code_sha256=digest,
        environment=env or {},
        timeout=timeout,
    )


def request(event: Any = None, *, redact: Sequence[str] = (), creds: Mapping[str, str] = CREDS) -> InvokeRequest:
    return InvokeRequest(
        event=json.dumps(event if event is not None else {}).encode(),
        request_id=str(uuid.uuid4()),
        credentials=creds,
        endpoint=ENDPOINT,
        region="eu-west-1",
        redact=lambda: redact,
    )


def body(result: InvokeResult) -> Any:
    return json.loads(result.payload)


def gone(pid: int, within: float = 3.0) -> bool:
    """The process no longer runs (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def make(tmp_path: Path) -> MakeFn:
    """``make(source, **options)``: a function in its own directory under tmp_path."""
    return functools.partial(make_fn, tmp_path)


@pytest.fixture
def runner() -> Iterator[SubprocessRunner]:
    r = SubprocessRunner()
    yield r
    r.close()


def test_event_in_return_value_out(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make(ECHO)
    event = {"SecretId": "arn:aws:secretsmanager:x", "Step": "createSecret", "ClientRequestToken": "t", "é": 1.5}
    result = runner.invoke(fn, request(event))
    assert result.function_error is None
    assert body(result)["event"] == event
    assert body(result)["pid"] != os.getpid()
    assert "é" in result.payload.decode()  # python3.12+ answers non-ASCII unescaped, as Lambda does


def test_none_is_null_and_bytes_pass_through(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make("""
        def lambda_handler(event, context):
            return b"\\x00raw" if event.get("raw") else None
    """)
    assert runner.invoke(fn, request()).payload == b"null"
    assert runner.invoke(fn, request({"raw": True})).payload == b"\x00raw"


def test_unserialisable_return_value_is_a_marshal_error(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make("def lambda_handler(event, context):\n    return {1, 2}\n")
    result = runner.invoke(fn, request())
    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.MarshalError"
    assert body(result)["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"


def test_an_event_that_is_not_json_is_an_unmarshal_error(runner: SubprocessRunner, make: MakeFn) -> None:
    req = InvokeRequest(b"{nope", "rid", CREDS, ENDPOINT, "eu-west-1")
    error = body(runner.invoke(make(ECHO), req))
    assert error["errorType"] == "Runtime.UnmarshalError"
    assert error["errorMessage"].startswith("Unable to unmarshal input: Expecting property name")


def test_context_object(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make(
        """
        import time

        def lambda_handler(event, context):
            before = context.get_remaining_time_in_millis()
            time.sleep(0.05)
            return {
                "name": context.function_name, "version": context.function_version,
                "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb,
                "request_id": context.aws_request_id, "group": context.log_group_name,
                "stream": context.log_stream_name, "client_context": context.client_context,
                "cognito": context.identity.cognito_identity_id,
                "before": before, "after": context.get_remaining_time_in_millis(),
            }
    """,
        name="rotator",
        timeout=2,
    )
    req = request()
    got = body(runner.invoke(fn, req))
    assert got["name"] == "rotator"
    assert got["version"] == "$LATEST"
    assert got["arn"] == fn.arn
    assert got["memory"] == "128"  # a string, as Lambda's Python runtime gives it
    assert got["request_id"] == req.request_id
    assert got["group"] == "/aws/lambda/rotator"
    assert "/[$LATEST]" in got["stream"]
    assert got["client_context"] is None
    assert got["cognito"] is None
    assert 1500 < got["before"] <= 2000
    assert got["after"] <= got["before"] - 40


def test_environment_is_lambdas_and_nothing_of_the_server(
    runner: SubprocessRunner, make: MakeFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUMBLER_MASTER_KEY", "canary-master-key")
    monkeypatch.setenv("AWS_PROFILE", "the-operators-profile")
    fn = make(
        """
        import os, sys

        def lambda_handler(event, context):
            return {"env": dict(os.environ), "path0": sys.path[0], "cwd": os.getcwd()}
    """,
        name="envy",
        env={"DB_HOST": "db.internal", "SECRETS_MANAGER_ENDPOINT": "https://real-aws", "TZ": "X"},
    )
    got = body(runner.invoke(fn, request()))
    env = got["env"]
    assert "TUMBLER_MASTER_KEY" not in env
    assert "AWS_PROFILE" not in env
    assert "canary-master-key" not in json.dumps(env)
    assert env["DB_HOST"] == "db.internal"
    assert env["SECRETS_MANAGER_ENDPOINT"] == ENDPOINT == env["AWS_ENDPOINT_URL"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "envy"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/envy"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert env["LAMBDA_TASK_ROOT"] == str(fn.code_dir) == got["path0"] == got["cwd"]
    assert env["TZ"] == ":UTC"
    assert env["LANG"]
    assert env["PATH"]
    assert {k: env[k] for k in CREDS} == CREDS


def test_dependencies_from_the_code_dir_and_boto3_import(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make(
        """
        import boto3
        import vendored_dep

        def lambda_handler(event, context):
            client = boto3.client("secretsmanager")
            creds = boto3.session.Session().get_credentials()
            return {"dep": vendored_dep.VALUE, "endpoint": client.meta.endpoint_url,
                    "region": client.meta.region_name, "key": creds.access_key}
    """,
        files={"vendored_dep.py": "VALUE = 'from the zip'\n"},
    )
    got = body(runner.invoke(fn, request()))
    assert got == {"dep": "from the zip", "endpoint": ENDPOINT, "region": "eu-west-1", "key": "AKIDTUMBLER"}


def test_credentials_are_set_per_invocation(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make("""
        import os
        import boto3

        def lambda_handler(event, context):
            creds = boto3.client("secretsmanager")._request_signer._credentials
            return [os.environ.get("AWS_SESSION_TOKEN"), creds.access_key, creds.token]
    """)
    assert body(runner.invoke(fn, request())) == ["tok-1", "AKIDTUMBLER", "tok-1"]
    second = runner.invoke(fn, request(creds={"AWS_ACCESS_KEY_ID": "AKID2", "AWS_SECRET_ACCESS_KEY": "sk-2"}))
    assert not second.cold_start
    assert body(second) == [None, "AKID2", None]


def test_output_and_logging_make_the_log(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make("""
        import logging, sys

        print("at init")
        logger = logging.getLogger()

        def lambda_handler(event, context):
            logging.info("hidden: the root logger starts at WARNING, as on Lambda")
            logger.setLevel(logging.INFO)  # what the AWS rotation templates do
            logger.info("setSecret: step %s", 1)
            logger.debug("hidden too")
            print("to stdout")
            print("to stderr", file=sys.stderr)
            print("no newline", end="")
    """)
    req = request()
    result = runner.invoke(fn, req)
    lines = result.log.splitlines()
    assert lines[0] == "at init"
    assert lines[1] == f"START RequestId: {req.request_id} Version: $LATEST"
    level, stamp, rid, message = lines[2].split("\t")
    assert (level, rid, message) == ("[INFO]", req.request_id, "setSecret: step 1")
    assert time.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert lines[3:6] == ["to stdout", "to stderr", "no newline"]
    assert lines[6] == f"END RequestId: {req.request_id}"
    assert lines[7].startswith(f"REPORT RequestId: {req.request_id}\tDuration: ")
    assert "\tMemory Size: 128 MB\tMax Memory Used: " in lines[7]
    assert "\tInit Duration: " in lines[7]
    assert len(lines) == 8


def test_secret_values_never_reach_the_log_or_error(runner: SubprocessRunner, make: MakeFn) -> None:
    secret = 'pa"ss\\wörd-42'
    fn = make("""
        import json, logging

        def lambda_handler(event, context):
            value = event["SecretString"]
            print(value)
            print(json.dumps({"password": value}))
            print({"password": value})
            logging.error("leaking %s", value)
            raise RuntimeError("bad password " + value)
    """)
    result = runner.invoke(fn, request({"SecretString": secret}, redact=[secret, ""]))
    error = body(result)
    for leaked in (secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], "wörd", "w\\u00f6rd"):
        assert leaked not in result.log
        assert leaked not in result.payload.decode()
    assert error["errorMessage"] == "bad password ****"
    assert result.log.count("****") == 5  # print, json.dumps, repr, logging, the [ERROR] line


def test_the_values_to_mask_are_asked_for_when_the_function_has_ended(
    runner: SubprocessRunner, make: MakeFn, tmp_path: Path
) -> None:
    """A value the function stores while it runs (createSecret's new password) is masked too."""
    stored = tmp_path / "stored"
    fn = make("""
        import uuid

        def lambda_handler(event, context):
            value = uuid.uuid4().hex
            with open(event["path"], "w") as out:
                out.write(value)
            print("new value", value)
            raise RuntimeError("could not use " + value)
    """)
    result = runner.invoke(fn, dataclasses.replace(request({"path": str(stored)}), redact=lambda: [stored.read_text()]))
    assert stored.read_text() not in result.log + result.payload.decode()
    assert "new value ****" in result.log
    assert body(result)["errorMessage"] == "could not use ****"


def test_a_secret_cut_by_the_log_limit_is_not_left_half_visible(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make(f"""
        import sys

        def lambda_handler(event, context):
            sys.stdout.write("x" * ({MAX_LOG_BYTES} - 4) + event["s"] + "\\n" + "more" * 1000)
    """)
    result = runner.invoke(fn, request({"s": "TOPSECRET1"}, redact=["TOPSECRET1"]))
    assert "TOPS" not in result.log
    assert "output past this point was dropped" in result.log
    assert "\nEND RequestId" in result.log


def test_exception_is_lambdas_error_object_and_the_worker_stays_warm(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make("""
        import os

        class ResourceNotFoundException(Exception):
            pass

        def lambda_handler(event, context):
            if event.get("fail"):
                raise ResourceNotFoundException("Secret not found")
            return os.getpid()
    """)
    req = request({"fail": True})
    first = runner.invoke(fn, req)
    assert first.function_error == "Unhandled"
    error = body(first)
    assert error["errorType"] == "ResourceNotFoundException"
    assert error["errorMessage"] == "Secret not found"
    assert error["requestId"] == req.request_id
    assert len(error["stackTrace"]) == 1  # the runtime's own frames are left out
    source = fn.code_dir / "lambda_function.py"
    assert error["stackTrace"][0].startswith(f'  File "{source}", line 9, in lambda_handler')
    assert "[ERROR] ResourceNotFoundException: Secret not found\nTraceback (most recent call last):\n" in first.log
    second = runner.invoke(fn, request())
    assert second.function_error is None
    assert not second.cold_start


@pytest.mark.parametrize(
    ("code", "handler", "error_type", "message"),
    [
        (
            "import not_installed_anywhere\n",
            "lambda_function.lambda_handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'lambda_function': No module named 'not_installed_anywhere'",
        ),
        (
            "x = 1\n",
            "lambda_function.lambda_handler",
            "Runtime.HandlerNotFound",
            "Handler 'lambda_handler' missing on module 'lambda_function'",
        ),
        (
            "x = 1\n",
            "nowhere.lambda_handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'nowhere': No module named 'nowhere'",
        ),
        (
            "x = 1\n",
            "lambda_function",
            "Runtime.MalformedHandlerName",
            "Bad handler 'lambda_function': not enough values to unpack (expected 2, got 1)",
        ),
        (
            "def lambda_handler(:\n",
            "lambda_function.lambda_handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'lambda_function': invalid syntax (lambda_function.py, line 1)",
        ),
    ],
)
def test_init_errors(
    runner: SubprocessRunner, make: MakeFn, code: str, handler: str, error_type: str, message: str
) -> None:
    fn = make(code, handler=handler)
    result = runner.invoke(fn, request())
    assert result.function_error == "Unhandled"
    error = body(result)
    assert (error["errorType"], error["errorMessage"], error["requestId"]) == (error_type, message, "")
    assert f"[ERROR] {error_type}: {message}" in result.log
    assert f"Status: error\tError Type: {error_type}" in result.log
    again = runner.invoke(fn, request())  # as on Lambda, every invocation retries the init
    assert again.cold_start
    assert body(again)["errorType"] == error_type


def test_init_has_its_own_time_limit(make: MakeFn) -> None:
    runner = SubprocessRunner(init_timeout=0.5)
    try:
        fn = make("import time\ntime.sleep(30)\n", timeout=1)  # the limit is the longer of the two
        req = request()
        result = runner.invoke(fn, req)
        expected = f"RequestId: {req.request_id} Error: Task timed out after 1.00 seconds"
        assert body(result) == {"errorMessage": expected, "errorType": "Sandbox.Timedout"}
        assert result.init_duration_ms is not None
        assert 1000 <= result.init_duration_ms < 2000
        assert "INIT_REPORT Init Duration: " in result.log
        assert "\tPhase: init\tStatus: timeout\n" in result.log
    finally:
        runner.close()


def test_timeout_kills_the_worker_and_its_children(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make(
        """
        import os, subprocess, sys, time

        def lambda_handler(event, context):
            if event.get("hang"):
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
                print("pids", os.getpid(), child.pid, flush=True)
                time.sleep(60)
            return os.getpid()
    """,
        timeout=1,
    )
    req = request({"hang": True})
    started = time.monotonic()
    result = runner.invoke(fn, req)
    assert time.monotonic() - started < 3
    assert result.function_error == "Unhandled"
    assert body(result) == {
        "errorMessage": f"RequestId: {req.request_id} Error: Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }
    assert 1000 <= result.duration_ms < 2000
    assert "\tStatus: timeout" in result.log
    worker_pid, child_pid = (int(p) for p in result.log.split("pids ")[1].split()[:2])
    assert gone(worker_pid)
    assert gone(child_pid)
    after = runner.invoke(fn, request())
    assert after.function_error is None
    assert after.cold_start
    assert body(after) != worker_pid


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("sys.exit(3)", "Runtime exited with error: exit status 3"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "Runtime exited with error: signal: killed"),
        ("sys.exit(0)", "Runtime exited without providing a reason"),
    ],
)
def test_a_crash_is_a_runtime_exit_error(runner: SubprocessRunner, make: MakeFn, statement: str, reason: str) -> None:
    fn = make(f"""
        import os, signal, sys

        def lambda_handler(event, context):
            if event.get("crash"):
                print("going down")
                {statement}
            return os.getpid()
    """)
    pid = body(runner.invoke(fn, request()))
    req = request({"crash": True})
    result = runner.invoke(fn, req)
    assert result.function_error == "Unhandled"
    expected = {"errorMessage": f"RequestId: {req.request_id} Error: {reason}", "errorType": "Runtime.ExitError"}
    assert body(result) == expected
    assert "going down\n" in result.log
    assert "\tStatus: error\tError Type: Runtime.ExitError" in result.log
    assert gone(pid)
    assert runner.invoke(fn, request()).cold_start


def test_warm_worker_keeps_module_state(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make("""
        count = 0

        def lambda_handler(event, context):
            global count
            count += 1
            return count
    """)
    results = [runner.invoke(fn, request()) for _ in range(3)]
    assert [body(r) for r in results] == [1, 2, 3]
    assert [r.cold_start for r in results] == [True, False, False]
    assert results[0].init_duration_ms is not None
    assert results[1].init_duration_ms is None
    assert "Init Duration" in results[0].log
    assert "Init Duration" not in results[1].log


def test_new_code_or_configuration_gets_a_new_worker(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make(ECHO)
    pid = body(runner.invoke(fn, request()))["pid"]
    for changed in (
        FunctionSpec(**{**vars(fn), "code_sha256": "another"}),
        FunctionSpec(**{**vars(fn), "environment": {"NEW": "1"}}),
    ):
        result = runner.invoke(changed, request())
        assert result.cold_start
        assert body(result)["pid"] != pid


SLOW = """
import os, time

def lambda_handler(event, context):
    time.sleep(0.4)
    return os.getpid()
"""


def invoke_together(runner: SubprocessRunner, fn: FunctionSpec, count: int) -> list[InvokeResult]:
    results: list[InvokeResult] = []
    threads = [threading.Thread(target=lambda: results.append(runner.invoke(fn, request()))) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_overlapping_invocations_run_in_separate_workers(runner: SubprocessRunner, make: MakeFn) -> None:
    fn = make(SLOW)
    results = invoke_together(runner, fn, 2)
    assert len({body(r) for r in results}) == 2
    assert all(r.cold_start for r in results)


def test_workers_per_function_are_bounded(make: MakeFn) -> None:
    runner = SubprocessRunner(max_workers=1)
    try:
        fn = make(SLOW)
        started = time.monotonic()
        results = invoke_together(runner, fn, 2)
        assert time.monotonic() - started >= 0.8  # one after the other
        assert len({body(r) for r in results}) == 1
        assert sorted(r.cold_start for r in results) == [False, True]
    finally:
        runner.close()


def test_idle_workers_are_reaped(make: MakeFn) -> None:
    now = [1000.0]
    runner = SubprocessRunner(idle_timeout=300, clock=lambda: now[0], reap_interval=None)
    try:
        fn = make(ECHO)
        pid = body(runner.invoke(fn, request()))["pid"]
        now[0] += 299
        assert runner.reap_idle() == 0
        assert not runner.invoke(fn, request()).cold_start
        now[0] += 300
        assert runner.reap_idle() == 1
        assert gone(pid)
        assert runner.invoke(fn, request()).cold_start
    finally:
        runner.close()


def test_the_reaper_thread_stops_idle_workers(make: MakeFn) -> None:
    runner = SubprocessRunner(idle_timeout=0.1, reap_interval=0.05)
    try:
        pid = body(runner.invoke(make(ECHO), request()))["pid"]
        assert gone(pid, within=2)
    finally:
        runner.close()


def test_close_stops_every_worker(make: MakeFn) -> None:
    runner = SubprocessRunner()
    fn = make(SLOW)
    pids = {body(r) for r in invoke_together(runner, fn, 2)}
    runner.close()
    assert len(pids) == 2
    assert all(gone(pid) for pid in pids)
    with pytest.raises(RuntimeError):
        runner.invoke(fn, request())


def test_close_ends_an_invocation_under_way(make: MakeFn) -> None:
    runner = SubprocessRunner()
    fn = make(SLOW.replace("0.4", "30"), timeout=60)
    results: list[InvokeResult] = []
    thread = threading.Thread(target=lambda: results.append(runner.invoke(fn, request())))
    thread.start()
    time.sleep(0.5)
    runner.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert body(results[0])["errorType"] == "Runtime.ExitError"
