"""wrk, driven two ways: flat out (saturation), and paced to a fixed offered rate.

wrk can't hold a constant rate by itself and wrk2 isn't packaged by Debian, so the paced mode
uses wrk's own Lua ``delay()`` hook: every thread keeps one schedule of send slots (rate /
threads apart, on the monotonic clock through LuaJIT's FFI) and each connection that comes
free takes the next slot and waits for it. The offered rate then holds whatever the latency,
as long as some connection is free when a slot comes; a send that finds none is counted as
*late* (more than 1 ms after its slot). With late sends near 0 the latencies wrk records
(request written -> response read) are the latencies at that offered load; when they aren't,
the server did not keep up and the figures hide queueing (coordinated omission).

Both modes print wrk's summary and its latency histogram at fixed percentiles from ``done()``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import SignedRequest, wrk_lua

PERCENTILES = (1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97, 98, 99, 99.5, 99.7, 99.9, 99.95, 99.99)

REPORT_LUA = """
threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local e = summary.errors
  local late = 0
  for _, t in ipairs(threads) do late = late + (t:get("late") or 0) end
  io.write(string.format("RESULT requests %d duration_us %d late %d\\n", summary.requests, summary.duration, late))
  io.write(string.format("RESULT errors %d %d %d %d %d\\n", e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("RESULT max_us %d\\n", latency.max))
  for _, p in ipairs({PERCENTILES}) do
    io.write(string.format("RESULT pct %g %d\\n", p, latency:percentile(p)))
  end
end
""".replace("PERCENTILES", ", ".join(str(p) for p in PERCENTILES))

PACING_LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local interval = INTERVAL  -- ms between two sends of this thread
local next_slot = nil
late = 0
function delay()
  local now = now_ms()
  if next_slot == nil then next_slot = now end
  local slot = next_slot
  next_slot = next_slot + interval
  if now > slot + 1 then late = late + 1 end
  return math.max(0, math.floor(slot - now + 0.5))
end
"""


@dataclass
class WrkResult:
    connections: int
    rps: float
    latency_ms: dict[float, float]  # percentile -> ms
    max_ms: float
    errors: dict[str, int]  # connect, read, write, status (answers >= 400), timeout
    late: int = 0  # paced runs: sends more than 1 ms after their slot
    requests: int = 0


def write_script(path: Path, request: SignedRequest, rate: float | None = None, threads: int = 1) -> Path:
    """A wrk script sending ``request``; paced to ``rate`` requests/s in all when given."""
    text = wrk_lua(request) + REPORT_LUA
    if rate:
        text += PACING_LUA.replace("INTERVAL", repr(1000.0 * threads / rate))
    path.write_text(text)
    return path


def run(url: str, script: Path, connections: int, duration: float, threads: int = 1) -> WrkResult:
    """One wrk run; ``script`` from ``write_script`` (paced or not)."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(script), url]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=duration + 60)
    lines = [line.split()[1:] for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    fields: dict[str, list[str]] = {}
    latency: dict[float, float] = {}
    for words in lines:
        if words[0] == "pct":
            latency[float(words[1])] = int(words[2]) / 1000
        else:
            fields[words[0]] = words[1:]
    first = fields["requests"]
    requests, duration_us, late = int(first[0]), int(first[2]), int(first[4])
    errors = dict(zip(("connect", "read", "write", "status", "timeout"), map(int, fields["errors"]), strict=True))
    return WrkResult(
        connections=connections,
        rps=requests / (duration_us / 1e6),
        latency_ms=latency,
        max_ms=int(fields["max_us"][0]) / 1000,
        errors=errors,
        late=late,
        requests=requests,
    )


def version() -> str:
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).split("Copyright")[0].strip()
