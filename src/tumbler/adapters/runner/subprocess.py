"""Runs Lambda functions in worker processes: the ``FunctionRunner`` port.

A worker is one execution environment (``bootstrap``) in its own session, so that killing it
kills the function's children too. Requests and replies are length-prefixed JSON on two
dedicated pipes; the worker's stdout and stderr share a third, read as the invocation's log.
Workers stay warm per function, code and configuration, serve one invocation at a time, at
most ``max_workers`` per function, and stop after ``idle_timeout`` seconds unused; one that
timed out or crashed is killed. An invocation's output is held in memory until it ends; then
``InvokeRequest.redact`` is asked for the secret values, which are replaced (raw, JSON- or
repr-escaped) in the log and error returned. The raw output is kept nowhere.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tumbler.adapters.runner import bootstrap
from tumbler.core.redact import forms as redaction_forms
from tumbler.core.redact import mask
from tumbler.ports.runner import FunctionSpec, InvokeRequest, InvokeResult

UNHANDLED = "Unhandled"
INIT_TIMEOUT = 10.0  # Lambda's limit on the Init phase (a longer function timeout is allowed instead)
MAX_LOG_BYTES = 4 * 1024 * 1024  # of output per phase; the rest is dropped
_CHUNK = 65536
_TRUNCATED = "[Tumbler: output past this point was dropped]\n"

Reply = dict[str, Any]


@dataclass
class _Capture:
    """What the function printed during one phase (init or invoke), bounded."""

    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def add(self, chunk: bytes) -> None:
        room = MAX_LOG_BYTES - len(self.data)
        self.truncated |= len(chunk) > room
        self.data += chunk[: max(room, 0)]

    def text(self, forms: list[str]) -> str:
        data = self.data
        if self.truncated:  # a secret cut in two would escape redaction: drop the cut end
            data = data[: max(len(data) - max((len(f.encode()) for f in forms), default=0), 0)]
        text = bytes(data).decode("utf-8", errors="replace")
        text += "\n" if text and not text.endswith("\n") else ""
        return text + (_TRUNCATED if self.truncated else "")


class _Worker:
    """One worker process and its pipes; used by one thread at a time."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.started = time.monotonic()
        request_r, self._request_w = os.pipe()
        self._reply_r, reply_w = os.pipe()
        self._out_r, out_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [*command, str(request_r), str(reply_w)],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(request_r, reply_w),
                start_new_session=True,
            )
        except BaseException:
            self._close_pipes()
            raise
        finally:
            for fd in (request_r, reply_w, out_w):
                os.close(fd)
        os.set_blocking(self._out_r, False)
        self._selector = selectors.DefaultSelector()
        for fd in (self._reply_r, self._out_r):
            self._selector.register(fd, selectors.EVENT_READ)
        self.last_used = 0.0
        self.rss_kb = 0
        self.timed_out = False

    def exchange(self, message: Reply | None, deadline: float, output: _Capture) -> Reply | None:
        """Send ``message`` (None: await the startup reply), collect the reply and the output.
        None: the worker timed out (``timed_out``) or died, and is dead now."""
        try:
            if message is not None:
                bootstrap.write_frame(self._request_w, message)
        except BrokenPipeError:
            self._ended(output, timed_out=False)
            return None
        pending = bytearray()
        while (reply := bootstrap.take_frame(pending)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._ended(output, timed_out=True)
                return None
            for key, _ in self._selector.select(remaining):
                if key.fd == self._out_r:
                    self._read_output(output)
                elif chunk := os.read(self._reply_r, _CHUNK):
                    pending += chunk
                else:
                    self._ended(output, timed_out=False)
                    return None
        self._read_output(output, drain=True)  # it flushed before replying: its output is all in the pipe
        self.rss_kb = reply.get("rss_kb", self.rss_kb)
        return dict(reply)

    def kill(self) -> None:
        """Kill the whole process group: the function's own children go too."""
        if self.process.returncode is None:  # once reaped, its pid may be another process's
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def dispose(self) -> None:
        self.kill()
        self._selector.close()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for fd in (self._request_w, self._reply_r, self._out_r):
            os.close(fd)

    def _read_output(self, output: _Capture, drain: bool = False) -> None:
        """Move what the output pipe holds (``drain``: until it is empty) into ``output``."""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self._out_r, _CHUNK):
                output.add(chunk)
                if not drain:
                    return
            with contextlib.suppress(KeyError):  # end of file: the function closed stdout and stderr
                self._selector.unregister(self._out_r)

    def _ended(self, output: _Capture, timed_out: bool) -> None:
        self.timed_out = timed_out
        self.kill()
        self._read_output(output, drain=True)


