"""The layers hold: import-linter's contracts (pyproject.toml) and a pure core that never reads a clock."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tumbler.core

CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def test_no_import_crosses_a_layer() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def clock_reads(source: str) -> list[str]:
    """Calls like ``datetime.now()`` or ``time.time()``: a pure rule takes the moment as an argument."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_READS:
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}()")
    return found


def test_core_reads_no_clock() -> None:
    core = Path(tumbler.core.__file__).parent
    offenders = {str(p.relative_to(core)): clock_reads(p.read_text()) for p in sorted(core.rglob("*.py"))}
    assert {name: calls for name, calls in offenders.items() if calls} == {}


def test_the_clock_check_sees_a_clock_read() -> None:
    assert clock_reads("from datetime import datetime\nx = datetime.now()\n") == ["line 2: datetime.now()"]
    assert clock_reads("def f(now):\n    return now.date()\n") == []
