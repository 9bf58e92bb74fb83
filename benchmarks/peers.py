"""The servers Tumbler is measured against, each on a free loopback port, stopped on exit.

- ``MotoServer``: moto's Secrets Manager (``python -m moto.server``), the usual local emulator.
- ``PythonCeiling``: ``ceiling_app.py`` on Tumbler's own HTTP stack (``tumbler.server.http``).
- ``Nginx``: nginx answering the same body with ``return 200``: what this machine's HTTP can do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from benchmarks.harness import free_port, wait_http

HERE = Path(__file__).resolve().parent
NGINX_WORKERS = 1  # one core for the server, one for wrk (-t1): the machine has 2


class Background:
    """A server subprocess on ``self.port``; output goes to ``log``."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def __enter__(self) -> Any:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"{self.name}.log").open("wb")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, env=self.environment())
        wait_http(self.endpoint + "/")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class MotoServer(Background):
    name = "moto"
    keys = ("testing", "testing")  # moto accepts any signature

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def client(self) -> Any:
        key_id, secret = self.keys
        return boto3.client(
            "secretsmanager", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=key_id, aws_secret_access_key=secret,
        )  # fmt: skip


class PythonCeiling(Background):
    name = "python-ceiling"

    def __init__(self, workdir: Path, body: bytes, workers: int = 1) -> None:
        super().__init__(workdir)
        self.body_file = workdir / "ceiling-body.json"
        self.body = body
        self.workers = workers

    def command(self) -> list[str]:
        self.body_file.write_bytes(self.body)
        return [sys.executable, "-m", "benchmarks.ceiling_app", str(self.port), str(self.workers)]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "CEILING_BODY": str(self.body_file), "PYTHONPATH": str(HERE.parent)}


class Nginx(Background):
    name = "nginx"

    def __init__(self, workdir: Path, body: bytes) -> None:
        super().__init__(workdir)
        self.body = body

    def command(self) -> list[str]:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        conf = self.workdir / "nginx.conf"
        conf.write_text(nginx_conf(self.workdir, self.port, self.body))
        return [nginx, "-p", str(self.workdir), "-c", str(conf), "-e", str(self.workdir / "error.log")]


def nginx_conf(workdir: Path, port: int, body: bytes) -> str:
    quoted = body.decode().replace("\\", "\\\\").replace("'", "\\'")
    temp = "\n".join(
        f"  {kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes {NGINX_WORKERS};
daemon off;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 1000000;  # the default (1000) would close connections that uvicorn keeps
{temp}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      default_type application/x-amz-json-1.1;
      return 200 '{quoted}';
    }}
  }}
}}
"""


def nginx_version() -> str:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    done = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False)
    return done.stderr.strip().removeprefix("nginx version: ")
