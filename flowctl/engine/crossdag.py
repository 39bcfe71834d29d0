"""Across DAGs: the run a `TriggerDagRunOperator` asks for, and clears that
follow `ExternalTaskMarker`s into other DAGs.

Triggering. The task process never writes state: it sends a request with its
result (`result["trigger_dag_run"]`), and the loop that records the result
makes the run in the same commit. The request is settled twice:

1. `settle_trigger`, when the result arrives (no lock): is the DAG there, is
   the logical date free (one run per logical date), what the operator does
   when it is not (`reset_dag_run` clears that run, `skip_when_already_exists`
   skips, otherwise the try fails with Airflow's DagRunAlreadyExists). The
   result is rewritten to say so, and the XComs Airflow pushes are added
   (`trigger_dag_id`, `trigger_run_id`, `trigger_logical_date_iso`).
2. `TriggerRun.apply`, inside the commit (under the lock): the same checks
   again; if another process took the date in between, the result is decided
   again on the next tick (`False`: the task instance's change is held back).

The run is a manual run, owned by the process whose loop committed it (which
carries it out: `flowctl run` carries the runs its tasks trigger), with
`triggered_by` naming the task. With `wait_for_completion`, the try ends as a
sensor between pokes (up_for_reschedule, its slot freed) and later pokes read
the run's state (authoring/crossdag.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowctl.clock import iso
from flowctl.errors import StoreCorrupt
from flowctl.records import RunKey, TaskKey, TryKey, logical_stamp, make_run_id
from flowctl.specs import DagSpec
from flowctl.store import RunWriter, Store, Transaction

XCOM_DAG_ID = "trigger_dag_id"
XCOM_RUN_ID = "trigger_run_id"
XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"


# -- 1. when the result arrives -------------------------------------------------------------


@dataclass
class TriggerRun:
    """A run to make (or clear) in the commit that records the requesting try."""

    key: TryKey
    event: Any  #: the try's Finished event, decided again if the commit finds the date taken
    dag_id: str
    logical_date: datetime
    conf: dict[str, Any]
    reset: bool
    expect: str | None  #: the run id that held the date when settled (None: the date was free)
    write_xcom: bool  #: the try is between pokes: its XComs are written here, not with a success
    xcom: dict[str, Any] = field(default_factory=dict)

    def apply(self, tx: Transaction, writer: RunWriter, tk: TaskKey, ctx: Any) -> bool:
        from flowctl.engine.runs import DateTaken, manual_interval, new_run, run_for_date

        spec: DagSpec | None = ctx.specs.get(self.dag_id)
        if spec is None:
            return False
        stamp = iso(self.logical_date)
        assert stamp is not None
        taken = run_for_date(tx.store, self.dag_id, stamp)
        if taken != self.expect:
            return False  # another process made (or removed) that run since: decide again
        source = {"dag_id": writer.key.dag_id, "run_id": writer.key.run_id, "task_id": tk.task_id}
        if taken is None:
            logical, start, end = manual_interval(spec, self.logical_date, ctx.now)
            try:
                run_id = new_run(tx, spec, run_type="manual", logical_date=logical, interval=(start, end),
                                 conf=self.conf, owner=ctx.owner, now=ctx.now)
            except DateTaken:
                return False
            assert run_id is not None
            made = tx.run(self.dag_id, run_id)
            if made is not None:
                made.update_run(triggered_by=source)
        else:
            run_id = taken
            if not reset_run(tx, spec, run_id, ctx.owner, source):
                return False
        ctx.created.append(RunKey(self.dag_id, run_id))
        if self.write_xcom:
            for name, value in self.xcom.items():
                writer.set_xcom(tk, name, value)
        return True


def settle_trigger(store: Store, specs: Mapping[str, DagSpec], key: TryKey, event: Any,
                   result: dict[str, Any], now: datetime) -> tuple[dict[str, Any], TriggerRun | None]:
    """A result that asks for a run: (the result as it stands, what to make in the
    commit). A request that cannot be met turns the result into a failure (or a
    skip) that says why, as Airflow's operator would have."""
    request = result.get("trigger_dag_run")
    if not isinstance(request, Mapping) or result.get("state") not in ("success", "reschedule"):
        return result, None
    result = {k: v for k, v in result.items() if k != "trigger_dag_run"}
    dag_id = str(request.get("dag_id") or "")
    spec = specs.get(dag_id)
    if spec is None:
        return _failed(result, f"DagNotFound: Dag id {dag_id} not found: it is not in the DAG folder "
                               f"(or its file failed to import: see `flowctl dags errors`)"), None
    if request.get("fail_when_dag_is_paused") and _paused(store, dag_id):
        return _failed(result, f"DagIsPaused: Dag {dag_id} is paused"), None
    try:
        logical = _utc(request["logical_date"]) if request.get("logical_date") else now
    except (ValueError, TypeError) as exc:
        return _failed(result, f"logical_date {request.get('logical_date')!r} is not a date and time ({exc})"), None
    from flowctl.engine.runs import run_for_date

    stamp = iso(logical)
    assert stamp is not None
    try:
        taken = run_for_date(store, dag_id, stamp)
    except StoreCorrupt as exc:
        return _failed(result, str(exc)), None
    if taken is not None and not request.get("reset_dag_run"):
        if request.get("skip_when_already_exists"):
            return {**result, "state": "skipped", "xcom": {}, "skip_reason":
                    f"Skipping due to skip_when_already_exists is set to True and DagRunAlreadyExists ({taken})"}, None
        return _failed(result, f"DagRunAlreadyExists: a run of {dag_id} exists for logical date {stamp}: {taken} "
                               f"(one run per logical date; reset_dag_run=True clears it instead)"), None
    run_id = taken or make_run_id("manual", stamp)
    xcom = {XCOM_DAG_ID: dag_id, XCOM_RUN_ID: run_id, XCOM_LOGICAL_DATE_ISO: logical.isoformat()}
    if result.get("state") == "success":
        result = {**result, "xcom": {**(result.get("xcom") or {}), **xcom}}
    effect = TriggerRun(key, event, dag_id, logical, dict(request.get("conf") or {}),
                        bool(request.get("reset_dag_run")), taken, result.get("state") != "success", xcom)
    return result, effect


