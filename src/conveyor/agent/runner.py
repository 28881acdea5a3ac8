"""Running one claimed attempt: render it, execute it, ship its log, report how it ended."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from dataclasses import replace

from conveyor.actions import execution
from conveyor.actions.execution import StepResult
from conveyor.actions.runtime import Runtime
from conveyor.actions.versions import cached_job
from conveyor.agent.executors.http import run_http
from conveyor.agent.executors.process import ProcessResult, run_process
from conveyor.agent.render import Prepared, Renderer, base_environment, masker_for, prepare
from conveyor.engine.scope import Scope
from conveyor.engine.states import StepState
from conveyor.errors import ConveyorError, StoreError
from conveyor.security.masking import Masker
from conveyor.store.records import ClaimedStep

log = logging.getLogger(__name__)


class Attempt:
    """One attempt on this agent; `cancel` is set by the heartbeat when the run is cancelled
    or the attempt turned out stale."""

    def __init__(self, rt: Runtime, claimed: ClaimedStep) -> None:
        self.rt = rt
        self.claimed = claimed
        self.cancel = threading.Event()
        self.stale = False
        # Set when this agent stops and kills the step: the attempt is handed back (lost, and
        # queued again if restartable) rather than reported as a cancel the run never asked for.
        self.handed_back = False

    def run(self) -> None:
        """Execute and report, claiming nothing more."""
        outcome = self.execute()
        if outcome is not None:
            self.report(outcome, None)

    def execute(self) -> StepResult | None:
        """Run the step; any failure to run becomes a failed attempt, never a silent one. None
        when the attempt turned out stale: it is someone else's now and reports nothing."""
        claimed = self.claimed
        try:
            job = cached_job(self.rt.db, claimed.job_version_id)
            step = job.steps[claimed.step_key]
            secrets = self.rt.box.open(claimed.secret_params)
            scope = Scope(
                params=claimed.params,
                outputs=claimed.outputs,
                item=claimed.item,
                run_id=claimed.run_id,
                submitter=claimed.submitter,
                job_name=claimed.job_name,
                secret_names=job.secret_names,
            )
            masker = masker_for(secrets)
            env = base_environment(scope, secrets, claimed.step_key, claimed.attempt)
            prepared = prepare(
                step, Renderer(scope, secrets), env, self.rt.settings.log_limit_bytes
            )
            result = self._execute(prepared, masker)
            outcome = _outcome(result, step.success_codes, self.stale)
            if self.handed_back and result.cancelled:
                outcome = StepResult(
                    state=StepState.LOST, error="its agent stopped before the step ended"
                )
            outputs = {k: masker.mask(v) for k, v in result.outputs.items()}
            outcome = replace(outcome, outputs=outputs)
        except ConveyorError as exc:
            outcome = StepResult(state=StepState.FAILED, error=str(exc))
            self._ship(f"[conveyor] {exc}\n")
        except Exception as exc:  # a step's failure must never kill the agent
            log.exception("step run %s failed inside the agent", claimed.step_run_id)
            outcome = StepResult(state=StepState.FAILED, error=f"the agent failed: {exc}")
        return None if self.stale else outcome

    def report(
        self, outcome: StepResult, wants: execution.NextClaim | None
    ) -> list[ClaimedStep] | None:
        """Finish the attempt (and, given `wants`, claim the agent's next steps in the same
        transaction), riding out a short database outage: until the lease passes the result is
        still ours to record; after that the sweeper has re-queued the step. Returns the steps
        claimed, or None when no claim was made (the agent must claim on its own)."""
        deadline = time.monotonic() + self.rt.settings.lease_seconds
        while True:
            try:
                if wants is None or wants.limit <= 0:
                    execution.finish(self.rt, self.claimed, outcome)
                    return None
                return execution.finish_and_claim(self.rt, self.claimed, outcome, wants)[1]
            except StoreError as exc:
                if time.monotonic() > deadline:
                    log.error(
                        "could not record the end of step run %s: %s", self.claimed.step_run_id, exc
                    )
                    return None
                time.sleep(0.5)

    def _execute(self, prepared: Prepared, masker: Masker) -> ProcessResult:
        if prepared.http is not None:
            return run_http(prepared.http, self._ship, self.cancel, masker=masker)
        assert prepared.process is not None
        if prepared.script is None:
            return run_process(prepared.process, self._ship, self.cancel, masker=masker)
        with tempfile.TemporaryDirectory(prefix="conveyor-script-") as folder:
            path = os.path.join(folder, "script")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(prepared.script)
            spec = replace(prepared.process, argv=[*prepared.process.argv, path])
            return run_process(spec, self._ship, self.cancel, masker=masker)

    def _ship(self, chunk: str) -> None:
        if self.stale:
            return
        if not self._ship_retrying(chunk):
            # Declared lost and re-run elsewhere: stop this copy and write nothing more.
            self.stale = True
            self.cancel.set()

    def _ship_retrying(self, chunk: str) -> bool:
        """Ship a log batch, riding out a short database outage (a connection that died with a
        server restart fails once, then the pool reconnects) for as long as the lease lasts."""
        deadline = time.monotonic() + self.rt.settings.lease_seconds
        while True:
            try:
                return execution.ship_log(self.rt, self.claimed, chunk)
            except StoreError:
                if time.monotonic() > deadline or self.cancel.is_set():
                    raise
                time.sleep(0.5)


def _outcome(result: ProcessResult, success_codes: list[int], stale: bool) -> StepResult:
    if result.cancelled or stale:
        return StepResult(state=StepState.CANCELLED, exit_code=result.exit_code, error="cancelled")
    if result.succeeded(success_codes):
        return StepResult(state=StepState.SUCCEEDED, exit_code=result.exit_code)
    error = result.error
    if error is None and result.exit_code is not None:
        error = f"exit code {result.exit_code}"
    return StepResult(state=StepState.FAILED, exit_code=result.exit_code, error=error)
