"""The thin callers of the driver: `run` (one run), `backfill` (a plan's
runs), `scheduler` (everything due), and `tasks test` (one task, in-process).

Each builds the executor, the scope and the driver; the driver does the rest.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flowctl.clock import SystemClock, iso, utcnow
from flowctl.config import Settings
from flowctl.engine.backfill import PlanItem, starter
from flowctl.engine.daemon import StatusFile
from flowctl.engine.drive import Driver
from flowctl.engine.scheduler import SchedulerScope, listen_for_pokes
from flowctl.engine.scopes import Feed, RunScope
from flowctl.procs import owner_identity
from flowctl.records import RunKey
from flowctl.specs import DagSpec
from flowctl.store import Store

Announce = Callable[[str, dict[str, Any]], None]

__all__ = ["backfill", "carry_out_runs", "make_executor", "owner_identity", "serve", "test_task"]


def make_executor(settings: Settings) -> Any:
    from flowctl.executors import make_executor as make

    return make(settings)


@contextmanager
def until_driven(executor: Any) -> Iterator[None]:
    """What a caller does between preparing the executor (its fork server
    already importing the DAG file) and handing it to a driver: if that
    fails, the executor is shut down here (a driver shuts it down otherwise)."""
    try:
        yield
    except BaseException:
        executor.shutdown()
        raise


def _notifier(settings: Settings) -> Callable[[dict[str, Any]], None]:
    def send(event: dict[str, Any]) -> None:
        from flowctl.notify import send_detached

        send_detached(settings.notify, event)

    return send


STOP_GRACE = 30.0
"""Seconds a foreground `run` or `backfill` stopped by Ctrl-C or SIGTERM waits for its running
tries before it kills them (they run again later): a poking sensor would otherwise hold it forever."""


def _payload_extra(settings: Settings) -> Callable[[Any, Any, Any], dict[str, Any]]:
    """What every try's payload carries from the settings."""
    extra = {"max_xcom_bytes": getattr(settings, "max_xcom_bytes", 1 << 20), "dags_folder": str(settings.dags_folder)}
    return lambda spec, stored, task: extra


def _wait_for_notices() -> None:
    """Notices still being sent finish before the command exits. Only a process
    that sent one has imported `notify` (and its HTTP client): others skip it."""
    notify = sys.modules.get("flowctl.notify")
    if notify is not None:
        notify.wait_for_notices()


def carry_out_runs(store: Store, settings: Settings, executor: Any, specs: Mapping[str, DagSpec],
                   keys: set[RunKey], owner: dict[str, Any], announce: Announce | None) -> int:
    """Carry these runs out to their end in the foreground; 0 if all succeeded."""
    fixed = dict(specs)
    driver = Driver(store=store, executor=executor, specs=lambda: fixed, workers=settings.workers, owner=owner,
                    clock=SystemClock(), scope=RunScope(set(keys), store), announce=announce,
                    notify=_notifier(settings), payload_extra=_payload_extra(settings), grace=STOP_GRACE,
                    max_map_length=settings.max_map_length)
    try:
        return driver.run()
    finally:
        _wait_for_notices()


def backfill(store: Store, settings: Settings, spec: DagSpec, plan: list[PlanItem], max_active_runs: int,
             announce: Announce | None, others: Mapping[str, DagSpec] | None = None) -> dict[str, str]:
    """Carry a backfill plan out; run id -> final state. `others`: the other
    DAGs, for the runs the backfill's tasks trigger."""
    executor = make_executor(settings)
    executor.prepare(spec.fileloc, spec.fingerprint)  # the DAG file is imported while the first runs are made
    owner = owner_identity("backfill")
    todo = [p for p in plan if p.action != "skip"]
    say = announce or (lambda kind, info: None)

    def finished(key: RunKey, state: str, count: int) -> None:
        say("backfill_run", {"dag_id": key.dag_id, "run_id": key.run_id, "state": state, "done": count,
                             "total": len(todo)})

    specs = {**(others or {}), spec.dag_id: spec}
    with until_driven(executor):
        feed = Feed(items=list(todo), max_active=max_active_runs, start=starter(store, spec, owner, utcnow()),
                    store=store, on_finish=finished)
        driver = Driver(store=store, executor=executor, specs=lambda: specs, workers=settings.workers,
                        owner=owner, clock=SystemClock(), scope=feed, announce=announce, notify=_notifier(settings),
                        payload_extra=_payload_extra(settings), grace=STOP_GRACE,
                        max_map_length=settings.max_map_length)
    try:
        driver.run()
    finally:
        _wait_for_notices()
    results: dict[str, str] = {}
    for item in todo:
        key = feed.started.get(item)
        if item not in feed.started:
            results[item.run_id] = "not run"
        elif key is None:
            results[item.run_id] = "skipped"
        else:
            results[key.run_id] = feed.finished.get(key) or _state_now(store, key)
    return results


