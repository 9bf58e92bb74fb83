"""Liveness and readiness probes, as a load balancer or Kubernetes calls them."""

from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from tests.api.rotation_helpers import wait_for
from tests.api.test_fleet import ADMIN_URL, database, node
from tests.conftest import LiveServer

__all__ = ["database"]  # the fixture, used by name


def probe(server: LiveServer, path: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"{server.endpoint}{path}", timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_an_embedded_node_is_alive_and_ready(server: LiveServer) -> None:
    assert probe(server, "/_tumbler/health") == (200, {"status": "ok"})
    assert probe(server, "/_tumbler/ready") == (200, {"status": "ready"})


def test_a_node_is_not_ready_while_its_database_is_unreachable(tmp_path: Path, database: str) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    live = node(tmp_path, database, key, 0).start()
    name = database.rsplit("/", 1)[1]
    try:
        assert probe(live, "/_tumbler/ready") == (200, {"status": "ready"})
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:  # no new connections, and the node's cut
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        status, body = probe(live, "/_tumbler/ready")
        assert (status, body["status"]) == (503, "unavailable"), body
        assert "postgres" not in body["reason"], body  # the reason never names the URL or its user
        assert probe(live, "/_tumbler/health") == (200, {"status": "ok"})  # alive: no restart needed
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        wait_for(lambda: probe(live, "/_tumbler/ready")[0] == 200, timeout=30)
        assert live.client().list_secrets()["SecretList"] == []
    finally:
        live.stop()
