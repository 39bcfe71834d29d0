"""The scheduler process: create the runs that are due, carry out every run
without a live owner, notice sleep and downtime, stop gracefully.

`flowctl scheduler` (foreground or --daemon) and `--until-idle` both run
`serve()`. The clock is read only here and in the loop it drives.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from flowctl.clock import Clock, SystemClock, iso
from flowctl.engine.decisions import due_runs
from flowctl.engine.loop import Loop
from flowctl.specs import DagSpec
from flowctl.store import atomic_write, owner_identity

IDLE_SLEEP = 5.0  #: the longest nap when commands can wake us (status heartbeat cadence)
WAKE_THRESHOLD = 60.0  #: seconds of wall-clock jump (beyond elapsed time) that mean "the machine slept"


def human_span(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    parts.append(f"{minutes}m" if (hours or days) else f"{minutes}m{secs:02d}s")
    return "".join(parts)


class RunCreator:
    """Creates due scheduled runs, remembering per DAG when to look again."""

    def __init__(self, service: Any, owner: dict[str, Any]) -> None:
        self.service = service
        self.store = service.store
        self.owner = owner
        self._next_check: dict[str, tuple[str, datetime | None]] = {}  # dag -> (version, when)
        self._signature: tuple[Any, ...] | None = None

    def tick(self, specs: dict[str, DagSpec], now: datetime, want_summary: bool = False) -> list[dict[str, Any]]:
        """Create what is due; return per-DAG reports (for the wake summary)."""
        from flowctl.service import new_run

        flags = self.store.dag_flags()
        active_runs = self.store.active_runs()
        # what can change what is due: a pause, a run starting or ending (max_active_runs)
        signature = (sorted(active_runs), sorted((d, bool(f.get("paused"))) for d, f in flags.items()))
        if signature != self._signature:
            self._signature = signature
            self._next_check.clear()
        reports = []
        plans = []
        for dag_id, spec in sorted(specs.items()):
            if spec.schedule is None and spec.schedule_seconds is None:
                continue
            if flags.get(dag_id, {}).get("paused"):
                continue
            version, when = self._next_check.get(dag_id, ("", None))
            if not want_summary and version == spec.fingerprint + (spec.schedule or "") and when is not None and now < when:
                continue
            try:
                tt = spec.timetable()
            except ValueError as exc:
                reports.append({"dag_id": dag_id, "error": str(exc)})
                continue
            existing, last = self._existing(dag_id)
            active = sum(1 for d, _ in active_runs if d == dag_id)
            due = due_runs(spec, tt, existing, last, active, now, want_skipped=want_summary)
            nxt = tt.next_due(now)
            # a DAG held back by max_active_runs is looked at again when a run ends (the commit
            # counter changes), not on every tick
            self._next_check[dag_id] = (spec.fingerprint + (spec.schedule or ""), nxt)
            if due.create or due.skipped:
                plans.append((spec, due))
        if not plans:
            return reports
        with self.store.transaction() as tx:
            for spec, due in plans:
                created = []
                for interval in due.create:  # checked again under the lock: a backfill may have made it
                    run_id = new_run(tx, spec, run_type="scheduled", logical_date=interval.start,
                                     interval=(interval.start, interval.end), owner=self.owner, now=now,
                                     exist_ok=True)
                    if run_id is not None:
                        created.append(run_id)
                reports.append({"dag_id": spec.dag_id, "created": created,
                                "skipped": [iso(i.start) for i in due.skipped], "deferred": due.deferred})
        return reports

    def next_due(self) -> datetime | None:
        """The earliest time a DAG's next interval ends (when a run becomes due)."""
        times = [when for _, when in self._next_check.values() if when is not None]
        return min(times) if times else None

    def _existing(self, dag_id: str) -> tuple[set[str], datetime | None]:
        existing: set[str] = set()
        last: datetime | None = None
        for run_id in self.store.run_ids(dag_id):
            kind, _, stamp = run_id.partition("__")
            if kind in ("scheduled", "backfill"):
                existing.add(stamp)
                if kind == "scheduled":
                    when = datetime.fromisoformat(stamp)
                    last = when if last is None or when > last else last
        return existing, last


