"""Reading what the TUI shows, off the UI thread: snapshots of the store and
task logs.

Everything here blocks (files, the scheduler's lock, DAG imports) and runs
in worker threads. The store's file cache makes a re-read of an unchanged
run file a `stat`, so a refresh after one commit parses only what changed;
the app asks for one only when `store.seq()` moved.

Who carries a run out is not in the commit counter: a foreground `run` or a
scheduler can die without a commit. So every status refresh (`recheck`)
looks again at the owners of the active runs (a `kill -0` each) and at the
scheduler's lock, and a run whose carrier went away shows as waiting.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from flowctl.tui.views import GRID_RUNS, MAIN_RUNS, RunInfo, Snapshot, newest_run_ids

TAIL_BYTES = 200_000
"""A log opens at its last 200 KB; earlier bytes are skipped, not read."""
FOLLOW_CHUNK = 1_000_000


class SnapshotLoader:
    """Builds `Snapshot`s for one service; keeps the DAG bag and the next-run
    times between refreshes. One refresh at a time (the app makes sure)."""

    def __init__(self, service: Any, dag_reload_interval: float = 5.0) -> None:
        self.service = service
        self.dag_reload_interval = dag_reload_interval
        self._bag_loaded_at: float | None = None
        self._next_cache: dict[str, tuple[Any, str | None]] = {}
        self._lock = threading.Lock()
        self._bag_key: Any = None
        self._detail: set[str] = set()
        self.changed = True  #: whether the last `load` found anything new

    def dags_due(self) -> bool:
        return self._bag_loaded_at is None or time.monotonic() - self._bag_loaded_at >= self.dag_reload_interval

    def recheck(self, previous: Snapshot) -> tuple[Snapshot, bool]:
        """The scheduler's status and the active runs' carriers read again
        (no run file is read); whether any run's carrier changed."""
        scheduler = scheduler_status(self.service.settings.home)
        snap, changed = with_carriers(previous, scheduler)
        return replace(snap, scheduler=scheduler), changed

    def load(self, now: datetime, *, detail: Iterable[str] = (), reload_dags: bool = False,
             with_scheduler: bool = True, previous: Snapshot | None = None) -> Snapshot:
        with self._lock:
            return self._load(now, set(detail), reload_dags, with_scheduler, previous)

    def _load(self, now: datetime, detail: set[str], reload_dags: bool, with_scheduler: bool,
              previous: Snapshot | None) -> Snapshot:
        service = self.service
        store = service.store
        seq = store.seq()
        if reload_dags or self.dags_due():
            # unchanged files cost a stat each: the loader re-imports only what changed
            bag = service.dagbag(reload=self._bag_loaded_at is not None or reload_dags)
            self._bag_loaded_at = time.monotonic()
        else:
            bag = service.dagbag()
        bag_key = (tuple(sorted(bag.files.items())), tuple((e.fileloc, e.error) for e in bag.errors))
        if previous is not None and seq == previous.seq and bag_key == self._bag_key and detail <= self._detail:
            if with_scheduler:
                snap, self.changed = self.recheck(previous)
                return snap
            self.changed = False
            return previous
        self.changed = True
        self._bag_key = bag_key
        self._detail = detail
        dag_ids = sorted(set(bag.dags) | set(store.dag_ids_with_runs()))
        active: dict[str, set[str]] = {}
        for d, r in store.active_runs():
            active.setdefault(d, set()).add(r)
        scheduler: Mapping[str, Any] = dict(previous.scheduler) if previous is not None else {}
        if with_scheduler or not scheduler:
            scheduler = scheduler_status(service.settings.home)
        runs: dict[str, tuple[RunInfo, ...]] = {}
        counts: dict[str, int] = {}
        next_runs: dict[str, str | None] = {}
        for dag_id in dag_ids:
            ids = store.run_ids(dag_id)
            counts[dag_id] = len(ids)
            n = GRID_RUNS if dag_id in detail else MAIN_RUNS
            wanted = newest_run_ids(ids, n)
            extra = sorted(active.get(dag_id, set()) - set(wanted))
            infos = []
            for run_id in [*wanted, *extra]:
                info = read_run_info(store, dag_id, run_id, scheduler)
                if info is not None:
                    infos.append(info)
            runs[dag_id] = tuple(infos)
            spec = bag.dags.get(dag_id)
            if spec is not None:
                next_runs[dag_id] = self._next_run(service, spec, ids, now)
        return Snapshot(
            seq=seq, now=now, tz=service.settings.default_timezone, dags=dict(bag.dags),
            errors=tuple(bag.errors), flags=store.dag_flags(), runs=runs, run_counts=counts,
            next_runs=next_runs, scheduler=scheduler, dags_folder=str(service.settings.dags_folder),
        )

    def _next_run(self, service: Any, spec: Any, run_ids: list[str], now: datetime) -> str | None:
        """The next run the scheduler will create (the scheduler's own function, as
        `flowctl dags list` shows it), looked up again when the runs or the minute change."""
        key = (spec.fingerprint, spec.schedule, spec.schedule_seconds, spec.start_date, spec.catchup,
               len(run_ids), max(run_ids, default=None), now.replace(second=0, microsecond=0))
        hit = self._next_cache.get(spec.dag_id)
        if hit is not None and hit[0] == key:
            return hit[1]
        try:
            interval = service.next_run(spec, now)
        except Exception:  # noqa: BLE001 - one DAG's odd schedule must not break the screen
            interval = None
        value = interval.start.isoformat() if interval is not None else None
        self._next_cache[spec.dag_id] = (key, value)
        return value


