"""The scheduler's scope: create the runs that are due, carry out every run
without a live owner, notice sleep and downtime.

`flowctl scheduler` (foreground or --daemon) and `--until-idle` are the one
driver (`drive.py`) with this scope. What the scheduler will create next is
`next_scheduled`, the same function `dags list` and the TUI show.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flowctl.clock import iso
from flowctl.engine.assets import AssetTriggers
from flowctl.engine.daemon import StatusFile
from flowctl.engine.decisions import DEFERRED_COUNTED, DueRuns, due_runs
from flowctl.engine.loop import Loop
from flowctl.engine.runs import new_run, params_problem
from flowctl.engine.scopes import run_state
from flowctl.errors import StoreCorrupt
from flowctl.records import RunKey, parse_run_id
from flowctl.specs import DagSpec
from flowctl.states import RUN_FINISHED
from flowctl.store import Store

WAKE_THRESHOLD = 60.0  #: seconds of wall-clock jump (beyond elapsed time) that mean "the machine slept"
DAG_RELOAD = 1.0  #: seconds between looks at the DAG folder (only changed files are imported)
STATUS_EVERY = 5.0  #: seconds between heartbeats in the status file


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


def existing_runs(store: Store, dag_id: str) -> tuple[set[str], datetime | None]:
    """(logical dates that have a run of any type, the latest scheduled run's logical date)."""
    existing: set[str] = set()
    last: datetime | None = None
    for run_id in store.run_ids(dag_id):
        parsed = parse_run_id(run_id)
        if parsed is None:
            continue
        kind, stamp = parsed
        existing.add(stamp)
        if kind == "scheduled":
            when = datetime.fromisoformat(stamp)
            last = when if last is None or when > last else last
    return existing, last


def next_scheduled(spec: DagSpec, store: Store, now: datetime) -> Any:
    """The data interval of the next run the scheduler will create for this DAG
    (due now, or the next to fall due), or None."""
    if spec.schedule is None and spec.schedule_seconds is None:
        return None
    tt = spec.timetable()
    existing, last = existing_runs(store, spec.dag_id)
    due = due_runs(spec, tt, existing, last, 0, now)
    if due.create:
        return due.create[0]
    latest = tt.latest_complete(now)
    for interval in tt.next_intervals(after=latest.end if latest is not None else None, n=64):
        if interval.end <= now or iso(interval.start) in existing:
            continue
        if last is not None and interval.start <= last:
            continue
        return interval
    return None


class RunCreator:
    """Creates due scheduled runs, remembering per DAG when to look again."""

    def __init__(self, store: Store, owner: dict[str, Any]) -> None:
        self.store = store
        self.owner = owner
        self._next_check: dict[str, tuple[str, datetime | None]] = {}  # dag -> (version, when)
        self._signature: tuple[Any, ...] | None = None
        self.flags_problem: str | None = None  #: a damaged flags file, reported once
        self.assets = AssetTriggers(store, owner)  #: runs of DAGs scheduled on assets

    def tick(self, specs: dict[str, DagSpec], now: datetime, want_summary: bool = False) -> list[dict[str, Any]]:
        """Create what is due; return per-DAG reports (for the wake summary)."""
        try:
            flags = self.store.dag_flags()
        except StoreCorrupt as exc:  # which DAGs are paused is unknown: make no run rather than unpause all
            if str(exc) == self.flags_problem:
                return []
            self.flags_problem = str(exc)  # said once, not on every tick
            return [{"dag_id": "every DAG", "error": f"{exc}; no scheduled run is made until it is repaired "
                                                    f"(`flowctl doctor`) or a pause or unpause writes it anew"}]
        self.flags_problem = None
        active_runs = self.store.active_runs()
        # what can change what is due: a pause, a run starting or ending (max_active_runs)
        signature = (sorted(active_runs), sorted((d, bool(f.get("paused"))) for d, f in flags.items()))
        if signature != self._signature:
            self._signature = signature
            self._next_check.clear()
        reports: list[dict[str, Any]] = []
        plans: list[tuple[DagSpec, DueRuns]] = []
        for dag_id, spec in sorted(specs.items()):
            if spec.schedule is None and spec.schedule_seconds is None:
                continue
            if flags.get(dag_id, {}).get("paused"):
                continue
            version, when = self._next_check.get(dag_id, ("", None))
            mine = spec.fingerprint + (spec.schedule or "") + str(spec.schedule_seconds)
            if not want_summary and version == mine and when is not None and now < when:
                continue
            try:
                tt = spec.timetable()
            except ValueError as exc:
                reports.append({"dag_id": dag_id, "error": str(exc)})
                continue
            problem = params_problem(spec, {})  # scheduled runs take the params' defaults
            if problem is not None:
                reports.append({"dag_id": dag_id, "error": f"{problem}; no scheduled run is made"})
                continue
            existing, last = existing_runs(self.store, dag_id)
            active = sum(1 for k in active_runs if k.dag_id == dag_id)
            due = due_runs(spec, tt, existing, last, active, now, want_skipped=want_summary)
            self._next_check[dag_id] = (mine, tt.next_due(now))
            if due.create or due.skipped:
                plans.append((spec, due))
        asset_plans = self.assets.due(specs, flags, active_runs)
        if not plans and not asset_plans:
            return reports
        with self.store.transaction() as tx:
            for plan in asset_plans:
                run_id = self.assets.create(tx, plan, now)
                if run_id is not None:
                    reports.append({"dag_id": plan.spec.dag_id, "created": [run_id], "skipped": [], "deferred": 0,
                                    "assets": sorted({e["uri"] for e in plan.events})})
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


def wake_summary(note: str, reports: list[dict[str, Any]]) -> str:
    """One block: how long, what was missed, what was created, what the rule skipped."""
    lines = [f"catch-up: {note}."]
    for r in reports:
        if r.get("error") or r.get("assets"):  # an asset-triggered run is no missed interval
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
            counted = "+" if r["deferred"] >= DEFERRED_COUNTED else ""
            parts.append(f"{r['deferred']}{counted} more wait for max_active_runs")
        lines.append(f"  {r['dag_id']}: " + "; ".join(parts))
    if len(lines) == 1:
        lines.append("  nothing was missed")
    return "\n".join(lines)


@dataclass
class SchedulerScope:
    """Everything due: create scheduled runs, carry out every active run that
    has no live owner. `until_idle`: stop when nothing is left to do."""

    store: Store
    owner: dict[str, Any]
    dags: Callable[[], Any]  #: () -> DagBag, reloading changed files
    status: StatusFile
    log: Callable[[str], None]
    until_idle: bool = False
    notify: Callable[[dict[str, Any]], None] | None = None
    clock: Any = None

    def __post_init__(self) -> None:
        self.creator = RunCreator(self.store, self.owner)
        self.specs: dict[str, DagSpec] = {}
        self._loaded_at: float | None = None
        self._seen_errors: dict[str, str] = {}
        self._status_at: float | None = None
        self._started = self.clock.now()
        previous = self.status.read()
        self._down_since = previous.get("heartbeat") if previous else None
        self._wall_prev = self.clock.now()
        self._mono_prev = self.clock.monotonic()
        self.stuck: list[str] = []
        self.damaged: list[str] = []
        self.failed: list[str] = []  #: runs carried out here that failed (--until-idle then exits 1)
        self.status.write({"pid": self.owner["pid"], "started_at": iso(self._started), "heartbeat": iso(self._started)})

    def current_specs(self) -> dict[str, DagSpec]:
        return self.specs

    def reload(self, force: bool = False) -> None:
        mono = self.clock.monotonic()
        if not force and self._loaded_at is not None and mono - self._loaded_at < DAG_RELOAD:
            return
        self._loaded_at = mono
        bag = self.dags()
        for err in bag.errors:
            if self._seen_errors.get(err.fileloc) != err.error:
                self.log(f"import error: {err.fileloc}: {err.error}")
        self._seen_errors = {e.fileloc: e.error for e in bag.errors}
        self.specs = dict(bag.dags)

    def runs(self) -> set[RunKey] | None:
        return None

    def before(self, loop: Loop, now: datetime) -> float | None:
        mono = self.clock.monotonic()
        self.reload()
        gap = (now - self._wall_prev).total_seconds() - (mono - self._mono_prev)
        note = None
        if self._down_since is not None:
            down = (now - datetime.fromisoformat(self._down_since)).total_seconds()
            if down > WAKE_THRESHOLD:
                note = f"was down for {human_span(down)} (since {self._down_since})"
            self._down_since = None
        elif gap > WAKE_THRESHOLD:
            note = f"the machine slept for {human_span(gap)}"
        self._wall_prev, self._mono_prev = now, mono
        if not loop.stopping:
            reports = self.creator.tick(self.specs, now, want_summary=note is not None)
            created = False
            for r in reports:
                if r.get("error"):
                    self.log(f"schedule error: {r['dag_id']}: {r['error']}")
                elif r["created"]:
                    created = True
                    if r.get("assets"):
                        self.log(f"created {', '.join(r['created'])} for {r['dag_id']} "
                                 f"(assets updated: {', '.join(r['assets'])})")
                    elif not note:
                        self.log(f"created {', '.join(r['created'])} for {r['dag_id']}")
            if created:
                loop.poke()
            if note:
                summary = wake_summary(note, reports)
                self.log(summary)
                if self.notify is not None:
                    self.notify({"event": "scheduler_woke", "dag_id": None, "run_id": None, "task_id": None,
                                 "try_number": None, "logical_date": None, "error": None, "log": None,
                                 "message": summary})
        if self._status_at is None or mono - self._status_at >= STATUS_EVERY:
            self._status_at = mono
            self.status.write({"pid": self.owner["pid"], "started_at": iso(self._started), "heartbeat": iso(now)})
        waits = [DAG_RELOAD]
        due = self.creator.next_due()
        if due is not None:
            waits.append((due - now).total_seconds())
        return min(waits)

    def done(self, loop: Loop) -> bool:
        if not self.until_idle or loop.busy():
            return False
        if loop.damaged:
            self.damaged = [f"{k.dag_id} {k.run_id}: {why}" for k, why in sorted(loop.damaged.items())]
        unfinished = [k for k, c in loop.carried.items() if c.stored.record.state not in RUN_FINISHED]
        if any(k not in loop.carried and run_state(loop, self.store, k) not in RUN_FINISHED | {None, "damaged"}
               for k in loop.triggered):
            return False  # a run our tasks triggered, not taken in yet
        if self.creator.assets.unseen(self.specs):
            return False  # asset events the next tick may make runs of
        if not unfinished:
            # an interval held back by max_active_runs is due now that a run has ended
            created = [r for r in self.creator.tick(self.specs, self.clock.now()) if r.get("created")]
            for r in created:
                self.log(f"created {', '.join(r['created'])} for {r['dag_id']}")
            if created:
                loop.poke()
            return not created
        if loop.idle_ticks >= 3:  # runs are left that nothing can move on
            self.stuck = [self._why_stuck(loop, k) for k in sorted(unfinished)]
            return True
        return False

    def _why_stuck(self, loop: Loop, key: RunKey) -> str:
        return f"{key.dag_id} {key.run_id}: {loop.why_waiting(key, self.clock.now())}"

    def exit_code(self, loop: Loop) -> int:
        final = self.status.read()
        final["stopped_at"] = iso(self.clock.now())
        self.status.write(final)
        if self.stuck:
            self.log(f"{len(self.stuck)} run(s) cannot go on without a change:")
            for line in self.stuck:
                self.log(f"  {line}")
        if self.damaged:
            self.log(f"{len(self.damaged)} run(s) cannot be read:")
            for line in self.damaged:
                self.log(f"  {line}")
        flags = self.creator.flags_problem
        if flags:
            self.log(f"no scheduled run was made: {flags}")
        failed = self.failed if self.until_idle else []  # a scheduler stopped by hand did its job
        if failed:
            self.log(f"{len(failed)} run(s) failed: " + ", ".join(failed[:5])
                     + (f" and {len(failed) - 5} more" if len(failed) > 5 else ""))
        return 1 if (self.stuck or self.damaged or flags or failed) else 0


def listen_for_pokes(path: Path) -> list[int]:
    """A FIFO that commands write to when they change the store (`wake_scheduler`).
    Returns [read end, our own write end]: holding a write end keeps the read
    end from reporting end-of-file when a command closes its end."""
    try:
        if not path.exists():
            os.mkfifo(path, 0o600)
        read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        write_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return []  # no FIFOs on this file system: the loop polls instead
    return [read_fd, write_fd]
