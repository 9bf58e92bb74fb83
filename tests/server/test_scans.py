"""Listings are answered by the server's scan processes (server/scans.py), and survive one dying."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.conftest import LiveServer


def scan_processes(server_pid: int) -> list[int]:
    """The server's children started by multiprocessing's spawn (the scan processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
        if int(parent) == server_pid and b"multiprocessing" in cmdline and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_killed_scan_process_is_replaced_and_the_listing_answered(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data").start()
    try:
        sm = live.client()
        sm.create_secret(Name="scans/one", SecretString="v", ClientRequestToken="a" * 32)
        assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["scans/one"]
        assert live.process is not None
        children = scan_processes(live.process.pid)
        assert children, "ListSecrets ran in a scan process"
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["scans/one"]
        assert set(scan_processes(live.process.pid)).isdisjoint(children)
    finally:
        live.stop()
