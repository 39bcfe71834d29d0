"""Backfill: run a DAG over past data intervals, in the foreground.

The plan says, for every interval whose logical date lies in [start, end],
what happens to it (Airflow 3's reprocess behaviours):

    create      no run yet: a backfill run is made
    reprocess   a failed run (--reprocess failed) or any finished run
                (--reprocess completed) is cleared and runs again
    resume      a run left unfinished by a process that died (an interrupted
                backfill): it is taken over and finished
    skip        a run exists and the rule leaves it alone, or it is running
                under a live process (a daemon, another command)

Runs are activated at most `max_active_runs` at a time, so Ctrl-C stops
creating them; running tasks finish, and the same command later resumes.
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowctl.clearing import version_changes
from flowctl.clock import iso, utcnow
from flowctl.errors import UsageError
from flowctl.specs import DagSpec
from flowctl.states import RUN_FINISHED
from flowctl.store import owner_alive


@dataclass
class PlanItem:
    logical_date: datetime
    data_interval_end: datetime
    action: str  #: create, reprocess, resume, skip
    run_id: str
    state: str | None  #: the existing run's state
    why: str

    def to_doc(self) -> dict[str, Any]:
        return {"logical_date": iso(self.logical_date), "data_interval_start": iso(self.logical_date),
                "data_interval_end": iso(self.data_interval_end), "action": self.action,
                "run_id": self.run_id, "state": self.state, "why": self.why}


def plan_backfill(service: Any, spec: DagSpec, start: datetime, end: datetime, reprocess: str,
                  run_backwards: bool) -> list[PlanItem]:
    if reprocess not in ("none", "failed", "completed"):
        raise UsageError(f"--reprocess must be none, failed or completed, not {reprocess!r}")
    if end < start:
        raise UsageError(f"--end ({end.isoformat()}) is before --start ({start.isoformat()})")
    if spec.schedule is None and spec.schedule_seconds is None:
        raise UsageError(f"{spec.dag_id} has no schedule, so it has no data intervals to backfill; use `flowctl run`")
    intervals = spec.timetable().intervals_between(start, end)
    existing = set(service.store.run_ids(spec.dag_id))
    items = []
    for interval in intervals:
        stamp = iso(interval.start)
        found = next((f"{k}__{stamp}" for k in ("backfill", "scheduled") if f"{k}__{stamp}" in existing), None)
        if found is None:
            items.append(PlanItem(interval.start, interval.end, "create", f"backfill__{stamp}", None, "no run yet"))
            continue
        data = service.store.read_run(spec.dag_id, found)
        run = data.run
        state = run.get("state")
        added, removed = version_changes(spec, data.dag_version)
        changed = ""
        if added or removed:
            parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
            changed = f"; ran under an older DAG ({'; '.join(parts)}), re-runs with the current one"
        if state not in RUN_FINISHED:
            if owner_alive(run.get("owner")):
                items.append(PlanItem(interval.start, interval.end, "skip", found, state, f"running under pid {run['owner'].get('pid')}"))
            else:
                items.append(PlanItem(interval.start, interval.end, "resume", found, state, "left unfinished; taken over" + changed))
        elif (reprocess == "failed" and state == "failed") or reprocess == "completed":
            items.append(PlanItem(interval.start, interval.end, "reprocess", found, state, f"{state}; --reprocess {reprocess}{changed}"))
        else:
            items.append(PlanItem(interval.start, interval.end, "skip", found, state, f"exists ({state})"))
    if run_backwards:
        items.reverse()
    return items


class BackfillProgress:
    """A rich progress bar on a terminal; a line per finished run otherwise."""

    def __init__(self, total: int, enabled: bool, live: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.bar = None
        if enabled and live and total:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("[bold]backfill[/]"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[info]}"), TimeRemainingColumn(), auto_refresh=False)
            self.task = self.bar.add_task("runs", total=total, info="")
            self.bar.start()

    def update(self, done: int, running_tasks: int, failures: int) -> None:
        if self.bar is not None:
            info = f"{running_tasks} task(s) running, {failures} failed run(s)"
            self.bar.update(self.task, completed=done, info=info)
            self.bar.refresh()

    def run_done(self, run_id: str, state: str, done: int) -> None:
        if self.enabled and self.bar is None:
            sys.stdout.write(f"{time.perf_counter() - self.t0:8.2f}s  {done}/{self.total}  {run_id}  {state}\n")
            sys.stdout.flush()

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def carry_out(service: Any, spec: DagSpec, plan: list[PlanItem], max_active_runs: int, quiet: bool) -> dict[str, str]:
    """Create or take over the planned runs, at most `max_active_runs` at once,
    and run them to the end. Returns run id -> final state."""
    from flowctl.clearing import apply_clear
    from flowctl.engine.loop import Loop
    from flowctl.executors import make_executor
    from flowctl.service import new_run
    from flowctl.store import owner_identity

    store = service.store
    owner = owner_identity()
    todo = [p for p in plan if p.action != "skip"]
    executor = make_executor(service.settings)
    from flowctl.notify import send_detached, wait_for_notices

    notify_settings = service.settings.notify
    loop = Loop(store=store, executor=executor, specs=lambda: {spec.dag_id: spec},
                workers=service.settings.workers, keys=set(), owner=owner,
                notifier=lambda event: send_detached(notify_settings, event))
    active: set[str] = set()
    results: dict[str, str] = {}
    progress = BackfillProgress(len(todo), enabled=not quiet, live=sys.stdout.isatty())
    events: list[Any] = []
    signals = ExitStack()  # Ctrl-C: start nothing new; twice: interrupt running tries
    signals.enter_context(loop.stop_on_signals())
    try:
        while True:
            batch = []
            while todo and len(active) + len(batch) < max_active_runs and not loop.stopping:
                batch.append(todo.pop(0))
            now = utcnow()
            creating = [item for item in batch if item.action == "create"]
            if creating:  # one commit for all the runs that start now
                with store.transaction() as tx:
                    for item in creating:
                        made = new_run(tx, spec, run_type="backfill", logical_date=item.logical_date,
                                       interval=(item.logical_date, item.data_interval_end), owner=owner, now=now,
                                       exist_ok=True)
                        if made is None:  # the scheduler made this interval's run meanwhile
                            batch.remove(item)
                            results[item.run_id] = "skipped"
            for item in batch:
                if item.action == "reprocess":
                    only_failed = item.state == "failed"
                    clear_plan = service.plan_clear(spec.dag_id, run_id=item.run_id, only_failed=only_failed)
                    if not clear_plan or not apply_clear(store, spec, clear_plan, take_over=owner):
                        results[item.run_id] = "skipped"  # nothing to redo, or a live process has it now
                        continue
                loop.keys.add((spec.dag_id, item.run_id))
                active.add(item.run_id)
            sleep = loop.step(events)
            finished_now = False
            for run_id in list(active):
                if (spec.dag_id, run_id) in loop.foreign:  # taken by a live process since the plan
                    active.discard(run_id)
                    loop.keys.discard((spec.dag_id, run_id))
                    results[run_id] = "skipped"
                    finished_now = True
                    continue
                view = loop.views.get((spec.dag_id, run_id))
                state = view.run.get("state") if view is not None else None
                if state in RUN_FINISHED:
                    finished_now = True
                    active.discard(run_id)
                    loop.keys.discard((spec.dag_id, run_id))
                    results[run_id] = state
                    progress.run_done(run_id, state, len(results))
            running = sum(1 for v in loop.views.values() for ti in v.tis.values() if ti.get("state") == "running")
            progress.update(len(results), running, sum(1 for s in results.values() if s == "failed"))
            if not active and (not todo or loop.stopping) and not loop.submitted and not loop.callbacks:
                break
            if loop.stopping and not loop.submitted and not loop.callbacks:
                break
            if finished_now and todo and not loop.stopping:
                sleep = 0.0  # a slot just freed: start the next run now, not after a nap
            events = executor.poll(sleep)
    finally:
        executor.shutdown(grace=0)
        progress.stop()
        wait_for_notices()
        signals.close()
    for run_id in active:
        data = store.read_run(spec.dag_id, run_id)
        results[run_id] = data.run.get("state", "queued") if data else "queued"
    for item in todo:  # never started: interrupted before their turn
        results.setdefault(item.run_id, "not run")
    return results
