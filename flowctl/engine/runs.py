"""Making runs: their ids, their data intervals, and the rule that a DAG has
at most one run per logical date, whatever its type (Airflow 2's rule).

Every place that creates a run (`run`, `trigger`, the scheduler, backfill)
goes through `new_run`, inside a transaction, so the rule is checked under
the writer lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowctl.clock import iso, zone
from flowctl.errors import UsageError
from flowctl.records import Run, RunKey, TaskInstance, logical_stamp, make_run_id
from flowctl.specs import DagSpec
from flowctl.states import TaskState
from flowctl.store import Store, Transaction


class DateTaken(UsageError):
    """A run exists for this logical date already."""

    exit_code = 1

    def __init__(self, dag_id: str, run_id: str, logical_date: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"{dag_id} already has a run for {logical_date}: {run_id} (one run per logical date); "
            f"to run it again: flowctl clear {dag_id} --run '{run_id}' --yes")


class ParamsRefused(UsageError):
    """A run's conf (or a param's default) breaks a Param's schema: the run is not made."""


def params_problem(spec: DagSpec, conf: dict[str, Any] | None) -> str | None:
    """Why a run of this DAG with this conf would be refused (Airflow validates the
    params when it creates a run), as one line naming the param and the rule."""
    if not spec.param_schemas:
        return None
    from flowctl.authoring.params import conf_problem

    return conf_problem(spec.param_schemas, dict(conf or {}))


def check_params(spec: DagSpec, conf: dict[str, Any] | None) -> None:
    problem = params_problem(spec, conf)
    if problem is not None:
        raise ParamsRefused(f"{spec.dag_id}: {problem}; no run was made")


def fresh_ti(spec: DagSpec, task_id: str) -> TaskInstance:
    """A task instance that has not run yet."""
    task = spec.tasks[task_id]
    return TaskInstance(task_id, -1, TaskState.NONE, 0, operator=task.operator, max_tries=task.retries + 1)


def run_for_date(store: Store, dag_id: str, logical_date_iso: str) -> str | None:
    """The run id of the DAG's run for this logical date (UTC ISO), if any."""
    for run_id in store.run_ids(dag_id):
        if logical_stamp(run_id) == logical_date_iso:
            return run_id
    return None


def runs_by_date(store: Store, dag_id: str) -> dict[str, str]:
    """Logical date (UTC ISO) -> run id, for every run of the DAG: one listing
    of its folder, where asking `run_for_date` per date lists it each time."""
    out: dict[str, str] = {}
    for run_id in store.run_ids(dag_id):
        stamp = logical_stamp(run_id)
        if stamp is not None:
            out.setdefault(stamp, run_id)
    return out


def dates_with_runs(store: Store, dag_id: str) -> set[str]:
    """Logical dates (UTC ISO) that have a run of any type."""
    return set(runs_by_date(store, dag_id))


def new_run(
    tx: Transaction,
    spec: DagSpec,
    *,
    run_type: str,
    logical_date: datetime,
    interval: tuple[datetime, datetime],
    conf: dict[str, Any] | None = None,
    owner: dict[str, Any] | None = None,
    now: datetime,
    exist_ok: bool = False,
) -> str | None:
    """Add a run inside a transaction. A logical date that has a run of any
    type is taken: DateTaken, or None with `exist_ok` (another process made it
    meanwhile)."""
    check_params(spec, conf)
    stamp = iso(logical_date)
    assert stamp is not None
    taken = run_for_date(tx.store, spec.dag_id, stamp)
    if taken is None:
        for key in tx._runs:
            if key.dag_id == spec.dag_id and logical_stamp(key.run_id) == stamp:
                taken = key.run_id
    if taken is not None:
        if exist_ok:
            return None
        raise DateTaken(spec.dag_id, taken, stamp)
    run_id = make_run_id(run_type, stamp)
    record = Run(
        dag_id=spec.dag_id, run_id=run_id, run_type=run_type, state="queued",
        logical_date=stamp, data_interval_start=iso(interval[0]), data_interval_end=iso(interval[1]),
        conf=dict(conf or {}), owner=owner, heartbeat=now.isoformat(), queued_at=now.isoformat(),
        timezone=spec.timezone,
    )
    tx.create_run(record, [fresh_ti(spec, tid) for tid in spec.order], spec.version_doc())
    return run_id


def manual_interval(spec: DagSpec, logical_date: datetime | None, now: datetime) -> tuple[datetime, datetime, datetime]:
    """(logical date, interval start, interval end) of a manual run: the
    schedule's interval holding the logical date (now when not given)."""
    import pendulum

    when = pendulum.instance(logical_date or now).in_timezone(zone(spec.timezone))
    try:
        interval = spec.timetable().interval_for(when)
        return when, interval.start, interval.end
    except (ValueError, AttributeError):
        return when, when, when


__all__ = ["DateTaken", "ParamsRefused", "RunKey", "check_params", "params_problem", "dates_with_runs", "fresh_ti", "manual_interval", "new_run", "run_for_date"]