def _lost(worker: _Worker, request_id: str, timeout: int) -> Reply:
    """What Lambda's service answers for a runtime that timed out or died, with the REPORT status."""
    if worker.timed_out:
        message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        return {"error": {"errorMessage": message, "errorType": "Sandbox.Timedout"}, "status": "Status: timeout"}
    code = worker.process.returncode  # in the words of Go's exec.ExitError, as Lambda reports it
    if code == 0:
        reason = "Runtime exited without providing a reason"
    elif code > 0:
        reason = f"Runtime exited with error: exit status {code}"
    else:
        name = signal.strsignal(-code) or f"signal {-code}"
        reason = f"Runtime exited with error: signal: {name[:1].lower()}{name[1:]}"
    error = {"errorMessage": f"RequestId: {request_id} Error: {reason}", "errorType": "Runtime.ExitError"}
    return {"error": error, "status": "Status: error\tError Type: Runtime.ExitError"}


def _redact(value: Any, forms: list[str]) -> Any:
    if isinstance(value, str):
        return mask(value, forms)
    if isinstance(value, list):
        return [_redact(item, forms) for item in value]
    if isinstance(value, dict):
        return {k: _redact(v, forms) for k, v in value.items()}
    return value


@dataclass
class _Outcome:
    """What one invocation produced; ``result()`` makes it the ``InvokeResult``, redacted."""

    fn: FunctionSpec
    request: InvokeRequest
    cold: bool
    init_output: _Capture = field(default_factory=_Capture)
    output: _Capture = field(default_factory=_Capture)
    init_ms: float | None = None
    init_failed: bool = False
    duration_ms: float = 0.0
    rss_kb: int = 0
    reply: Reply = field(default_factory=dict)

    def result(self) -> InvokeResult:
        forms = redaction_forms(self.request.redact())  # asked now: what the function stored is included
        error = self.reply.get("error")
        payload = bootstrap.reply_payload(self.reply)
        if error is not None:
            ascii_only = bootstrap.ensure_ascii_for(f"AWS_Lambda_{self.fn.runtime}")
            payload = json.dumps(_redact(error, forms), ensure_ascii=ascii_only).encode()
        log = _redact(self._log(forms), forms)
        function_error = None if error is None else UNHANDLED
        return InvokeResult(payload, function_error, log, self.duration_ms, self.cold, self.init_ms)

    def _log(self, forms: list[str]) -> str:
        rid, status = self.request.request_id, self.reply.get("status")
        init = f"Init Duration: {self.init_ms:.2f} ms" if self.init_ms is not None else None
        report = f"REPORT RequestId: {rid}\tDuration: {self.duration_ms:.2f} ms"
        report += f"\tBilled Duration: {math.ceil(self.duration_ms)} ms\tMemory Size: {self.fn.memory_size} MB"
        report += f"\tMax Memory Used: {math.ceil(self.rss_kb / 1024)} MB"
        report += "".join(f"\t{f}" for f in (None if self.init_failed else init, status) if f)
        init_report = f"INIT_REPORT {init}\tPhase: init\t{status}\n" if self.init_failed else ""
        start, end = f"START RequestId: {rid} Version: $LATEST\n", f"END RequestId: {rid}\n"
        return self.init_output.text(forms) + init_report + start + self.output.text(forms) + end + report + "\n"


@dataclass
class _Pool:
    idle: list[_Worker] = field(default_factory=list)  # most recently used last
    live: int = 0  # idle, busy and starting workers


