"""Backfill: a DAG over past data intervals.

The plan says, for every interval whose logical date lies in [start, end],
what happens to it (Airflow 3's reprocess behaviours):

    create      no run yet: a backfill run is made
    reprocess   a failed run (--reprocess failed) or any finished run
                (--reprocess completed) is cleared and runs again
    resume      a run left unfinished by a process that died (an interrupted
                backfill): it is taken over and finished
    follow      a run that another live process (a daemon, another command)
                carries out: the backfill waits for it and reports its end
    skip        a run exists and the rule leaves it alone

Any run of a date counts, whatever its type (one run per logical date).
Runs are started at most `max_active_runs` at a time (`scopes.Feed`), so
Ctrl-C stops creating them; running tasks finish, and the same command
later resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from flowctl.clock import iso
from flowctl.engine.clearing import apply_clear, plan_clear, version_changes
from flowctl.engine.runs import new_run, run_for_date, runs_by_date
from flowctl.errors import StoreCorrupt, UsageError
from flowctl.procs import owner_alive
from flowctl.records import RunKey
from flowctl.specs import DagSpec
from flowctl.states import RUN_FINISHED
from flowctl.store import Store

MAX_INTERVALS = 100_000  #: a backfill plans at most this many intervals (11 years of an hourly DAG)


@dataclass(frozen=True)
class PlanItem:
    logical_date: datetime
    data_interval_end: datetime
    action: str  #: create, reprocess, resume, follow, skip
    run_id: str
    state: str | None  #: the existing run's state
    why: str

    def to_doc(self) -> dict[str, Any]:
        return {"logical_date": iso(self.logical_date), "data_interval_start": iso(self.logical_date),
                "data_interval_end": iso(self.data_interval_end), "action": self.action,
                "run_id": self.run_id, "state": self.state, "why": self.why}


def plan_backfill(store: Store, spec: DagSpec, start: datetime, end: datetime, reprocess: str,
                  run_backwards: bool) -> list[PlanItem]:
    if reprocess not in ("none", "failed", "completed"):
        raise UsageError(f"--reprocess must be none, failed or completed, not {reprocess!r}")
    if end < start:
        raise UsageError(f"--end ({end.isoformat()}) is before --start ({start.isoformat()})")
    if spec.schedule is None and spec.schedule_seconds is None:
        what = "runs on asset updates only" if spec.asset_condition else "has no schedule"
        raise UsageError(f"{spec.dag_id} {what}, so it has no data intervals to backfill; use `flowctl run`")
    intervals = list(islice(spec.timetable().iter_intervals_between(start, end), MAX_INTERVALS + 1))
    if len(intervals) > MAX_INTERVALS:
        raise UsageError(f"{start.isoformat()} to {end.isoformat()} holds more than {MAX_INTERVALS:,} intervals of "
                         f"{spec.dag_id} ({spec.schedule_display}); backfill a shorter range at a time")
    by_date = runs_by_date(store, spec.dag_id)
    items = []
    for interval in intervals:
        stamp = iso(interval.start)
        assert stamp is not None
        found = by_date.get(stamp)
        if found is None:
            items.append(PlanItem(interval.start, interval.end, "create", f"backfill__{stamp}", None, "no run yet"))
            continue
        try:
            data = store.read_run(spec.dag_id, found)
        except StoreCorrupt as exc:
            items.append(PlanItem(interval.start, interval.end, "skip", found, "damaged", str(exc)))
            continue
        if data is None:
            continue
        run = data.record
        state = run.state
        kind = "" if found.startswith("backfill__") else f" ({run.run_type} run)"
        added, removed = version_changes(spec, data.dag_version)
        changed = ""
        if added or removed:
            parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
            changed = f"; ran under an older DAG ({'; '.join(parts)}), re-runs with the current one"
        if state not in RUN_FINISHED:
            if owner_alive(run.owner):
                who = (run.owner or {}).get("kind") or "process"
                items.append(PlanItem(interval.start, interval.end, "follow", found, state,
                                      f"carried out by a {who} (pid {(run.owner or {}).get('pid')}){kind}; followed to its end"))
            else:
                items.append(PlanItem(interval.start, interval.end, "resume", found, state,
                                      f"left unfinished{kind}; taken over" + changed))
        elif (reprocess == "failed" and state == "failed") or reprocess == "completed":
            items.append(PlanItem(interval.start, interval.end, "reprocess", found, state,
                                  f"{state}{kind}; --reprocess {reprocess}{changed}"))
        else:
            items.append(PlanItem(interval.start, interval.end, "skip", found, state, f"a run exists ({state}){kind}"))
    if run_backwards:
        items.reverse()
    return items


def plan_gap_reason(spec: DagSpec, start: datetime, end: datetime) -> str:
    """Why a range holds no interval: before start_date, after end_date, or between ticks."""
    from flowctl.clock import zone

    tz = zone(spec.timezone)
    parts = []
    if spec.start_date:
        sd = datetime.fromisoformat(spec.start_date)
        if end < sd:
            parts.append(f"the range ends before the DAG's start_date ({sd.astimezone(tz):%Y-%m-%d %H:%M})")
    if spec.end_date:
        ed = datetime.fromisoformat(spec.end_date)
        if start > ed:
            parts.append(f"the range starts after the DAG's end_date ({ed.astimezone(tz):%Y-%m-%d %H:%M})")
    if not parts:
        parts.append(f"no interval of its schedule ({spec.schedule_display}) starts in the range")
    return "; ".join(parts)


def starter(store: Store, spec: DagSpec, owner: dict[str, Any], now: datetime) -> Any:
    """What a backfill's `Feed` calls to begin a batch of plan items: one
    commit makes all the new runs; reprocessed runs are cleared and taken
    over; resumed and followed runs are just put in scope."""

    def start(batch: list[PlanItem]) -> list[tuple[PlanItem, RunKey | None]]:
        out: list[tuple[PlanItem, RunKey | None]] = []
        creating = [item for item in batch if item.action == "create"]
        made: dict[PlanItem, str | None] = {}
        if creating:
            with store.transaction() as tx:
                for item in creating:
                    made[item] = new_run(tx, spec, run_type="backfill", logical_date=item.logical_date,
                                         interval=(item.logical_date, item.data_interval_end), owner=owner,
                                         now=now, exist_ok=True)
        for item in batch:
            if item.action == "create":
                run_id = made.get(item)
                if run_id is None:  # another process made this date's run meanwhile: follow it
                    stamp = iso(item.logical_date)
                    run_id = run_for_date(store, spec.dag_id, stamp) if stamp else None
                out.append((item, RunKey(spec.dag_id, run_id) if run_id else None))
            elif item.action == "reprocess":
                clear = plan_clear(store, spec, spec.dag_id, [item.run_id], task_regex=None, upstream=False,
                                   downstream=False, only_failed=item.state == "failed", changed=False)
                if clear:
                    apply_clear(store, spec, clear, take_over=owner)
                out.append((item, RunKey(spec.dag_id, item.run_id)))
            else:  # resume, follow
                out.append((item, RunKey(spec.dag_id, item.run_id)))
        return out

    return start
