"""`flowctl explain`: why each task instance of a run is in its state or is
not running yet, from the same decision function the engine uses (`judge`),
and who (if anyone) is carrying the run out."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowctl.engine.crossdag import run_note, waiting_note
from flowctl.engine.decisions import RunView, active_counts, decide
from flowctl.engine.loop import previous_run
from flowctl.engine.pools import occupancy_of
from flowctl.errors import NotFound, StoreCorrupt
from flowctl.procs import owner_alive, same_owner
from flowctl.specs import DagSpec

if TYPE_CHECKING:
    from flowctl.service import Service


def carrier(service: Service, run: dict[str, Any]) -> str | None:
    """Who carries an active run out: "scheduler (pid N)", "flowctl run (pid N)",
    ..., or None when no process does (it waits for one)."""
    owner = run.get("owner")
    if owner and owner_alive(owner):
        kind = {"scheduler": "the scheduler", "run": "a foreground `flowctl run`",
                "backfill": "a `flowctl backfill`"}.get(owner.get("kind") or "", "a flowctl process")
        return f"{kind} (pid {owner.get('pid')})"
    if service.scheduler_running():
        pid = service.scheduler_status().get("pid")
        return f"the scheduler (pid {pid}), which takes it over on its next tick"
    return None


def explain(service: Service, dag_id: str, run_id: str, task_id: str | None, now: datetime) -> dict[str, Any]:
    data = service.read_run(dag_id, run_id)
    spec = service.dagbag().dags.get(dag_id)
    run = data.run
    tis = data.task_instances
    if task_id is not None and task_id not in tis:
        raise NotFound(f"run {run_id} of {dag_id} has no task {task_id!r}")
    notes: list[str] = []
    if spec is None:
        notes.append(f"DAG {dag_id} is no longer in the DAG folder: its runs cannot go on")
    if service.store.is_paused(dag_id):
        notes.append(f"{dag_id} is paused: no new scheduled runs (this run still goes on)")
    if run.get("timed_out") and run.get("reason"):
        notes.append(f"{run['reason']}; its unfinished tasks were skipped (clear it to run it again)")
    active = run.get("state") in ("queued", "running")
    who = carrier(service, run) if active else None
    waits: dict[str, str] = {}
    if active and who is None:
        notes.append("no process is carrying this run out: start `flowctl scheduler --daemon` "
                     "(or `--until-idle` to run what is pending and exit)")
    elif active:
        notes.append(f"carried out by {who}")
    if spec is not None and active:
        views = [RunView(dag_id, run_id, run, dict(tis))]
        owner = run.get("owner")
        for key in service.store.active_runs():  # the other runs sharing the same process's slots
            if key == (dag_id, run_id):
                continue
            try:
                other = service.store.read_run(*key)
            except StoreCorrupt:
                continue
            if other is not None and owner and same_owner(other.record.owner, owner):
                views.append(RunView(key.dag_id, key.run_id, other.run, dict(other.task_instances)))
        prev = _previous_states(service, spec, run)
        specs = service.dagbag().dags
        in_scope = {v.dag_id: specs[v.dag_id] for v in views if v.dag_id in specs}
        slots = occupancy_of(service.store, service.settings.workers,
                             {d: s.max_active_tasks for d, s in in_scope.items()})
        _, why = decide(in_scope, views, now, service.settings.workers,
                        prev_states={views[0].key: prev} if prev is not None else None, occupancy=slots)
        for w in why:
            if w.key == (dag_id, run_id):
                if "worker slots are busy" in w.reason and who is None:
                    continue
                waits.setdefault(w.task_id, w.reason)
        total, _ = active_counts(views)
        if who is not None and total >= service.settings.workers:
            notes.append(f"all {service.settings.workers} worker slots of that process are busy")
    made_by = run_note(run)  # another DAG's trigger, or asset events
    if made_by:
        notes.append(made_by)
    rows = []
    instances: dict[str, list[Any]] = {}
    for key, one in sorted(data.tis.items(), key=lambda kv: kv[0].map_index):
        if key.map_index >= 0:
            instances.setdefault(key.task_id, []).append(one)
    for tid, ti in tis.items():
        if task_id is not None and tid != task_id:
            continue
        if ti.get("mapped"):  # the task as a whole, then each of its instances
            counts = ", ".join(f"{n} {state}" for state, n in sorted(ti.get("map_states", {}).items()))
            rows.append({"task_id": tid, "map_index": -1, "state": ti.get("state", "none"),
                         "try_number": ti.get("try_number", 0),
                         "reason": f"mapped into {ti.get('map_count')} instance(s): {counts}"})
            for one in instances.get(tid, []):
                doc = one.to_doc()
                rows.append({"task_id": tid, "map_index": one.map_index, "state": one.state,
                             "try_number": one.try_number,
                             "reason": _reason(doc, None, spec, tid, waiting=active and who is None)})
            continue
        reason = _reason(ti, waits.get(tid), spec, tid, waiting=active and who is None)
        task = spec.tasks.get(tid) if spec is not None else None
        across = waiting_note(service.store, service.dagbag().dags, task, ti, run) if task is not None else None
        rows.append({"task_id": tid, "map_index": ti.get("map_index", -1), "state": ti.get("state", "none"),
                     "try_number": ti.get("try_number", 0),
                     "reason": f"{reason}; {across}" if across else reason})
    order = data.dag_version.get("order") or list(tis)
    rows.sort(key=lambda r: (order.index(r["task_id"]) if r["task_id"] in order else len(order), r["map_index"]))
    return {"dag_id": dag_id, "run_id": run_id, "run_state": run.get("state"), "carried_by": who,
            "notes": notes, "tasks": rows}


def _previous_states(service: Service, spec: DagSpec, run: dict[str, Any]) -> dict[str, str] | None:
    if not any(t.depends_on_past for t in spec.tasks.values()):
        return None
    prev = previous_run(service.store, spec.dag_id, run.get("logical_date"))
    return {} if prev is None else {k.task_id: ti.state for k, ti in prev.tis.items()}


def _reason(ti: dict[str, Any], wait: str | None, spec: DagSpec | None, tid: str, waiting: bool) -> str:
    state = ti.get("state", "none")
    n = ti.get("try_number", 0)
    if ti.get("marked") and state in ("success", "failed"):  # not what its last try did
        return str(ti.get("reason") or f"marked {state} by hand")
    if state == "success":
        updated = ti.get("assets_updated")
        return f"succeeded on try {n}" + (f"; updated {', '.join(updated)}" if updated else "")
    if state == "failed":
        if not n:  # failed before any try: its pool does not exist, say
            return f"failed without running: {ti.get('error') or ti.get('reason') or 'marked failed'}"
        return f"failed on try {n}: {ti.get('error') or 'see its log'}"
    if state == "upstream_failed":
        return ti.get("reason") or "an upstream task failed"
    if state == "skipped":
        if ti.get("skipped_by"):
            return f"skipped by {ti['skipped_by']}"
        return ti.get("reason") or ti.get("error") or "skipped"
    if state == "running":
        return f"running try {n} since {ti.get('start_date')} (pid {ti.get('pid')})"
    if state == "queued":
        return f"try {n} handed to the executor at {ti.get('queued_at')}"
    if state == "up_for_retry":
        return wait or f"try {n} failed ({ti.get('error')}); retry at {ti.get('next_retry_at')}"
    if state == "up_for_reschedule":
        return wait or f"sensor waits; next poke at {ti.get('next_poke_at')}"
    if spec is not None and tid not in spec.tasks:
        return "this task is no longer in the DAG file"
    if wait:
        return wait
    return "ready: waits for a process to carry the run out" if waiting else "ready: starts on the next tick"
