"""Clearing and marking task instances: choosing the set, healing what a
failure left behind, and writing it in one commit.

A clear resets task instances to no state so the scheduler runs them again;
their try count goes on, their retries count again from there, and earlier
tries' logs stay. Their `upstream_failed`
and failure-skipped descendants are reset with them, so a fixed upstream is
followed by its downstream without clearing each one (Airflow makes you
clear those by hand).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flowctl.engine.decisions import counts_for_run_state
from flowctl.errors import NotFound, StoreCorrupt, UsageError
from flowctl.records import TaskInstance, TaskKey
from flowctl.specs import DagSpec
from flowctl.states import FAILED_STATES, FINISHED, TaskState, run_state_of, summary_state
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
    upstream: bool, downstream: bool, only_failed: bool, changed: bool, map_index: int = -1,
    damaged: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The instances a clear resets, each with why. With `map_index`, a selected
    mapped task contributes only that instance (a task without it is not selected);
    tasks taken in by --upstream/--downstream come whole. With `damaged`, a run
    that cannot be read is left out and said there, instead of stopping the plan."""
    try:
        pattern = re.compile(task_regex) if task_regex else None
    except re.error as exc:
        raise UsageError(f"--task is not a valid regular expression: {exc}") from None
    plan: list[dict[str, Any]] = []
    for run_id in run_ids:
        try:
            data = store.read_run(dag_id, run_id)
        except StoreCorrupt as exc:
            if damaged is None:
                raise
            damaged.append(f"{exc}; this clear leaves that run out")
            continue
        if data is None:
            continue
        tis = data.task_instances
        instances = {k for k in data.tis if k.map_index >= 0}
        up = _edges(spec, data.dag_version)
        down = _downstream_map(up)
        why: dict[str, str] = {}
        for tid, ti in tis.items():
            if pattern is not None and not pattern.search(tid):
                continue
            if map_index >= 0:
                one = data.tis.get(TaskKey(tid, map_index))
                if one is None:
                    continue
                ti = one.to_doc()
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
            item = {"dag_id": dag_id, "run_id": run_id, "task_id": tid, "state": ti.get("state", "none"),
                    "try_number": ti.get("try_number", 0), "why": why[tid]}
            if map_index >= 0 and tid in chosen and TaskKey(tid, map_index) in instances:
                one = data.tis[TaskKey(tid, map_index)]
                item.update(map_index=map_index, state=one.state, try_number=one.try_number)
            elif ti.get("mapped"):
                item["mapped"] = True
            plan.append(item)
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
            "end_date": None, "queued_at": None, "reason": None, "skipped_by": None, "error": None,
            "marked": None}


def apply_clear(store: Store, spec: DagSpec | None, plan: list[dict[str, Any]],
                take_over: dict[str, Any] | None = None, others: Mapping[str, DagSpec] | None = None) -> int:
    """Reset the planned instances in one commit; their runs go back to queued
    and take the current DAG version (new tasks are added, removed ones keep
    their history). With `take_over` (a backfill reprocessing a run), a run is
    cleared only if no other live process owns it, and it becomes ours in the
    same commit. Rows of DAGs other than the first row's (ExternalTaskMarkers
    brought them in) take their DAG from `others`. Returns how many instances were reset."""
    from flowctl.engine.runs import fresh_ti
    from flowctl.procs import owner_alive, same_owner

    by_run: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in plan:
        by_run.setdefault((item["dag_id"], item["run_id"]), []).append(item)
    first = plan[0]["dag_id"]
    count = 0
    with store.transaction() as tx:
        for (dag_id, run_id), items in by_run.items():
            run_spec = spec if dag_id == first else (others or {}).get(dag_id)
            rf = tx.run(dag_id, run_id)
            if rf is None:
                continue
            if take_over is not None:
                current = rf.record.owner
                if current and not same_owner(current, take_over) and owner_alive(current):
                    continue  # a live process carries it: leave it alone
                rf.update_run(owner=take_over)
            _, instances = _by_task(rf)
            for item in items:
                tid, index = item["task_id"], item.get("map_index", -1)
                keys = instances.get(tid, [])
                if index < 0 and keys and keys[0].map_index >= 0:  # a whole mapped task: it expands anew
                    for key in keys:
                        rf.drop_ti(key)
                        rf.clear_xcom(key)
                    old = rf.ti(keys[0])
                    fresh = fresh_ti(run_spec, tid).to_doc() if run_spec is not None and tid in run_spec.tasks else {
                        "operator": old.operator if old is not None else None}
                    rf.put_ti(TaskKey(tid), **{**fresh, **reset_fields(), "try_number": 0})
                    count += len(keys)
                    continue
                key = TaskKey(tid, index)
                cur = rf.ti(key)
                if cur is None:
                    continue
                # its retries again from here (Airflow's rule): a flaky task cleared gets them back
                again = {"retry_base": cur.try_number}
                if run_spec is not None and tid in run_spec.tasks:
                    again["max_tries"] = cur.try_number + run_spec.tasks[tid].retries + 1
                rf.put_ti(key, **reset_fields(), **again)
                count += 1
            if run_spec is not None:
                expanded = {k.task_id for k in rf.keys() if k.map_index >= 0}
                for tid in run_spec.order:
                    if tid not in expanded and rf.ti(TaskKey(tid)) is None:
                        rf.put_ti(TaskKey(tid), **fresh_ti(run_spec, tid).to_doc())
                rf.set_dag_version(run_spec.version_doc())
            # its clock starts again when it does (Airflow's rule): its duration is this go's
            rf.update_run(state="queued", end_date=None, start_date=None)
            if rf.record.extra.get("timed_out"):  # its dagrun_timeout counts anew from its next start
                rf.update_run(timed_out=None, reason=None)
    return count