class SubprocessRunner:
    """The ``FunctionRunner``: warm worker processes per function, timeouts, redacted logs.

    ``clock`` (monotonic seconds) only decides idleness, so tests can age workers; a daemon
    thread calls ``reap_idle()`` every ``reap_interval`` seconds (None: only when called).
    """

    def __init__(
        self,
        *,
        max_workers: int = 4,
        idle_timeout: float = 300.0,
        init_timeout: float = INIT_TIMEOUT,
        reap_interval: float | None = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_workers, self._idle_timeout, self._init_timeout = max_workers, idle_timeout, init_timeout
        self._clock = clock
        self._command = [sys.executable, "-P", "-u", "-X", "utf8", "-m", "tumbler.adapters.runner.bootstrap"]
        self._cond = threading.Condition()
        self._pools: dict[tuple[object, ...], _Pool] = {}
        self._busy: set[_Worker] = set()
        self._closed = False
        self._stop = threading.Event()
        if reap_interval is not None:
            threading.Thread(target=self._reap_loop, args=(reap_interval,), name="runner-reaper", daemon=True).start()

    def invoke(self, fn: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        config = (fn.name, fn.handler, fn.runtime, str(fn.code_dir), tuple(sorted(fn.environment.items())))
        key = (fn.arn, fn.code_sha256, *config, fn.timeout, fn.memory_size, fn.role, request.region, request.endpoint)
        worker = self._checkout(key)
        outcome = _Outcome(fn, request, cold=worker is None)
        healthy = False
        try:
            if worker is None:
                worker = self._spawn(fn, request)
                if not self._init(worker, fn, request, outcome):
                    return outcome.result()
            healthy = self._run(worker, fn, request, outcome)
            return outcome.result()
        finally:
            self._checkin(key, worker, healthy)

    def reap_idle(self) -> int:
        """Stop the workers idle for ``idle_timeout`` seconds or more; returns how many."""
        now = self._clock()
        with self._cond:
            expired = self._take_idle(lambda w: now - w.last_used >= self._idle_timeout)
        for worker in expired:
            worker.dispose()
        return len(expired)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle = self._take_idle(lambda w: True)
            busy = list(self._busy)
            self._cond.notify_all()
        self._stop.set()
        for worker in busy:
            worker.kill()  # its invoking thread sees it end, answers, and disposes of it
        for worker in idle:
            worker.dispose()

    def _checkout(self, key: tuple[object, ...]) -> _Worker | None:
        """A warm worker, or None when the caller may start a new one."""
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the function runner is closed")
                pool = self._pools.setdefault(key, _Pool())
                if pool.idle:
                    worker = pool.idle.pop()
                    self._busy.add(worker)
                    return worker
                if pool.live < self._max_workers:
                    pool.live += 1
                    return None
                self._cond.wait()

    def _checkin(self, key: tuple[object, ...], worker: _Worker | None, healthy: bool) -> None:
        with self._cond:
            keep = worker is not None and healthy and not self._closed
            pool = self._pools[key]
            if worker is not None:
                self._busy.discard(worker)
                if keep:
                    worker.last_used = self._clock()
                    pool.idle.append(worker)
            if not keep:
                pool.live -= 1
                if not pool.live:
                    del self._pools[key]
            self._cond.notify_all()
        if worker is not None and not keep:
            worker.dispose()

    def _take_idle(self, selected: Callable[[_Worker], bool]) -> list[_Worker]:
        """Remove the selected idle workers from their pools; the caller holds the lock."""
        taken: list[_Worker] = []
        for key, pool in list(self._pools.items()):
            leaving = [w for w in pool.idle if selected(w)]
            pool.idle = [w for w in pool.idle if w not in leaving]
            pool.live -= len(leaving)
            taken += leaving
            if not pool.live:
                del self._pools[key]
        return taken

    def _spawn(self, fn: FunctionSpec, request: InvokeRequest) -> _Worker:
        worker = _Worker(self._command, bootstrap.lambda_environment(fn, request), fn.code_dir)
        with self._cond:
            self._busy.add(worker)
            if self._closed:  # close() ran while it started: this invocation ends as a crash
                worker.kill()
        return worker

    def _init(self, worker: _Worker, fn: FunctionSpec, request: InvokeRequest, outcome: _Outcome) -> bool:
        """Await the handler's import: True when ready, else the init error is in ``outcome``."""
        reply = worker.exchange(None, worker.started + max(self._init_timeout, fn.timeout), outcome.init_output)
        outcome.init_ms = (time.monotonic() - worker.started) * 1000
        outcome.rss_kb = worker.rss_kb
        if reply is not None and reply.get("ready"):
            return True
        outcome.reply = reply or _lost(worker, request.request_id, fn.timeout)
        outcome.reply.setdefault("status", f"Status: error\tError Type: {outcome.reply['error']['errorType']}")
        outcome.init_failed = True
        return False

    def _run(self, worker: _Worker, fn: FunctionSpec, request: InvokeRequest, outcome: _Outcome) -> bool:
        """One invocation on a ready worker; False if the worker cannot serve another."""
        message = bootstrap.invocation_message(fn, request, int(time.time() * 1000) + fn.timeout * 1000)
        started = time.monotonic()
        reply = worker.exchange(message, started + fn.timeout, outcome.output)
        outcome.duration_ms = (time.monotonic() - started) * 1000
        outcome.rss_kb = worker.rss_kb
        outcome.reply = reply or _lost(worker, request.request_id, fn.timeout)
        return reply is not None

    def _reap_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.reap_idle()
