"""GetSecretValue from memory on a node of the shared store, kept fresh by PostgreSQL's own change feed.

Kept for the fleet's read target (a PostgreSQL node serves at least 70% of an embedded node's signed
GetSecretValue throughput, benchmarks/fleet.py): a warm read costs no round trip.

``ValueCache`` holds what ``read_value`` returned, by the request's key. Triggers on the secrets,
versions and stages tables (``FEED_DDL``) send ``NOTIFY tumbler_changes, '<arn>'`` from the writing
transaction, delivered when it commits; ``ChangeFeed`` LISTENs on its own connection and drops the
entries of every ARN named. The writing node drops its own entries as its transaction commits, so it
serves its own writes at once; other nodes within the notification's delivery time.

The cache serves only while the feed is known to be whole: after LISTEN succeeded (everything cached
before is dropped then: changes made while no one listened are unknown), and while the last heartbeat
on the feed's connection is younger than ``STALE_BOUND``. A lost or silent connection therefore
turns the node into a read-through node, never into one that serves stale values without bound.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import psycopg

from tumbler.ports.store import ValueRead

log = logging.getLogger("tumbler.store")

CHANNEL = "tumbler_changes"
HEARTBEAT = 0.25  # seconds between round trips that prove the feed's connection alive
STALE_BOUND = 1.0  # seconds without a proof after which the cache stops serving
MAX_ENTRIES = 100_000
RECONNECT_DELAY = 0.2
# Connection settings of the feed: a peer that vanishes without a word is noticed within seconds.
FEED_CONNECTION: dict[str, Any] = {
    "autocommit": True, "connect_timeout": 5, "application_name": "tumbler-feed",
    "keepalives": 1, "keepalives_idle": 2, "keepalives_interval": 1, "keepalives_count": 2, "tcp_user_timeout": 3000,
}  # fmt: skip

FEED_TRIGGERS = {  # table: the changes that alter what read_value returns (not the access dates)
    "secrets": "INSERT OR DELETE OR UPDATE OF doc, deletion_date, wrapped_key, name, source_arn",
    "versions": "INSERT OR DELETE OR UPDATE OF blob, created",
    "stages": "INSERT OR DELETE OR UPDATE",
}
FEED_DDL = [
    f"""CREATE OR REPLACE FUNCTION tumbler_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', CASE WHEN TG_OP = 'DELETE' THEN OLD.arn ELSE NEW.arn END);
  RETURN NULL;
