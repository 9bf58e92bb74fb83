"""Fixtures that run Tumbler the way users do: a live server process and real AWS clients."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

from tumbler.server import credentials


def service_missing(what: str) -> None:
    """A test that needs a database server fails when it is not up: `make test` starts them, so a
    missing one is a broken set-up, never a reason to pass by skipping."""
    pytest.fail(f"{what} is not reachable; `make services` (part of `make test`) starts it", pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A ``tumbler server`` process on a free port with its own data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115 - lives with the process
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
        self.process = subprocess.Popen(
            cmd + self.extra_args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {log.name}")
            if self.healthy():
                return self
            time.sleep(0.05)
        raise RuntimeError("server did not start in 30 s")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_tumbler/health", timeout=1):
                return True
        except OSError:
            return False

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(timeout=15)

    @property
    def keys(self) -> tuple[str, str]:
        found = credentials.read_credentials(self.data_dir / "credentials")
        assert found is not None
        return found

    def client(self, service: str = "secretsmanager", region: str = "us-east-1", **kw: Any) -> Any:
        key_id, secret = kw.pop("keys", self.keys)
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=kw.pop("config", BotoConfig(retries={"max_attempts": 1})),
            **kw,
        )

    def cli_env(self, region: str = "us-east-1") -> dict[str, str]:
        key_id, secret = self.keys
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=key_id,
            AWS_SECRET_ACCESS_KEY=secret,
            AWS_DEFAULT_REGION=region,
            AWS_MAX_ATTEMPTS="1",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        return env

    def aws(self, *args: str, region: str = "us-east-1", check: bool = True) -> Any:
        """Run the real AWS CLI; returns parsed JSON output (or the CompletedProcess if check=False)."""
        done = subprocess.run(
            ["aws", *args, "--output", "json"], capture_output=True, text=True, env=self.cli_env(region), timeout=60
        )
        if not check:
            return done
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    fast_retries = {"TUMBLER_ROTATION_ATTEMPTS": "3", "TUMBLER_ROTATION_BACKOFF": "0.2"}
    live = LiveServer(tmp_path_factory.mktemp("tumbler") / "data", env=fast_retries).start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def sm(server: LiveServer) -> Any:
    return server.client()


@pytest.fixture
def name() -> str:
    """A secret name no other test (or run) uses."""
    return f"test/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def token() -> str:
    return str(uuid.uuid4())
