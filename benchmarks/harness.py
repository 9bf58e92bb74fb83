"""Shared pieces for benchmarks: a Tumbler process on a free port, and pre-signed requests for wrk."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TumblerProcess:
    """`tumbler server` in a subprocess, stopped on exit."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TumblerProcess:
        cmd = [
            sys.executable,
            "-m",
            "tumbler.cli",
            "server",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen([*cmd, *self.extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{self.endpoint}/_tumbler/health", timeout=1)  # noqa: S310
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("tumbler did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)

    def keys(self) -> tuple[str, str]:
        from tumbler.server.credentials import read_credentials

        found = read_credentials(self.data_dir / "credentials")
        assert found is not None
        return found

    def client(self, service: str = "secretsmanager") -> Any:
        key_id, secret = self.keys()
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=key_id, aws_secret_access_key=secret,
        )  # fmt: skip


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: str


def signed_request(server: TumblerProcess, operation: str, params: dict[str, Any]) -> SignedRequest:
    """One real SigV4-signed JSON 1.1 request, valid for the server's skew window (15 minutes)."""
    return sign(server.port, server.keys(), operation, params)


def sign(port: int, keys: tuple[str, str], operation: str, params: dict[str, Any]) -> SignedRequest:
    """A Secrets Manager request to 127.0.0.1:``port`` signed with ``keys`` (access key id, secret key)."""
    body = json.dumps(params)
    request = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{port}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"secretsmanager.{operation}",
        },
    )
    SigV4Auth(Credentials(*keys), "secretsmanager", "us-east-1").add_auth(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    headers["Host"] = f"127.0.0.1:{port}"
    return SignedRequest("POST", "/", headers, body)


def send(port: int, request: SignedRequest) -> tuple[int, bytes]:
    """Send ``request`` once; the status and body of the answer."""
    url = f"http://127.0.0.1:{port}{request.path}"
    req = urllib.request.Request(url, request.body.encode(), request.headers, method=request.method)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:  # noqa: S310
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Return once ``url`` answers at all (any HTTP status), polling every 20 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing answered at {url} within {timeout} s")


def vmrss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` (VmRSS), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """CPU time (user + system) used so far by process ``pid`` and every process below it (workers);
    with ``reaped``, also by the children that have exited and been waited for (PostgreSQL's backends)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            used = fields[11:15] if reaped else fields[11:13]  # utime, stime[, cutime, cstime]
            total += sum(int(f) for f in used) / os.sysconf("SC_CLK_TCK")
            pending += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


def idle_seconds() -> float:
    """Time every core of the machine has spent idle (or waiting on the disk) since boot, summed."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


def wrk_lua(request: SignedRequest) -> str:
    """A wrk script sending ``request`` on every call."""
    lines = [f'wrk.method = "{request.method}"', f"wrk.body = {json.dumps(request.body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in request.headers.items()]
    return "\n".join(lines) + "\n"
