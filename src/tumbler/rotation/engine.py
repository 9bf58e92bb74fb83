"""The rotation engine: claims due rotations and drives each through its steps.

Each rotation is a small state machine, read top to bottom in ``_run``:

    claim (lease taken, a retry back at the first step, step marked running)  →  run the step  →
    journal its outcome  →  ...
    → settle the labels when the last step is done (or the attempts are exhausted)

``journal.py`` writes every transition before what follows it, ``invoker.py`` runs a step (AWS's own
event, so existing rotation functions run unchanged; every secret value masked in what it reports),
``labels.py`` settles the staging labels and ``leases.py`` keeps the leases of running rotations.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from tumbler.core import rotation as machine
from tumbler.core.rotation import Rotation, State
from tumbler.ports.services import Services
from tumbler.ports.store import background_work
from tumbler.rotation.invoker import Invoker
from tumbler.rotation.journal import Journal
from tumbler.rotation.leases import LeaseKeeper

log = logging.getLogger("tumbler.rotation")


class RotationEngine:
    PARALLEL = 8  # rotations run side by side: they wait mostly on databases and functions

    def __init__(
        self,
        services: Services,
        *,
        node_id: str | None = None,
        lease: timedelta = timedelta(seconds=30),
        policy: machine.RetryPolicy | None = None,
        parallel: int = PARALLEL,
    ) -> None:
        self.services, self.parallel = services, parallel
        self.node_id = node_id or uuid.uuid4().hex
        self.journal = Journal(services.store, services.audit, self.node_id, lease, policy or machine.RetryPolicy())
        self.invoker = Invoker(services.functions, services.store, services.keyring)
        # A lease is renewed every third of it while a step runs: a dead node's expires soon.
        self._leases = LeaseKeeper(lambda ids: self.journal.renew(ids, services.clock.now()), lease.total_seconds() / 3)
        # One pool for the engine's life: threads (each with its own store connection) are not
        # started again for every batch of due rotations.
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="rotation")
        self._changed = threading.Event()  # a run ended, or new work was enqueued

    def nudge(self) -> None:
        """New work is due now: a free slot takes it at once rather than when a running rotation ends."""
        self._changed.set()

    def run_due(self) -> int:
        """Run every due rotation until it finishes or waits for a retry; the number handled.

        Up to ``parallel`` run side by side, and each slot is refilled as soon as its rotation ends
        or new work is enqueued (``nudge``), rather than a batch waiting for its slowest."""
        handled = 0
        running: dict[Future[None], str] = {}  # rotation ids by their run
        while True:
            self._changed.clear()  # before claiming: work enqueued from here on is seen on the next turn
            free = self.parallel - len(running)
            claimed = self.journal.claim(self.services.clock.now(), free, set(running.values())) if free > 0 else []
            handled += len(claimed)
            for rotation in claimed:
                future = self._pool.submit(self._run_logged, rotation)
                future.add_done_callback(lambda _: self._changed.set())
                running[future] = rotation.rotation_id
            if not running:
                return handled
            self._changed.wait()
            for future in [f for f in running if f.done()]:
                del running[future]

    def _run_logged(self, rotation: Rotation) -> None:
        try:
            with background_work():
                self._run(rotation)
        except Exception:
            log.exception("rotation %s of %s crashed; it will be retried", rotation.rotation_id, rotation.secret_arn)

    def _run(self, claimed: Rotation) -> None:
        """Step after step while the rotation runs: each outcome is journaled before the next step starts."""
        rotation: Rotation | None = claimed
        with self._leases.held(claimed.rotation_id):
            while rotation is not None and rotation.state is State.RUNNING:
                outcome = self.invoker.run_step(rotation)
                rotation = self.journal.record(rotation, outcome, self.services.clock.now())
