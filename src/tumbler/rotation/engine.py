"""The rotation engine: claims due rotations from the store and drives them through their steps.

Every transition is written to the store before the next step runs (the journal), and a
rotation is only run under a lease, so a crash resumes it and two workers never run it at
once. Functions are invoked with AWS's own event, so existing rotation functions run unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from tumbler.core import rotation as machine
from tumbler.core.redact import redact
from tumbler.core.rotation import Rotation, State
from tumbler.core.secrets import AWSCURRENT, AWSPENDING, Secret
from tumbler.ops.lambda_.common import parse_function_id
from tumbler.ops.secretsmanager.common import unseal
from tumbler.ports.services import Services
from tumbler.ports.store import Reader, Store, UnitOfWork, background_work
from tumbler.rotation.folding import Fold, fold
from tumbler.rotation.scheduler import plan_next

log = logging.getLogger("tumbler.rotation")
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class StepOutcome:
    ok: bool
    error: str | None = None


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
        self.parallel = parallel
        self.services = services
        self.policy = policy or machine.RetryPolicy()
        self.node_id = node_id or uuid.uuid4().hex
        self.lease = lease  # renewed every third of it while a step runs: a dead node's expires soon
        self.rng = random.Random()  # jitter, not secrecy
        # One pool and one lease keeper for the engine's life: threads (each with its own store
        # connection) are not started again for every batch of due rotations.
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="rotation")
        self._leases = _LeaseKeeper(self._renew_all, lease.total_seconds() / 3)
        self._changed = threading.Event()  # a run ended, or new work was enqueued

    def nudge(self) -> None:
        """New work is due now: a free slot takes it at once rather than when a running rotation ends."""
        self._changed.set()

    @property
    def store(self) -> Store:
        return self.services.store

    def run_due(self) -> int:
        """Run every due rotation until it finishes or waits for a retry; the number handled.

        Up to ``parallel`` run side by side (they wait mostly on databases and functions), and each
        slot is refilled as soon as its rotation ends or new work is enqueued (``nudge``), rather than
        a batch waiting for its slowest."""
        handled = 0
        running: dict[Future[None], str] = {}  # rotation ids by their run
        while True:
            self._changed.clear()  # before claiming: work enqueued from here on is seen on the next turn
            claimed = self._claim(self.parallel - len(running), set(running.values()))
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

    def _claim(self, limit: int, busy: set[str]) -> list[Rotation]:
        """Take the lease on up to ``limit`` due rotations and prepare their steps: one transaction for all.

        ``busy``: the rotations this engine is running, which a claim returns too (it holds their
        leases) and must leave to the threads running them."""
        if limit <= 0:
            return []
        now = self.services.clock.now()
        events: list[tuple[str, Rotation, dict[str, Any]]] = []
        with background_work(), self.store.transaction() as uow:
            claimed = uow.claim_rotations(now, self.node_id, now + self.lease, limit + len(busy))
            started = [self._start_step(uow, r, events) for r in claimed if r.rotation_id not in busy]
        self._emit(events)
        return started

    def _run_logged(self, prepared: Rotation) -> None:
        try:
            with background_work():
                self._run(prepared)
        except Exception:
            log.exception("rotation %s of %s crashed; it will be retried", prepared.rotation_id, prepared.secret_arn)

    def drive(self, rotation: Rotation) -> Rotation:
        """Run the rotation's steps while it is due; each transition is one transaction (the journal)."""
        events: list[tuple[str, Rotation, dict[str, Any]]] = []
        with self.store.transaction() as uow:
            prepared = self._prepare(uow, rotation, events)
        self._emit(events)
        return self._run(prepared) if prepared is not None else rotation

    def _run(self, prepared: Rotation) -> Rotation:
        """The steps of a prepared rotation (see ``_prepare``), its lease held by the lease keeper."""
        events: list[tuple[str, Rotation, dict[str, Any]]] = []
        rotation: Rotation | None = prepared
        with self._leases.held(prepared.rotation_id):
            while rotation is not None and rotation.state is State.RUNNING:
                prepared = rotation
                step, ran = self._steps(rotation)
                try:
                    with step.transaction() as uow:  # the steps' own write, if one left it open
                        rotation = self._journal(uow, rotation, ran, events)
                except _LeaseLost:
                    rotation = None
                    events.clear()  # nothing they describe was committed
                self._emit(events)
        return rotation or prepared

    def _journal(
        self, uow: UnitOfWork, rotation: Rotation, ran: list[tuple[Rotation, StepOutcome]], events: list[Any]
    ) -> Rotation:
        """Record the outcomes of the steps that ran, up to the first that leaves the rotation not running
        (ended, abandoned, or waiting for a retry). Raises _LeaseLost, which rolls back whatever a step left
        in the transaction, when the rotation was cancelled or taken over while they ran."""
        for n, (planned, outcome) in enumerate(ran):
            if rotation.state is not State.RUNNING or rotation.step_index != planned.step_index:
                break
            # one lease renewal a transaction: it holds the rotation's row from then on, so a later
            # renewal in it cannot fail, and each statement waits for the GIL under load
            advanced = self._advance(uow, rotation, outcome, events, renew=n == 0)
            if advanced is None:
                raise _LeaseLost
            rotation = advanced
        return rotation

    def _steps(self, rotation: Rotation) -> tuple[Fold, list[tuple[Rotation, StepOutcome]]]:
        """Run the rotation's step and, for a built-in, the steps that run ahead of its journal record.

        A built-in's setSecret, testSecret and finishSecret are journaled in one commit (one fsync and one
        turn at the write lock instead of three): they reach only the database being rotated and this
        store, and a setSecret run again after a crash finds its password set already. A step that
        leaves its transaction open (see ``_folds``) ends the run: no other step runs inside it."""
        step = Fold(self.store)
        ran: list[tuple[Rotation, StepOutcome]] = []
        current: Rotation | None = rotation
        while current is not None:
            with fold(self.store, step) if self._folds(current) else nullcontext():
                outcome = self._invoke(current)
            ran.append((current, outcome))
            current = self._ahead(current, outcome) if step.uow is None else None
        return step, ran

    def _ahead(self, rotation: Rotation, outcome: StepOutcome) -> Rotation | None:
        """The step that may run before ``rotation``'s is journaled, or None. Never a step that would
        move labels after AWSCURRENT moved under the rotation: ``_start_step`` abandons it instead."""
        if not outcome.ok or rotation.step not in RUN_AHEAD_STEPS or not self._in_process(rotation.lambda_arn):
            return None
        following = machine.step_succeeded(rotation, self.services.clock.now())
        if following.state is not State.RUNNING:
            return None
        with self.store.reader() as reader:
            if _current_moved(reader, rotation):
                return None
        return following

    def _folds(self, rotation: Rotation) -> bool:
        """A built-in's step that touches nothing but this store commits with its journal record."""
        return rotation.step in FOLDED_STEPS and self._in_process(rotation.lambda_arn)

    def _prepare(self, uow: UnitOfWork, rotation: Rotation, events: list[Any]) -> Rotation | None:
        """Before a step: keep the lease, stop if cancelled or abandoned, else mark the step running.

        None when the lease is lost: another node has the rotation now."""
        now = self.services.clock.now()
        if not rotation.active or rotation.not_before > now:
            return rotation
        if not uow.renew_lease(rotation.rotation_id, self.node_id, now + self.lease):
            log.warning("lost the lease on rotation %s; another node has it", rotation.rotation_id)
            return None
        stored = uow.rotation(rotation.rotation_id)
        if stored is None or not stored.active:
            return stored or rotation
        return self._start_step(uow, rotation, events)

    def _start_step(self, uow: UnitOfWork, rotation: Rotation, events: list[Any]) -> Rotation:
        """Mark the step running, unless AWSCURRENT moved meanwhile. The lease is this node's."""
        abandoned = self._abandon_if_moved(uow, rotation, events)
        if abandoned is not None:
            return abandoned
        if rotation.step_index == 0 and rotation.attempt == 1:
            events.append(("RotationStarted", rotation, {}))
        running = dataclasses.replace(rotation, state=State.RUNNING)
        uow.put_rotation(running)
        return running

    def _advance(
        self, uow: UnitOfWork, rotation: Rotation, outcome: StepOutcome, events: list[Any], *, renew: bool = True
    ) -> Rotation | None:
        """After a step: record its outcome and, when the next step is due now, prepare it, all at once.

        Nothing is written unless this node still holds the lease on an active rotation: a rotation
        cancelled during the step stays cancelled, and one taken over by another node is left to it.
        ``renew=False``: the lease was renewed earlier in this transaction."""
        now = self.services.clock.now()
        if renew and not uow.renew_lease(rotation.rotation_id, self.node_id, now + self.lease):
            log.warning("rotation %s was cancelled or taken over during its step", rotation.rotation_id)
            return None
        if not outcome.ok:
            error = (outcome.error or "step failed")[:MAX_ERROR_CHARS]
            failed = machine.step_failed(rotation, now, error, self.rng, self.policy)
            if failed.state is State.FAILED:
                return self._finish(uow, failed, events)
            events.append(("RotationStepFailed", failed, {"reason": error, "retry_at": failed.not_before.isoformat()}))
            uow.put_rotation(failed)
            return failed
        advanced = machine.step_succeeded(rotation, now)
        if advanced.state is State.SUCCEEDED:
            return self._finish(uow, advanced, events)
        return self._start_step(uow, advanced, events)  # the lease was renewed above: the next step is due now

    def _renew_all(self, rotation_ids: list[str]) -> None:
        until = self.services.clock.now() + self.lease
        with background_work(), self.store.transaction() as uow:  # rotation work, like the steps it keeps
            for rotation_id in rotation_ids:
                uow.renew_lease(rotation_id, self.node_id, until)

    # -- one step ---------------------------------------------------------------------------
    def _invoke(self, rotation: Rotation) -> StepOutcome:
        event = {
            "Step": rotation.step,
            "SecretId": rotation.secret_arn,
            "ClientRequestToken": rotation.token,
            "RotationToken": rotation.rotation_id,
        }
        # A built-in runs in this process and logs nothing outside it: the values it must mask are
        # only read (and decrypted) here if it fails. Any other function's runner needs them first.
        secrets = None if self._in_process(rotation.lambda_arn) else self._values(rotation)

        def failed(error: str) -> StepOutcome:
            return StepOutcome(False, redact(error, secrets if secrets is not None else self._values(rotation)))

        try:
            result = self.services.functions.invoke(
                rotation.region, rotation.lambda_arn, orjson.dumps(event), redact=secrets or ()
            )
        except Exception as err:  # the function could not be found or started
            return failed(f"{rotation.step}: {type(err).__name__}: {getattr(err, 'message', err)}")
        if result.function_error:  # the runner masked the values in it already; masked again for the journal
            return failed(f"{rotation.step}: {_error_text(result.payload)}")
        return StepOutcome(True)

    def _in_process(self, lambda_arn: str) -> bool:
        has_builtin = getattr(self.services.functions, "has_builtin", None)  # test doubles may not have it
        return has_builtin is not None and bool(has_builtin(parse_function_id(lambda_arn)[0]))

    # -- transitions that touch the secret ------------------------------------------------------
    def _finish(self, uow: UnitOfWork, rotation: Rotation, events: list[Any]) -> Rotation:
        secret = uow.lock_secret(rotation.region, rotation.secret_arn)
        if secret is not None:
            rotation = self._settle(uow, secret, rotation)
            self._plan_next(uow, secret)
        uow.put_rotation(rotation)
        name = "RotationSucceeded" if rotation.state is State.SUCCEEDED else "RotationFailed"
        events.append((name, rotation, {"reason": rotation.last_error}))
        return rotation

    def _settle(self, uow: UnitOfWork, secret: Secret, rotation: Rotation) -> Rotation:
        """Labels after the last step: a finished rotation drops AWSPENDING; a test-only one its version."""
        now = self.services.clock.now()
        if rotation.test_only:
            _drop_pending(uow, secret, rotation.token, delete_version=True)
            return rotation
        if rotation.state is not State.SUCCEEDED:
            return rotation  # a failed rotation leaves AWSPENDING in place, as AWS does
        if secret.stages.get(AWSCURRENT) != rotation.token:
            error = f"finishSecret did not move {AWSCURRENT} to version {rotation.token}."
            return dataclasses.replace(rotation, state=State.FAILED, last_error=error)
        _drop_pending(uow, secret, rotation.token, delete_version=False)
        secret.rotation.last_rotated = now
        secret.last_changed = now  # written with the next rotation date, by _plan_next right after
        return rotation

    def _abandon_if_moved(self, uow: UnitOfWork, rotation: Rotation, events: list[Any]) -> Rotation | None:
        """The rotation's end if AWSCURRENT moved under it (or the secret is gone), else None."""
        if not _current_moved(uow, rotation):  # one row: the usual answer
            return None
        secret = uow.lock_secret(rotation.region, rotation.secret_arn)
        current = secret.stages.get(AWSCURRENT) if secret else None
        if secret is not None and not machine.was_abandoned(rotation, current):
            return None
        reason = (
            "The secret was deleted during rotation."
            if secret is None
            else f"{AWSCURRENT} moved to version {current} during rotation."
        )
        abandoned = machine.abandon(rotation, self.services.clock.now(), reason)
        if secret is not None:
            _drop_pending(uow, secret, rotation.token, delete_version=rotation.test_only)
            self._plan_next(uow, secret)
        uow.put_rotation(abandoned)
        events.append(("RotationAbandoned", abandoned, {"reason": reason}))
        return abandoned

    def _plan_next(self, uow: UnitOfWork, secret: Secret) -> None:
        """Whatever the outcome, the schedule goes on from the last successful rotation."""
        secret.rotation.next_rotation = plan_next(secret, self.services.clock.now(), self.rng)
        uow.update_secret(secret)

    def _values(self, rotation: Rotation) -> list[str]:
        """The current and pending values, masked in every log and error: the whole strings and, for the
        usual JSON secret, each value in them but the ones that only say where (host, user, engine...)."""
        out: list[str] = []
        with self.store.reader() as reader:
            for stored in (
                reader.value_by_stage(rotation.secret_arn, AWSCURRENT),
                reader.value(rotation.secret_arn, rotation.token),
            ):
                value = unseal(self.services.keyring, stored) if stored else None
                if value is not None and value.string:
                    out.append(value.string)
                    out += _secret_leaves(value.string)
        return out

    def _emit(self, events: list[tuple[str, Rotation, dict[str, Any]]]) -> None:
        """Audit events, written once their transaction has committed."""
        for name, rotation, extra in events:
            self._audit(name, rotation, **extra)
        events.clear()

    def _audit(self, event: str, rotation: Rotation, **extra: Any) -> None:
        self.services.audit.record(
            event,
            secret=rotation.secret_arn,
            version=rotation.token,
            rotation=rotation.rotation_id,
            step=rotation.step,
            attempt=rotation.attempt,
            scheduled=rotation.scheduled,
            **{k: v for k, v in extra.items() if v is not None},
        )