def _failed(result: dict[str, Any], error: str) -> dict[str, Any]:
    return {"state": "failed", "error": error, "xcom": {}, "no_retry": False,
            **{k: v for k, v in result.items() if k in ("log",)}}


def reset_run(tx: Transaction, spec: DagSpec, run_id: str, owner: dict[str, Any] | None,
              source: dict[str, Any]) -> bool:
    """Clear every task instance of the run so that it runs again (Airflow's
    reset_dag_run): on the current DAG version, back to queued. A run no live
    process carries becomes `owner`'s; its conf stays as it was (Airflow's rule)."""
    from flowctl.engine.clearing import reset_fields
    from flowctl.engine.runs import fresh_ti
    from flowctl.procs import owner_alive

    rf = tx.run(spec.dag_id, run_id)
    if rf is None:
        return False
    for tk in rf.keys():
        rf.put_ti(tk, **reset_fields())
    for tid in spec.order:
        if rf.ti(TaskKey(tid)) is None:
            rf.put_ti(TaskKey(tid), **fresh_ti(spec, tid).to_doc())
    rf.set_dag_version(spec.version_doc())
    current = rf.record.owner
    changes: dict[str, Any] = {"state": "queued", "end_date": None, "triggered_by": source}
    if not (current and owner_alive(current)):
        changes["owner"] = owner
    rf.update_run(**changes)
    return True


# -- clears that cross DAGs -----------------------------------------------------------------