def _state_now(store: Store, key: RunKey) -> str:
    try:
        stored = store.read_run(*key)
    except Exception:  # noqa: BLE001 - a report must not fail on one damaged run
        return "damaged"
    return stored.record.state if stored is not None else "missing"


def serve(store: Store, settings: Settings, dags: Callable[[], Any], *, until_idle: bool = False,
          log: Callable[[str], None] = print, grace: float = 30.0) -> int:
    """The scheduler's life; the exit code."""
    store.ensure()
    wrong, moved = store.reconcile_index()
    if moved:
        log(f"the index of active runs was damaged: moved aside to {moved} and rebuilt from the run files")
    for key in wrong:
        log(f"index: {key.dag_id} {key.run_id} was out of date in the index of active runs; fixed")
    removed = store.remove_stale_temps()
    if removed:
        log(f"removed {removed} temp file(s) left by killed writers")
    owner = owner_identity("scheduler")
    clock = SystemClock()
    executor = make_executor(settings)
    wake_fds = listen_for_pokes(store.paths.wake) if hasattr(executor, "wake_fds") else []
    if wake_fds:
        executor.wake_fds = wake_fds[:1]
    t0 = time.monotonic()

    def announce(kind: str, info: dict[str, Any]) -> None:
        elapsed = time.monotonic() - t0
        name = f"{info.get('dag_id')}.{info.get('task_id')}"
        if info.get("map_index", -1) >= 0:
            name += f"[{info['map_index']}]"
        if kind == "task_started":
            log(f"{elapsed:9.2f}s -> {name} {info['run_id']} try {info['try_number']}")
        elif kind == "task_finished":
            extra = f": {info['error']}" if info.get("error") else ""
            log(f"{elapsed:9.2f}s    {name} {info['run_id']} {info['state']}{extra}")
        elif kind == "run_finished":
            log(f"{elapsed:9.2f}s == {info['dag_id']} {info['run_id']} {info['state']}")
            if info["state"] == "failed" and until_idle:  # a daemon's failures are its log's, not its exit code's
                scope.failed.append(f"{info['dag_id']} {info['run_id']}")
        elif kind == "store_error":
            log(f"skipping a damaged run ({info['error']})")
        elif kind == "store_stalled":
            log(f"cannot write the state: {info['error']}; results are kept and written when it can "
                f"(trying every {info['retry']:g} s) - free some space")
        elif kind == "store_recovered":
            log("the state is written again")
        elif kind == "stopping":
            log(info["message"])

    notify = _notifier(settings)
    scope = SchedulerScope(store=store, owner=owner, dags=dags, status=StatusFile(store.paths.scheduler_status),
                           log=log, until_idle=until_idle, notify=notify, clock=clock)
    scope.reload(force=True)
    max_sleep = 5.0 if wake_fds and not until_idle else 0.5
    driver = Driver(store=store, executor=executor, specs=scope.current_specs, workers=settings.workers,
                    owner=owner, clock=clock, scope=scope, announce=announce, notify=notify, grace=grace,
                    max_sleep=max_sleep, payload_extra=_payload_extra(settings),
                    max_map_length=settings.max_map_length)
    log(f"scheduler started: pid {owner['pid']}, DAGs from {settings.dags_folder}, {settings.workers} worker slots")
    try:
        return driver.run()
    finally:
        for fd in wake_fds:
            os.close(fd)
        from flowctl.notify import wait_for_notices

        wait_for_notices()
        log("scheduler stopped")


def test_task(store: Store, spec: DagSpec, task_id: str, logical: datetime, start: datetime, end: datetime,
              existing_run: str | None, map_index: int = -1) -> dict[str, Any]:
    """Run one task in this process, log to stdout, write no state. Upstream
    XCom is read from `existing_run` when given."""
    from flowctl.loader import import_dag_file
    from flowctl.runtime.runner import execute_task

    dags = {d.dag_id: d for d in import_dag_file(spec.fileloc)}
    run_id = f"test__{iso(logical)}"
    home = None
    if existing_run is not None:
        run_id, home = existing_run, str(store.home)
        sys.stdout.write(f"XCom of upstream tasks is read from run {run_id}\n")
    payload = {
        "dag_id": spec.dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index, "try_number": 1,
        "timezone": spec.timezone, "fileloc": spec.fileloc,
        "run": {"run_id": run_id, "run_type": "test", "logical_date": iso(logical),
                "data_interval_start": iso(start), "data_interval_end": iso(end), "conf": {}},
    }
    return execute_task(dags[spec.dag_id], payload, home)
