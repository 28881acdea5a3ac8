"""The agent's loops: claim while slots are free, heartbeat, sweep, and wake on notifications."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Sequence

from conveyor.actions import execution
from conveyor.actions.runtime import Runtime
from conveyor.agent.runner import Attempt
from conveyor.agent.wakeup import start_listener
from conveyor.errors import StoreError
from conveyor.store import agents as agent_store
from conveyor.store.claims import claimable_keys
from conveyor.store.records import ClaimedStep

log = logging.getLogger(__name__)
SWEEP_EVERY_HEARTBEATS = 3


class Agent:
    """Claims ready step runs whose `on` tags it has, up to `slots` at once."""

    def __init__(
        self, rt: Runtime, *, tags: Sequence[str] = (), slots: int = 4, name: str | None = None
    ) -> None:
        self.rt = rt
        self.tags = tuple(sorted(set(tags)))
        self.slots = max(1, slots)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.keys = claimable_keys(self.tags)
        self.id = 0
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._active: dict[int, Attempt] = {}
        self._reserved = 0  # slots promised to a claim in progress
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._unhook: list[object] = []

    # -- life -------------------------------------------------------------------------------

    def start(self) -> None:
        """Register and start the claim, heartbeat and wake-up threads."""
        with self.rt.db.write() as conn:
            self.id = agent_store.register(
                conn,
                name=self.name,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                tags=self.tags,
                slots=self.slots,
            )
        if self.rt.db.wakes_locally:
            self._unhook.append(self.rt.db.add_local_waiter(self.wake))
        listener = start_listener(self.rt.db, self.wake, self.stopping)
        for target in (self._claim_loop, self._heartbeat_loop):
            thread = threading.Thread(target=target, name=f"agent-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if listener is not None:
            self._threads.append(listener)

    def stop(self, *, timeout: float = 30.0, kill: bool = False) -> None:
        """Stop claiming; let running steps finish (or kill them), then deregister."""
        self.stopping.set()
        self.wake.set()
        deadline = time.monotonic() + timeout
        if kill:
            self._hand_back_all()
        while self.running_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.running_count():
            self._hand_back_all()
            while self.running_count() and time.monotonic() < deadline + 10:
                time.sleep(0.05)
        for thread in self._threads:
            thread.join(timeout=5)
        for unhook in self._unhook:
            unhook()  # type: ignore[operator]
        try:
            with self.rt.db.write() as conn:
                agent_store.stop(conn, self.id)
        except StoreError as exc:
            log.warning("could not mark agent %s stopped: %s", self.id, exc)

    def running_count(self) -> int:
        with self._lock:
            return len(self._active) + self._reserved

    def _hand_back_all(self) -> None:
        """Kill every running step because this agent stops: they go back to the queue."""
        with self._lock:
            for attempt in self._active.values():
                attempt.handed_back = True
                attempt.cancel.set()

    # -- loops ------------------------------------------------------------------------------

    def _reserve(self, ending: int | None = None) -> int:
        """Reserve every free slot for a claim about to be made (the slot of `ending`, an
        attempt whose finish is about to claim, counts as free); the caller gives them back
        with `_activate` once the claimed steps are active. Reserved slots count as running."""
        with self._lock:
            if ending is not None:
                self._active.pop(ending, None)
                self._reserved += 1
                if self.stopping.is_set():
                    return 1
            elif self.stopping.is_set():
                return 0
            free = max(0, self.slots - len(self._active) - self._reserved)
            self._reserved += free
            return free + (1 if ending is not None else 0)

    def _claim_loop(self) -> None:
        """Claim when woken: by a notification (steps were made ready), by the slow poll (the
        safety net), or by a slot freed without a claim of its own. A step's end normally claims
        the agent's next steps itself (`_run_slot`), so it does not wake this loop; nor does a
        claim that came back short: until something new is notified there is nothing more."""
        while not self.stopping.is_set():
            self.wake.clear()
            free = self._reserve()
            claimed: list[ClaimedStep] = []
            try:
                if free > 0:
                    claimed = execution.claim(self.rt, self.id, self.keys, free)
            except StoreError as exc:
                log.warning("claim failed, retrying: %s", exc)
                time.sleep(0.5)
            finally:
                self._activate(claimed, reserved=free)
            for item in claimed:
                self._start(item.step_run_id)
            if free > 0 and len(claimed) == free:
                continue  # every slot filled: there may be more
            self.wake.wait(self.rt.settings.poll_seconds)

    def _activate(
        self, claimed: list[ClaimedStep], *, reserved: int, ended: int | None = None
    ) -> None:
        """Make claimed steps active, drop an ended one, give back the reserved slots."""
        with self._lock:
            if ended is not None:
                self._active.pop(ended, None)
            for item in claimed:
                self._active[item.step_run_id] = Attempt(self.rt, item)
            self._reserved -= reserved

    def _start(self, step_run_id: int) -> None:
        name = f"step-{step_run_id}"
        threading.Thread(target=self._run_slot, args=(step_run_id,), name=name, daemon=True).start()

    def _run_slot(self, step_run_id: int) -> None:
        """Run attempts in one slot: when one ends, its finish claims the agent's next steps in
        the same transaction; the first goes on in this thread, any others get threads."""
        while True:
            with self._lock:
                attempt = self._active[step_run_id]
            claimed: list[ClaimedStep] | None = None
            reserved = 0
            try:
                outcome = attempt.execute()
                reserved = self._reserve(ending=step_run_id)
                if outcome is not None:
                    limit = 0 if self.stopping.is_set() else reserved
                    wants = execution.NextClaim(self.id, self.keys, limit)
                    claimed = attempt.report(outcome, wants)
            finally:
                self._activate(claimed or [], reserved=reserved, ended=step_run_id)
            if claimed is None:
                self.wake.set()  # the slot freed without claiming: let the claim loop look
                return
            if not claimed:
                return
            for item in claimed[1:]:
                self._start(item.step_run_id)
            step_run_id = claimed[0].step_run_id

    def _heartbeat_loop(self) -> None:
        beats = 0
        last_ok = time.monotonic()
        while not self.stopping.wait(self.rt.settings.heartbeat_seconds):
            if time.monotonic() - last_ok > self.rt.settings.lease_seconds:
                # Paused or cut off for a whole lease: the sweeper may have re-queued our steps,
                # so our copies must stop before anything else, and report nothing.
                log.error("no heartbeat for a whole lease: abandoning this agent's steps")
                self._abandon(self._tokens())
            try:
                cancelled = execution.heartbeat(self.rt, self.id)
                stale = execution.stale_attempts(self.rt, self._tokens())
                last_ok = time.monotonic()
            except StoreError as exc:
                # Never swallow this silently: past the lease our steps are someone else's.
                log.warning("heartbeat failed: %s", exc)
                continue
            self._abandon(stale)
            with self._lock:
                for step_run_id in cancelled:
                    if step_run_id in self._active:
                        self._active[step_run_id].cancel.set()
            beats += 1
            if beats % SWEEP_EVERY_HEARTBEATS == 0:
                self._sweep()

    def _tokens(self) -> dict[int, str]:
        with self._lock:
            return {key: a.claimed.attempt_token for key, a in self._active.items()}

    def _abandon(self, step_run_ids: Iterable[int]) -> None:
        """Kill these attempts' processes; they no longer report (the step is not theirs)."""
        with self._lock:
            for step_run_id in step_run_ids:
                attempt = self._active.get(step_run_id)
                if attempt is not None:
                    attempt.stale = True
                    attempt.cancel.set()

    def _sweep(self) -> None:
        try:
            if execution.sweep(self.rt):
                self.wake.set()
        except StoreError as exc:
            log.warning("sweep failed: %s", exc)