def follow_markers(store: Store, specs: Mapping[str, DagSpec], plan: list[dict[str, Any]],
                   depth: int | None = None) -> list[dict[str, Any]]:
    """The task instances of other DAGs that the `ExternalTaskMarker`s in a
    clear's set point at, with their downstream tasks, followed through the
    markers among those (up to each marker's recursion_depth), as Airflow's
    clear does. Each row says which marker brought it in."""
    from flowctl.engine.clearing import plan_clear
    from flowctl.engine.runs import run_for_date

    seen = {(p["dag_id"], p["run_id"], p["task_id"]) for p in plan}
    out: list[dict[str, Any]] = []
    # (row, hops so far, the depth allowed: the first marker's recursion_depth, as Airflow)
    frontier: list[tuple[dict[str, Any], int, int | None]] = [(p, 0, None) for p in plan]
    while frontier:
        row, hops, allowed = frontier.pop(0)
        spec = specs.get(row["dag_id"])
        task = spec.tasks.get(row["task_id"]) if spec is not None else None
        marker = (task.external or {}) if task is not None else {}
        if marker.get("kind") != "marker":
            continue
        allowed = int(marker.get("recursion_depth") or 10) if allowed is None else allowed
        if hops + 1 > allowed:
            raise_depth(row, allowed)
        stamp = marker_date(store, row, marker)
        ext_dag, ext_task = marker.get("dag_id"), marker.get("task_id")
        if not ext_dag or not ext_task or stamp is None:
            continue
        try:
            run_id = run_for_date(store, ext_dag, stamp)
        except StoreCorrupt:
            continue
        if run_id is None:
            continue
        rows = plan_clear(store, specs.get(ext_dag), ext_dag, [run_id], task_regex=f"^{_escape(ext_task)}$",
                          upstream=False, downstream=True, only_failed=False, changed=False)
        for r in rows:
            ident = (r["dag_id"], r["run_id"], r["task_id"])
            if ident in seen:
                continue
            seen.add(ident)
            r["why"] = f"ExternalTaskMarker {row['dag_id']}.{row['task_id']} points at it" \
                if r["task_id"] == ext_task else f"downstream of {ext_dag}.{ext_task} (cleared by a marker)"
            out.append(r)
            frontier.append((r, hops + 1, allowed))
    return out


def raise_depth(row: dict[str, Any], allowed: int) -> None:
    from flowctl.errors import FlowctlError

    raise FlowctlError(f"Maximum recursion depth {allowed} reached for ExternalTaskMarker {row['task_id']} "
                       f"of {row['dag_id']}. Attempted to clear too many tasks or there may be a cyclic "
                       f"dependency (nothing was cleared; raise the first marker's recursion_depth)")


def marker_date(store: Store, row: dict[str, Any], marker: dict[str, Any]) -> str | None:
    """The logical date (UTC ISO) a marker's external task instance has: what
    its last try rendered; before it ran, its run's logical date when the
    template is Airflow's default (or a fixed date)."""
    try:
        stored = store.read_run(row["dag_id"], row["run_id"])
    except StoreCorrupt:
        return None
    if stored is None:
        return None
    ti = stored.tis.get(TaskKey(row["task_id"]))
    rendered = ti.extra.get("external_logical_date") if ti is not None else None
    if rendered:
        return str(rendered)
    template = str(marker.get("logical_date") or "")
    if "{{" not in template and template:
        try:
            return iso(_utc(template))
        except (ValueError, TypeError):
            return None
    return stored.record.logical_date or logical_stamp(row["run_id"])


# -- what `explain` says ---------------------------------------------------------------------