def read_run_info(store: Any, dag_id: str, run_id: str, scheduler: Mapping[str, Any]) -> RunInfo | None:
    """One run from its file, with who carries it out (given the scheduler's status)."""
    data = store.read_run(dag_id, run_id)
    if data is None:
        return None
    version = data.dag_version
    tis = data.task_instances
    order = version.get("order") or list(tis)
    ordered = [tis[t] for t in order if t in tis] + [tis[t] for t in tis if t not in order]
    mapped: dict[str, list[Any]] = {}
    for key, ti in sorted(data.tis.items(), key=lambda kv: kv[0].map_index):
        if key.map_index >= 0:
            mapped.setdefault(key.task_id, []).append(ti.to_doc())
    info = RunInfo(dag_id, run_id, data.run, tuple(ordered), version,
                   instances={tid: tuple(docs) for tid, docs in mapped.items()})
    return replace(info, carrier=carrier_of(info, scheduler)) if info.active else info


def carrier_of(info: RunInfo, scheduler: Mapping[str, Any]) -> str | None:
    """Which process carries an active run out: its owner while that lives
    (`run pid 40`; the owner's `kind` says scheduler, run or backfill; an
    owner without one is the scheduler when the pids match), else a running
    scheduler (it adopts runs whose owner is gone), else nobody (None).

    Should move to the service: "who carries this run out" is store knowledge."""
    from flowctl.store import owner_alive

    owner = info.run.get("owner")
    if isinstance(owner, Mapping) and owner_alive(dict(owner)):
        pid = owner.get("pid")
        kind = owner.get("kind")
        if not kind:
            kind = "scheduler" if scheduler.get("running") and pid == scheduler.get("pid") else command_kind(pid)
        return f"{kind} pid {pid}"
    if scheduler.get("running"):
        return f"scheduler pid {scheduler.get('pid')}"
    return None


def any_waiting(service: Any, runs: Iterable[tuple[str, str]]) -> bool:
    """Whether one of these (DAG id, run id) is queued or running and no live
    process carries it out: a finished run needs nobody, and a run whose own
    foreground `run` or `backfill` still lives needs no scheduler."""
    scheduler = scheduler_status(service.settings.home)
    for dag_id, run_id in runs:
        try:
            info = read_run_info(service.store, dag_id, run_id, scheduler)
        except Exception:  # noqa: BLE001 - unreadable now: it waits unless a scheduler runs
            return not scheduler.get("running")
        if info is not None and info.waiting:
            return True
    return False


def command_kind(pid: Any) -> str:
    """For an owner that does not say its kind: `run`, `backfill` or
    `scheduler` from the owner's command line (a `flowctl` command of this
    machine), else `process`. The engine's own `kind` makes this a fallback."""
    try:
        args = Path(f"/proc/{int(pid)}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (OSError, ValueError, TypeError):
        return "process"
    if any(a.endswith("flowctl") or a == "flowctl" for a in args):
        for word in ("backfill", "run", "scheduler"):
            if word in args:
                return word
    return "process"


def with_carriers(snap: Snapshot, scheduler: Mapping[str, Any]) -> tuple[Snapshot, bool]:
    """The snapshot with its active runs' carriers looked at again."""
    changed = False
    runs: dict[str, tuple[RunInfo, ...]] = {}
    for dag_id, infos in snap.runs.items():
        fresh = []
        for info in infos:
            if info.active:
                carrier = carrier_of(info, scheduler)
                if carrier != info.carrier:
                    info = replace(info, carrier=carrier)
                    changed = True
            fresh.append(info)
        runs[dag_id] = tuple(fresh)
    return (replace(snap, runs=runs) if changed else snap), changed


def scheduler_status(home: Path) -> dict[str, Any]:
    from flowctl.engine.daemon import status

    try:
        return status(home)
    except Exception as exc:  # noqa: BLE001 - the header says so instead of crashing
        return {"running": False, "error": str(exc)}


# -- logs ------------------------------------------------------------------------------


def read_tail(path: Path, max_bytes: int = TAIL_BYTES) -> tuple[str, int, int]:
    """(text, end offset, bytes skipped): the last `max_bytes` of the log, from
    the first whole line; the earlier part is never read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = max(0, size - max_bytes)
            f.seek(start)
            raw = f.read(size - start)
    except FileNotFoundError:
        return "", 0, 0
    if start > 0:
        cut = raw.find(b"\n")
        if cut >= 0:
            start += cut + 1
            raw = raw[cut + 1:]
    return raw.decode("utf-8", "replace"), start + len(raw), start


def read_from(path: Path, offset: int, max_bytes: int = FOLLOW_CHUNK) -> tuple[str, int]:
    """What was appended to the log since `offset` (for following a running task)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < offset:  # replaced or truncated: start again
                offset = 0
            if size == offset:
                return "", offset
            f.seek(offset)
            raw = f.read(min(size - offset, max_bytes))
    except FileNotFoundError:
        return "", offset
    # hand out whole lines (a half-written line, or UTF-8 character, waits for
    # the next read) unless the chunk has no line end at all
    cut = raw.rfind(b"\n")
    if cut >= 0:
        raw = raw[: cut + 1]
    return raw.decode("utf-8", "replace"), offset + len(raw)


def dag_source(spec: Any) -> str:
    try:
        return Path(spec.fileloc).read_text()
    except OSError as exc:
        return f"# cannot read {spec.fileloc}: {exc}"
