"""Clearing and marking task instances: choosing the set, healing what a
failure left behind, and writing it in one commit.

A clear resets task instances to no state so the scheduler runs them again;
their try count goes on and earlier tries' logs stay. Their `upstream_failed`
and failure-skipped descendants are reset with them, so a fixed upstream is
followed by its downstream without clearing each one (Airflow makes you
clear those by hand).
"""

from __future__ import annotations

import re
from typing import Any

from flowctl.errors import NotFound, UsageError
from flowctl.records import TaskKey
from flowctl.specs import DagSpec
from flowctl.states import FINISHED, TaskState, run_state_of
from flowctl.store import Store


def _edges(spec: DagSpec | None, version: dict[str, Any]) -> dict[str, set[str]]:
    """task -> upstream ids: the current DAG's, else the run's recorded version."""
    if spec is not None:
        return {tid: set(t.upstream) for tid, t in spec.tasks.items()}
    return {tid: set(t.get("upstream", [])) for tid, t in version.get("tasks", {}).items()}


def _closure(start: set[str], step: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        for nxt in step.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _downstream_map(up: dict[str, set[str]]) -> dict[str, set[str]]:
    down: dict[str, set[str]] = {t: set() for t in up}
    for tid, ups in up.items():
        for u in ups:
            down.setdefault(u, set()).add(tid)
    return down


def failure_leftovers(tis: dict[str, dict[str, Any]], down: dict[str, set[str]], roots: set[str]) -> set[str]:
    """Descendants of `roots` that a failure (not a branch) left upstream_failed or skipped."""
    out = set()
    for tid in _closure(roots, down):
        ti = tis.get(tid, {})
        state = ti.get("state")
        if state == TaskState.UPSTREAM_FAILED or (state == TaskState.SKIPPED and not ti.get("skipped_by")):
            out.add(tid)
    return out


def plan_clear(
    store: Store, spec: DagSpec | None, dag_id: str, run_ids: list[str], *, task_regex: str | None,
    upstream: bool, downstream: bool, only_failed: bool, changed: bool,
) -> list[dict[str, Any]]:
    try:
        pattern = re.compile(task_regex) if task_regex else None
    except re.error as exc:
        raise UsageError(f"--task is not a valid regular expression: {exc}") from None
    plan: list[dict[str, Any]] = []
    for run_id in run_ids:
        data = store.read_run(dag_id, run_id)
        if data is None:
            continue
        tis = data.task_instances
        up = _edges(spec, data.dag_version)
        down = _downstream_map(up)
        why: dict[str, str] = {}
        for tid, ti in tis.items():
            if pattern is not None and not pattern.search(tid):
                continue
            state = ti.get("state", "none")
            if only_failed and state not in (TaskState.FAILED, TaskState.UPSTREAM_FAILED):
                continue
            if changed:
                current = spec.tasks[tid].fingerprint if spec is not None and tid in spec.tasks else None
                ran_with = ti.get("success_fingerprint")
                if current is None or ran_with is None or ran_with == current:
                    continue
                why[tid] = "its code changed since it last succeeded"
            else:
                why[tid] = "matches" if pattern is not None else "selected"
        chosen = set(why)
        if upstream:
            for tid in _closure(chosen, up) - chosen:
                why[tid] = "upstream of a selected task"
        if downstream:
            for tid in _closure(chosen, down) - chosen:
                why.setdefault(tid, "downstream of a selected task")
        for tid, reason in setups_and_teardowns(spec, set(why)).items():
            why.setdefault(tid, reason)
        for tid in failure_leftovers(tis, down, set(why)) - set(why):
            why[tid] = f"{tis[tid].get('state')} because of a cleared upstream"
        order = data.dag_version.get("order") or list(tis)
        for tid in sorted(why, key=lambda t: order.index(t) if t in order else len(order)):
            if tid not in tis:
                continue
            ti = tis[tid]
            plan.append({"dag_id": dag_id, "run_id": run_id, "task_id": tid, "state": ti.get("state", "none"),
                         "try_number": ti.get("try_number", 0), "why": why[tid]})
    return plan


def setups_and_teardowns(spec: DagSpec | None, chosen: set[str]) -> dict[str, str]:
    """What clearing these tasks clears with them (Airflow's rule): a task's setups
    and their teardowns; a setup's teardowns."""
    out: dict[str, str] = {}
    if spec is None:
        return out
    for tid in sorted(chosen):
        task = spec.tasks.get(tid)
        if task is None or task.is_teardown:
            continue
        for setup in task.setups:
            out.setdefault(setup, f"a setup of {tid}")
        for setup in [*task.setups, *([tid] if task.is_setup else [])]:
            for down in spec.tasks[setup].downstream if setup in spec.tasks else ():
                if down != tid and down in spec.tasks and spec.tasks[down].is_teardown:
                    out.setdefault(down, f"the teardown of {setup}")
    return {t: why for t, why in out.items() if t not in chosen}


def version_changes(spec: DagSpec | None, version: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(tasks added, tasks removed) between a run's recorded DAG version and the current one."""
    if spec is None:
        return [], []
    old = set(version.get("tasks", {}))
    new = set(spec.tasks)
    return sorted(new - old), sorted(old - new)


def reset_fields() -> dict[str, Any]:
    return {"state": TaskState.NONE, "next_retry_at": None, "next_poke_at": None, "first_poke_at": None,
            "end_date": None, "queued_at": None, "reason": None, "skipped_by": None, "error": None}


def apply_clear(store: Store, spec: DagSpec | None, plan: list[dict[str, Any]],
                take_over: dict[str, Any] | None = None) -> int:
    """Reset the planned instances in one commit; their runs go back to queued
    and take the current DAG version (new tasks are added, removed ones keep
    their history). With `take_over` (a backfill reprocessing a run), a run is
    cleared only if no other live process owns it, and it becomes ours in the
    same commit. Returns how many instances were reset."""
    from flowctl.engine.runs import fresh_ti
    from flowctl.procs import owner_alive, same_owner

    by_run: dict[str, list[dict[str, Any]]] = {}
    for item in plan:
        by_run.setdefault(item["run_id"], []).append(item)
    dag_id = plan[0]["dag_id"]
    count = 0
    with store.transaction() as tx:
        for run_id, items in by_run.items():
            rf = tx.run(dag_id, run_id)
            if rf is None:
                continue
            if take_over is not None:
                current = rf.record.owner
                if current and not same_owner(current, take_over) and owner_alive(current):
                    continue  # a live process carries it: leave it alone
                rf.update_run(owner=take_over)
            for item in items:
                key = TaskKey(item["task_id"], item.get("map_index", -1))
                if rf.ti(key) is None:
                    continue
                rf.put_ti(key, **reset_fields())
                count += 1
            if spec is not None:
                for tid in spec.order:
                    if rf.ti(TaskKey(tid)) is None:
                        rf.put_ti(TaskKey(tid), **fresh_ti(spec, tid).to_doc())
                rf.set_dag_version(spec.version_doc())
            rf.update_run(state="queued", end_date=None)
            if rf.record.extra.get("timed_out"):  # its dagrun_timeout counts anew from its next start
                rf.update_run(timed_out=None, reason=None, start_date=None)
    return count


class Marked(list):
    """What a mark changed: as a list, every changed task id (marked first);
    `marked` the ids set to the state, `reset` the failure leftovers below
    them that a success mark reset (id -> the state they had)."""

    def __init__(self, marked: list[str], reset: dict[str, str]) -> None:
        super().__init__([*marked, *reset])
        self.marked = marked
        self.reset = reset


def apply_mark(store: Store, spec: DagSpec | None, dag_id: str, run_id: str, task_id: str,
               state: str, downstream: bool) -> Marked:
    """Set the state; marking success heals the failure leftovers below it."""
    with store.transaction() as tx:
        rf = tx.run(dag_id, run_id)
        if rf is None:
            raise NotFound(f"{dag_id} has no run {run_id!r}")
        tis = {k.task_id: ti.to_doc() for k, ti in rf.tis().items() if k.map_index < 0}
        if task_id not in tis:
            raise NotFound(f"run {run_id} of {dag_id} has no task {task_id!r}")
        up = _edges(spec, rf.version)
        down = _downstream_map(up)
        targets = [task_id] + (sorted(_closure({task_id}, down) & set(tis)) if downstream else [])
        marked: list[str] = []
        reset: dict[str, str] = {}
        for tid in targets:
            if tis[tid].get("state") != state:
                rf.put_ti(TaskKey(tid), state=state, marked=True, next_retry_at=None, reason=f"marked {state} by hand")
                tis[tid]["state"] = state
                marked.append(tid)
        if state == TaskState.SUCCESS:
            for tid in sorted(failure_leftovers(tis, down, set(targets)) - set(targets)):
                rf.put_ti(TaskKey(tid), **reset_fields())
                reset[tid] = str(tis[tid].get("state"))
                tis[tid]["state"] = TaskState.NONE
        states = [TaskState(t.get("state", "none")) for t in tis.values()]
        from flowctl.engine.decisions import counts_for_run_state

        deciding = [TaskState(t.get("state", "none")) for tid, t in tis.items() if counts_for_run_state(spec, tid)]
        new_state = str(run_state_of(states, deciding))
        if new_state in ("queued", "running"):
            new_state = "queued" if not any(s not in (TaskState.NONE,) and s not in FINISHED for s in states) else "running"
        ended = None
        if new_state in ("success", "failed"):
            from flowctl.clock import utcnow

            ended = rf.record.end_date or utcnow().isoformat()
        rf.update_run(state=str(new_state), end_date=ended)
    return Marked(marked, reset)
