"""SQLite's read cache across processes: the shared change counter beside the database file."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tumbler.adapters.store.generation import Generation
from tumbler.adapters.store.sqlite import SqliteStore
from tumbler.core.secrets import AWSCURRENT, Secret, VersionInfo

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gen-AbCdEf"

# Another process moves AWSCURRENT, as a second `--workers` process or `tumbler import` would.
OTHER_PROCESS = f"""
import sys
from datetime import UTC, datetime
from pathlib import Path
from tumbler.adapters.store.sqlite import SqliteStore
from tumbler.core.secrets import AWSCURRENT, AWSPREVIOUS, VersionInfo
store = SqliteStore(Path(sys.argv[1]))
with store.transaction() as uow:
    uow.put_version({ARN!r}, VersionInfo("v2", datetime(2026, 3, 1, tzinfo=UTC)), b"two")
    uow.set_stages({ARN!r}, {{AWSCURRENT: "v2", AWSPREVIOUS: "v1"}})
store.close()
"""


def _blob(store: SqliteStore) -> bytes | None:
    found = store.read_value("us-east-1", "gen", version_id=None, stage=AWSCURRENT)
    assert found is not None
    assert found.stored is not None
    return found.stored.blob


def test_a_write_by_another_process_ends_the_cached_read(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    with store.transaction() as uow:
        uow.insert_secret(Secret(arn=ARN, name="gen", region="us-east-1", created=T0, last_changed=T0), b"k")
        uow.put_version(ARN, VersionInfo("v1", T0), b"one")
        uow.set_stages(ARN, {AWSCURRENT: "v1"})
    assert _blob(store) == _blob(store) == b"one"  # the second read came from the cache
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(tmp_path / "t.db")], check=True)
    assert _blob(store) == b"two"
    store.close()


def test_a_writer_that_never_finished_stops_all_caching(tmp_path: Path) -> None:
    gen, other = Generation(tmp_path / "g"), Generation(tmp_path / "g")  # two processes' views of one file
    assert gen.current() == 0
    ticket = other.begin_write()
    assert gen.current() is None  # a write may be under way: nothing cached is trusted
    other.end_write(ticket)
    assert gen.current() == ticket == 1
    gen.begin_write()  # and dies before end_write
    assert other.current() is None
    late = other.begin_write()
    other.end_write(late)
    assert gen.current() == late == 3  # the next write that completes makes reads cacheable again


def test_writers_finishing_out_of_order_leave_no_stale_state(tmp_path: Path) -> None:
    a, b = Generation(tmp_path / "g"), Generation(tmp_path / "g")
    first = a.begin_write()  # SQLite's write lock orders begins; commits end in any order
    a_done = first
    second = b.begin_write()
    b.end_write(second)
    a.end_write(a_done)  # late: must not move "finished" back
    assert a.current() == b.current() == second