def _by_task(rf: Any) -> tuple[dict[str, dict[str, Any]], dict[str, list[TaskKey]]]:
    """A run's instances by task id: one document each (a mapped task's sums its
    instances up), and the keys of each task's instances."""
    from flowctl.store import mapped_summary

    instances: dict[str, list[TaskKey]] = {}
    all_tis = rf.tis()
    for key in sorted(all_tis, key=lambda k: k.map_index):
        instances.setdefault(key.task_id, []).append(key)
    docs = {}
    for tid, keys in instances.items():
        if keys[0].map_index >= 0:
            docs[tid] = mapped_summary([all_tis[k] for k in keys])
        else:
            docs[tid] = all_tis[keys[0]].to_doc()
    return docs, instances


def _mark_times(ti: TaskInstance | None, now: datetime) -> dict[str, Any]:
    """A mark's end and duration: a try it cuts short ends now (Airflow's set_state);
    an instance with no try since its clear has none; any other keeps its last try's."""
    if ti is None or ti.state in (TaskState.NONE, TaskState.SCHEDULED):
        return {"end_date": None, "duration": None}
    if ti.state in (TaskState.RUNNING, TaskState.QUEUED):
        took = (now - datetime.fromisoformat(ti.start_date)).total_seconds() if ti.start_date else None
        return {"end_date": now.isoformat(), "duration": took}
    return {}


class Marked(list):
    """What a mark changed: as a list, every changed task id (marked first);
    `marked` the ids set to the state, `reset` the failure leftovers below
    them that a success mark reset (id -> the state they had)."""

    def __init__(self, marked: list[str], reset: dict[str, str]) -> None:
        super().__init__([*marked, *reset])
        self.marked = marked
        self.reset = reset


def apply_mark(store: Store, spec: DagSpec | None, dag_id: str, run_id: str, task_id: str,
               state: str, downstream: bool, map_index: int = -1) -> Marked:
    """Set the state; marking success heals the failure leftovers below it.
    With `map_index`, only that instance of a mapped task (its downstream whole)."""
    from flowctl.clock import utcnow

    now = utcnow()
    with store.transaction() as tx:
        rf = tx.run(dag_id, run_id)
        if rf is None:
            raise NotFound(f"{dag_id} has no run {run_id!r}")
        tis, instances = _by_task(rf)
        instances_all = {t: list(keys) for t, keys in instances.items()}
        if task_id not in tis:
            raise NotFound(f"run {run_id} of {dag_id} has no task {task_id!r}")
        if map_index >= 0:
            if TaskKey(task_id, map_index) not in instances[task_id]:
                count = sum(1 for k in instances[task_id] if k.map_index >= 0)
                raise NotFound(f"{task_id} in {run_id} has no instance {map_index}"
                               + (f" (it has 0..{count - 1})" if count else " (it is not mapped, or not expanded yet)"))
            instances[task_id] = [TaskKey(task_id, map_index)]
        up = _edges(spec, rf.version)
        down = _downstream_map(up)
        targets = [task_id] + (sorted(_closure({task_id}, down) & set(tis)) if downstream else [])
        marked: list[str] = []
        reset: dict[str, str] = {}
        for tid in targets:
            keys = [k for k in instances[tid] if (rf.ti(k) or TaskInstance(tid)).state != state]
            for key in keys:
                rf.put_ti(key, state=state, marked=True, next_retry_at=None, **_mark_times(rf.ti(key), now),
                          reason=f"marked {state} by hand at {now.isoformat(timespec='seconds')}")
            if keys:
                tis[tid]["state"] = summary_state([(rf.ti(k) or TaskInstance(tid)).state for k in instances_all[tid]])
                marked.append(f"{tid}[{map_index}]" if tid == task_id and map_index >= 0 else tid)
        if state == TaskState.SUCCESS:
            healed = {t for t in targets if tis[t].get("state") not in FAILED_STATES}  # no other instance failed
            for tid in sorted(failure_leftovers(tis, down, healed) - set(targets)):
                for key in instances[tid]:
                    rf.put_ti(key, **reset_fields())
                reset[tid] = str(tis[tid].get("state"))
                tis[tid]["state"] = TaskState.NONE
        tis_now = rf.tis()
        states = [TaskState(ti.state) for ti in tis_now.values()]
        deciding = [TaskState(ti.state) for k, ti in tis_now.items() if counts_for_run_state(spec, k.task_id)]
        new_state = str(run_state_of(states, deciding))
        if new_state in ("queued", "running"):
            new_state = "queued" if not any(s not in (TaskState.NONE,) and s not in FINISHED for s in states) else "running"
        ended = None
        if new_state in ("success", "failed"):
            ended = rf.record.end_date or now.isoformat()
        rf.update_run(state=str(new_state), end_date=ended)
    return Marked(marked, reset)