def waiting_note(store: Store, specs: Mapping[str, DagSpec], task: Any, ti: Mapping[str, Any],
                 run: Mapping[str, Any]) -> str | None:
    """What a sensor or a waiting trigger of this kind waits for, and how it
    stands now: `waits for parent.parent_task at 2026-01-01 00:00 UTC: it is running`."""
    ext = getattr(task, "external", None) or {}
    state = ti.get("state")
    if ext.get("kind") == "trigger" and state == "up_for_reschedule":
        made = ti.get("triggered_run") or {}
        now = _run_state(store, str(made.get("dag_id")), made.get("run_id"))
        return (f"waits for run {made.get('run_id')} of {made.get('dag_id')} to be "
                f"{' or '.join(ext.get('allowed_states') or ['success'])} (it is {now or 'gone'})")
    if ext.get("kind") != "sensor" or state not in ("up_for_reschedule", "running", "queued"):
        return None
    dag_id = str(ext.get("dag_id"))
    if ext.get("task_ids"):
        target = f"{'tasks' if len(ext['task_ids']) > 1 else 'task'} {', '.join(ext['task_ids'])} of {dag_id}"
    elif ext.get("group_id"):
        target = f"task group {ext['group_id']} of {dag_id}"
    else:
        target = f"the run of {dag_id}"
    other = specs.get(dag_id)
    missing = ""
    if other is None:
        missing = f" (there is no DAG {dag_id} in the DAG folder)"
    elif ext.get("group_id") and not any(t.startswith(f"{ext['group_id']}.") for t in other.tasks):
        missing = f" ({dag_id} has no task group {ext['group_id']}: the sensor waits until its timeout)"
    elif ext.get("task_ids") and any(t not in other.tasks for t in ext["task_ids"]):
        gone = [t for t in ext["task_ids"] if t not in other.tasks]
        missing = f" ({dag_id} has no task {', '.join(gone)}: the sensor waits until its timeout)"
    if ext.get("date_fn"):
        return f"waits for {target} at the dates its execution_date_fn returns{missing}"
    logical = _dt(run.get("logical_date"))
    if logical is None:
        return None
    when = logical - timedelta(seconds=float(ext.get("delta") or 0))
    stamp = iso(when)
    assert stamp is not None
    try:
        from flowctl.engine.runs import run_for_date

        run_id = run_for_date(store, dag_id, stamp)
    except StoreCorrupt:
        run_id = None
    if run_id is None:
        status = f"{dag_id} has no run for that date yet"
    else:
        stored = store.read_run(dag_id, run_id)
        tis = stored.task_instances if stored is not None else {}
        if ext.get("task_ids"):
            status = ", ".join(f"{t} is {tis.get(t, {}).get('state', 'missing')}" for t in ext["task_ids"])
        elif ext.get("group_id"):
            states = sorted({ti.get("state", "none") for t, ti in tis.items() if t.startswith(f"{ext['group_id']}.")})
            status = f"its tasks are {', '.join(states)}" if states else "the run has no task in that group"
        else:
            status = f"it is {stored.record.state if stored is not None else 'gone'}"
        status = f"{run_id}: {status}"
    wanted = " or ".join(ext.get("allowed_states") or ["success"])
    return f"waits for {target} at {when.isoformat()} to be {wanted}{missing}; {status}"


def run_note(run: Mapping[str, Any]) -> str | None:
    """Why this run exists, when another DAG made it: a trigger, or asset events."""
    by = run.get("triggered_by")
    if by:
        return f"triggered by {by.get('dag_id')}.{by.get('task_id')} ({by.get('run_id')})"
    events = run.get("triggering_asset_events") or []
    if events:
        shown = ", ".join(f"{e.get('uri')} (by {e.get('dag_id')}.{e.get('task_id')})" for e in events[:3])
        more = f" and {len(events) - 3} more" if len(events) > 3 else ""
        return f"made by {len(events)} asset event(s): {shown}{more}"
    return None


def _run_state(store: Store, dag_id: str, run_id: Any) -> str | None:
    if not run_id:
        return None
    try:
        stored = store.read_run(dag_id, str(run_id))
    except StoreCorrupt:
        return "damaged"
    return stored.record.state if stored is not None else None


def _dt(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _utc(text: str) -> datetime:
    """An ISO date and time (naive: UTC) as an aware UTC datetime."""
    from datetime import UTC

    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


__all__ = ["TriggerRun", "follow_markers", "reset_run", "run_note", "settle_trigger", "waiting_note"]


def _paused(store: Store, dag_id: str) -> bool:
    """Whether `dag_id` is paused; unknown (a damaged flags file, which the scheduler
    reports) is not paused, so the task's result is recorded all the same."""
    try:
        return store.is_paused(dag_id)
    except StoreCorrupt:
        return False