class StatusFile:
    """`<home>/scheduler.json`: pid, start and heartbeat, for `scheduler status`
    and for noticing downtime at the next start."""

    def __init__(self, home: Path) -> None:
        self.path = home / "scheduler.json"

    def read(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def write(self, doc: dict[str, Any]) -> None:
        atomic_write(self.path, json.dumps(doc).encode(), fsync=False)


def serve(
    service: Any,
    *,
    until_idle: bool = False,
    clock: Clock | None = None,
    log: Callable[[str], None] = print,
    grace: float = 30.0,
    notify: Callable[[dict[str, Any]], None] | None = None,
) -> int:
    """The scheduler's life. Returns the exit code."""
    from flowctl.executors import make_executor

    clock = clock or SystemClock()
    settings = service.settings
    store = service.store
    store.ensure()
    for dag_id, run_id in store.reconcile_index():
        log(f"index: {dag_id} {run_id} was out of date in the index of active runs; fixed")
    owner = owner_identity()
    status = StatusFile(settings.home)
    previous = status.read()
    started = clock.now()
    status.write({"pid": owner["pid"], "started_at": iso(started), "heartbeat": iso(started)})
    t0 = time.monotonic()

    def event_line(kind: str, info: dict[str, Any]) -> None:
        elapsed = time.monotonic() - t0
        name = f"{info.get('dag_id')}.{info.get('task_id')}"
        if kind == "task_started":
            log(f"{elapsed:9.2f}s -> {name} {info['run_id']} try {info['try_number']}")
        elif kind == "task_finished":
            extra = f": {info['error']}" if info.get("error") else ""
            log(f"{elapsed:9.2f}s    {name} {info['run_id']} {info['state']}{extra}")
        elif kind == "run_finished":
            log(f"{elapsed:9.2f}s == {info['dag_id']} {info['run_id']} {info['state']}")
        elif kind == "store_error":
            log(f"skipping a damaged run ({info['error']})")

    last_load = 0.0

    def specs() -> dict[str, DagSpec]:
        nonlocal last_load
        if time.monotonic() - last_load >= 1.0:
            bag = service.dagbag(reload=True)
            last_load = time.monotonic()
            for err in bag.errors:
                if err.fileloc not in seen_errors or seen_errors[err.fileloc] != err.error:
                    log(f"import error: {err.fileloc}: {err.error}")
            seen_errors.clear()
            seen_errors.update({e.fileloc: e.error for e in bag.errors})
        return service.dagbag().dags

    seen_errors: dict[str, str] = {}
    executor = make_executor(settings)
    from flowctl.notify import send_detached

    wake_fds = _listen_for_pokes(store) if hasattr(executor, "wake_fds") else []
    if wake_fds:
        executor.wake_fds = wake_fds[:1]
    loop = Loop(store=store, executor=executor, specs=specs, workers=settings.workers, clock=clock,
                keys=None, owner=owner, on_event=event_line,
                notifier=lambda event: send_detached(settings.notify, event),
                max_sleep=IDLE_SLEEP if wake_fds and not until_idle else 0.5)
    creator = RunCreator(service, owner)
    signals = ExitStack()
    signals.enter_context(loop.stop_on_signals())
    log(f"scheduler started: pid {owner['pid']}, DAGs from {settings.dags_folder}, {settings.workers} worker slots")
    down_since = previous.get("heartbeat") if previous else None
    wall_prev, mono_prev = clock.now(), clock.monotonic()
    events: list[Any] = []
    stop_deadline = None
    last_status = 0.0
    exit_code = 0
    try:
        while True:
            now = clock.now()
            mono = clock.monotonic()
            gap = (now - wall_prev).total_seconds() - (mono - mono_prev)
            wake_note = None
            if down_since is not None:
                down = (now - datetime.fromisoformat(down_since)).total_seconds()
                if down > WAKE_THRESHOLD:
                    wake_note = f"was down for {human_span(down)} (since {down_since})"
                down_since = None
            elif gap > WAKE_THRESHOLD:
                wake_note = f"the machine slept for {human_span(gap)}"
            wall_prev, mono_prev = now, mono
            if not loop.stopping:
                reports = creator.tick(specs(), now, want_summary=wake_note is not None)
                for r in reports:
                    if r.get("error"):
                        log(f"schedule error: {r['dag_id']}: {r['error']}")
                    elif r["created"] and not wake_note:
                        log(f"created {', '.join(r['created'])} for {r['dag_id']}")
                if wake_note:
                    summary = wake_summary(wake_note, reports)
                    log(summary)
                    if notify is not None:
                        notify({"event": "scheduler_woke", "dag_id": None, "run_id": None, "task_id": None,
                                "try_number": None, "logical_date": None, "error": None, "log": None,
                                "message": summary})
            sleep = loop.step(events)
            due = creator.next_due()
            if due is not None:
                sleep = min(sleep, max(0.0, (due - clock.now()).total_seconds()))
            if not loop.submitted and time.monotonic() - last_load >= 1.0:
                sleep = min(sleep, 2.0)  # DAG files are re-read every couple of seconds when idle
            if time.monotonic() - last_status >= 1.0:
                status.write({"pid": owner["pid"], "started_at": iso(started), "heartbeat": iso(clock.now())})
                last_status = time.monotonic()
            if loop.stopping:
                if stop_deadline is None:
                    stop_deadline = time.monotonic() + grace
                    if loop.submitted:
                        log(f"stopping: waiting up to {grace:g} s for {len(loop.submitted)} running task(s)")
                if not loop.submitted and not loop.callbacks:
                    break
                if time.monotonic() > stop_deadline:
                    for key in list(loop.submitted):
                        if key not in loop._interrupted:
                            loop.interrupt(key)
            elif until_idle and not loop.submitted and not loop.callbacks:
                if not _has_work(loop):
                    break
                if loop.idle_ticks >= 3:  # runs are left that nothing can move on
                    stuck = _stuck_runs(loop, service)
                    log(f"{len(stuck)} run(s) cannot go on without a change:")
                    for line in stuck:
                        log(f"  {line}")
                    exit_code = 1
                    break
            events = executor.poll(sleep)
    finally:
        from flowctl.notify import wait_for_notices

        for fd in wake_fds:
            os.close(fd)
        executor.shutdown(grace=0)
        wait_for_notices(timeout=30)
        signals.close()
        final = status.read()
        final["stopped_at"] = iso(clock.now())
        status.write(final)
        log("scheduler stopped")
    return exit_code


def _listen_for_pokes(store: Any) -> list[int]:
    """A FIFO that commands write to when they change the store (`wake_scheduler`).
    Returns [read end, our own write end]: holding a write end keeps the read
    end from reporting end-of-file when a command closes its end."""
    path = store.wake_path
    try:
        if not path.exists():
            os.mkfifo(path, 0o600)
        read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        write_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return []  # no FIFOs on this file system: the loop polls instead
    return [read_fd, write_fd]


def _stuck_runs(loop: Loop, service: Any) -> list[str]:
    """One line per active run that no tick can move on, with why (as `explain` says)."""
    lines = []
    for (dag_id, run_id), view in sorted(loop.read_views().items()):
        if view.run.get("state") not in ("queued", "running"):
            continue
        if dag_id not in service.dagbag().dags:
            lines.append(f"{dag_id} {run_id}: the DAG is not in the DAG folder (see `flowctl dags errors`)")
            continue
        try:
            doc = service.explain(dag_id, run_id)
        except Exception as exc:  # noqa: BLE001 - a report line must not stop the report
            lines.append(f"{dag_id} {run_id}: {exc}")
            continue
        waiting = [f"{t['task_id']}: {t['reason']}" for t in doc["tasks"] if t["state"] in ("none", "scheduled")]
        lines.append(f"{dag_id} {run_id}: " + ("; ".join(waiting[:3]) or "no task can start"))
    return lines


def _has_work(loop: Loop) -> bool:
    """Any run this scheduler may carry out that has not finished."""
    return any(v.run.get("state") in ("queued", "running") for v in loop.read_views().values())


def wake_summary(note: str, reports: list[dict[str, Any]]) -> str:
    """One block: how long, what was missed, what was created, what the rule skipped."""
    lines = [f"catch-up: {note}."]
    for r in reports:
        if r.get("error"):
            continue
        created, skipped = r.get("created", []), r.get("skipped", [])
        if not created and not skipped:
            continue
        missed = len(created) + len(skipped)
        parts = [f"{missed} interval(s) missed"]
        if created:
            parts.append(f"created {', '.join(created)}")
        if skipped:
            shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
            parts.append(f"skipped by catchup=False: {shown}")
        if r.get("deferred"):
            parts.append(f"{r['deferred']} more wait for max_active_runs")
        lines.append(f"  {r['dag_id']}: " + "; ".join(parts))
    if len(lines) == 1:
        lines.append("  nothing was missed")
    return "\n".join(lines)