FOLDED_STEPS = frozenset({"createSecret", "finishSecret"})  # a built-in's that reach no database
RUN_AHEAD_STEPS = frozenset({"setSecret", "testSecret"})  # a built-in's whose next step runs before it is journaled


class _LeaseLost(Exception):
    """The rotation was cancelled or another node took it over while its steps ran."""


class _LeaseKeeper:
    """Renews the leases of the rotations running here, all in one transaction, while a step (a function
    that may run for minutes) is running. Its thread runs only while some rotation is held."""

    def __init__(self, renew: Callable[[list[str]], None], every: float) -> None:
        self._renew, self._every = renew, every
        self._held: dict[str, int] = {}  # rotation id -> how many runs hold it
        self._lock = threading.Lock()
        self._running = False

    @contextmanager
    def held(self, rotation_id: str) -> Iterator[None]:
        with self._lock:
            self._held[rotation_id] = self._held.get(rotation_id, 0) + 1
            if not self._running:
                self._running = True
                threading.Thread(target=self._beat, name="rotation-leases", daemon=True).start()
        try:
            yield
        finally:
            with self._lock:
                self._held[rotation_id] -= 1
                if not self._held[rotation_id]:
                    del self._held[rotation_id]

    def _beat(self) -> None:
        while True:
            time.sleep(self._every)
            with self._lock:
                held = list(self._held)
                if not held:
                    self._running = False
                    return
            try:
                self._renew(held)
            except Exception:  # the store is unreachable: the next beat tries again
                log.warning("could not renew rotation leases", exc_info=True)