END $$""",
    *(
        f"CREATE OR REPLACE TRIGGER tumbler_{table}_changed AFTER {events} ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION tumbler_notify_change()"
        for table, events in FEED_TRIGGERS.items()
    ),
]
FEED_INSTALLED = (
    "SELECT count(*) FROM pg_trigger WHERE tgname IN "
    f"({', '.join(repr(f'tumbler_{t}_changed') for t in FEED_TRIGGERS)}) AND tgrelid IN "
    f"({', '.join(f'to_regclass({t!r})' for t in FEED_TRIGGERS)})"
)

Key = tuple[str, str, str | None, str]  # region, secret id as asked, version id, stage


class ValueCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Key, ValueRead] = {}
        self._by_arn: dict[str, set[Key]] = {}
        self._max = max_entries
        self.generation = 0  # moves on every drop: a read that began before a drop of its ARN is not kept
        self._dropped: dict[str, int] = {}  # ARN: the generation that last dropped it
        self._reset = 0  # the generation of the last reset, which drops every ARN
        self._live = False
        self._confirmed = 0.0  # monotonic time before which every committed change has been heard
        # whether a notification has reached the feed's socket that its thread has not handled yet (set by
        # ``ChangeFeed``): a busy process may run that thread late, and reads go through meanwhile
        self.unheard: Callable[[], bool] = lambda: False

    @property
    def serving(self) -> bool:
        return self._live and time.monotonic() - self._confirmed < STALE_BOUND

    def get(self, key: Key) -> ValueRead | None:
        if not self.serving or self.unheard():
            return None
        return self._entries.get(key)


    def put(self, key: Key, found: ValueRead, generation: int) -> None:
        """Keep what a read returned, unless its secret was dropped since the read began (it may be older)."""
        arns = {found.arn, found.stored.arn if found.stored else found.arn}  # a replica shows its primary's
        with self._lock:
            if self._reset > generation or any(self._dropped.get(arn, -1) > generation for arn in arns):
                return
            if not self.serving:
                return
            if len(self._entries) >= self._max:
                self._clear()
            self._entries[key] = found
            for arn in arns:
                self._by_arn.setdefault(arn, set()).add(key)

    def drop(self, arns: Iterable[str]) -> None:
        with self._lock:
            self.generation += 1
            if len(self._dropped) >= self._max:
                self._clear()
            for arn in arns:
                self._dropped[arn] = self.generation
                for key in self._by_arn.pop(arn, ()):
                    self._entries.pop(key, None)

    def reset(self, *, live: bool, confirmed: float = 0.0) -> None:
        """Forget everything; serve from now on only if ``live`` (the feed is listening)."""
        with self._lock:
            self._clear()
            self._live, self._confirmed = live, confirmed

    def _clear(self) -> None:
        self.generation += 1
        self._reset = self.generation
        self._entries.clear()
        self._by_arn.clear()
        self._dropped.clear()

    def confirm(self, since: float) -> None:
        self._confirmed = max(self._confirmed, since)

    def touched(self, arn: str, version_id: str, day: datetime) -> None:
        """The access dates a read recorded: the next read of the day need not record them again."""
        with self._lock:
            for key in self._by_arn.get(arn, ()):
                found = self._entries.get(key)
                if found is not None and found.arn == arn:
                    same = found.stored is not None and found.stored.version_id == version_id
                    self._entries[key] = ValueRead(found.arn, found.name, found.deleted, day, found.stored,
                                                   found.stages, day if same else found.version_accessed)  # fmt: skip


class ChangeFeed:
    """A thread that LISTENs for changed ARNs and drops them from ``cache``; reconnects by itself."""

    def __init__(self, url: str, cache: ValueCache) -> None:
        self.url, self.cache = url, cache
        self._closed = threading.Event()
        self._socket = -1  # the feed connection's, while it listens
        cache.unheard = self._unheard
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                self._listen()
            except Exception as err:  # its kind only: a connection error's text may name the host or user
                log.warning("the change feed was lost (%s); reading through the database until it is back",
                            type(err).__name__)  # fmt: skip
            self._socket = -1
            self.cache.reset(live=False)
            self._closed.wait(RECONNECT_DELAY)

    def _unheard(self) -> bool:
        """One poll of the socket, no waiting (microseconds). Kept for the freshness target (another node
        serves a write within 50 ms, benchmarks/fleet.py) on a node whose CPU is saturated."""
        fd = self._socket
        if fd < 0:
            return False  # not listening: the cache does not serve anyway
        try:
            return bool(select.select([fd], [], [], 0)[0])
        except (OSError, ValueError):  # closed meanwhile: the thread is reconnecting
            return True

    def _listen(self) -> None:
        with psycopg.connect(self.url, **FEED_CONNECTION) as conn:
            self._socket = conn.fileno()
            started = time.monotonic()
            conn.execute(f"LISTEN {CHANNEL}")
            # caught up: what changed before LISTEN is unknown, so nothing cached before it is kept
            self.cache.reset(live=True, confirmed=started)
            while not self._closed.is_set():
                for notification in conn.notifies(timeout=HEARTBEAT):  # each as it arrives
                    self.cache.drop((notification.payload,))
                started = time.monotonic()
                conn.execute("SELECT 1")  # what committed before it arrives before its answer: queued for
                for notification in conn.notifies(timeout=0):  # notifies(), read here before confirming
                    self.cache.drop((notification.payload,))
                self.cache.confirm(started)