PUBLIC_FIELDS = frozenset({"engine", "host", "port", "username", "dbname", "ssl", "masterarn", "alternate_username"})


def _secret_leaves(text: str) -> list[str]:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(document, dict):
        return []
    return [v for k, v in document.items() if k not in PUBLIC_FIELDS and isinstance(v, str) and len(v) >= 4]


def _current_moved(reader: Reader, rotation: Rotation) -> bool:
    """AWSCURRENT is on neither the version the rotation started from nor its own (or on none)."""
    staged = reader.value_by_stage(rotation.secret_arn, AWSCURRENT)
    return staged is None or machine.was_abandoned(rotation, staged.version_id)


def _drop_pending(uow: UnitOfWork, secret: Secret, token: str, *, delete_version: bool) -> None:
    stages = {label: vid for label, vid in secret.stages.items() if not (label == AWSPENDING and vid == token)}
    if stages != secret.stages:
        uow.set_stages(secret.arn, stages)
        secret.stages = stages
    if delete_version and token not in stages.values():
        uow.delete_versions(secret.arn, [token])


def _error_text(payload: bytes) -> str:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return "the function failed"
    if isinstance(body, dict):
        return f"{body.get('errorType', 'Error')}: {body.get('errorMessage', '')}"
    return "the function failed"
