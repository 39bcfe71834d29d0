"""The scheduler's decisions, as pure functions of (DAG specs, run views, now).

Nothing here reads the clock, the store or the executor. The loop in
`scheduler.py` builds `RunView`s from the store, calls these, and applies
what they return; `flowctl explain` calls the same functions, so it can never
disagree with the scheduler.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, NamedTuple

from flowctl.records import RunKey, TaskKey
from flowctl.specs import DagSpec, TaskSpec
from flowctl.states import ACTIVE, FINISHED, RUN_FINISHED, TaskState, run_state_of
from flowctl.trigger_rules import Verdict, evaluate

_DECIDING = frozenset({"failed", "upstream_failed", "skipped"})


@dataclass
class RunView:
    """One run as the decisions see it: its document and its task instances."""

    dag_id: str
    run_id: str
    run: dict[str, Any]
    tis: dict[str, dict[str, Any]]
    task_ids: tuple[str, ...] = ()  #: the tasks of the DAG version this run carries

    @property
    def key(self) -> RunKey:
        return RunKey(self.dag_id, self.run_id)

    def state_of(self, task_id: str) -> str:
        return self.tis.get(task_id, {}).get("state", TaskState.NONE)


@dataclass(frozen=True)
class SetState:
    """Move a task instance that is in `expected` to `to` (skip or upstream_failed)."""

    key: RunKey
    task_id: str
    expected: str
    to: str
    reason: str = ""


@dataclass(frozen=True)
class Queue:
    """Start the next try of a task instance."""

    key: RunKey
    task_id: str
    expected: str


@dataclass(frozen=True)
class SetRunState:
    key: RunKey
    to: str


@dataclass(frozen=True)
class Waiting:
    """Why a task instance is not running yet (for `explain`)."""

    key: RunKey
    task_id: str
    reason: str


Action = SetState | Queue | SetRunState


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value)


def _started(view: RunView) -> bool:
    """A run that has begun: running, or with a task instance queued or running
    (a cleared run is queued again, whatever its finished instances)."""
    return view.run.get("state") == "running" or any(ti.get("state") in ACTIVE for ti in view.tis.values())


def runs_held(limits: Mapping[str, int], runs: Iterable[tuple[RunKey, bool, str]]) -> set[RunKey]:
    """The runs that may not begin yet: beyond their DAG's `max_active_runs`
    (`limits`), counting the runs that have begun, oldest first (as Airflow
    starts queued runs). `runs`: (key, begun, logical date) of the unfinished
    runs that count; a backfill's do not (its own --max-active-runs starts them).
    decide() and the loop (Loop._decide) both ask this."""
    waiting: dict[str, list[tuple[str, RunKey]]] = {}
    begun: dict[str, int] = {}
    for key, started, logical in runs:
        if started:
            begun[key.dag_id] = begun.get(key.dag_id, 0) + 1
        else:
            waiting.setdefault(key.dag_id, []).append((logical, key))
    held: set[RunKey] = set()
    for dag_id, queued in waiting.items():
        room = max(0, limits[dag_id] - begun.get(dag_id, 0))
        held.update(key for _, key in sorted(queued)[room:])
    return held


def active_counts(views: Iterable[RunView]) -> tuple[int, dict[str, int]]:
    total = 0
    by_dag: dict[str, int] = {}
    for v in views:
        n = sum(1 for ti in v.tis.values() if ti.get("state") in ACTIVE)
        total += n
        by_dag[v.dag_id] = by_dag.get(v.dag_id, 0) + n
    return total, by_dag


@dataclass(frozen=True)
class Judgement:
    """What one task instance's rule says now: run, wait, or a final state to set."""

    verdict: str  #: "run", "wait", "skip", "upstream_failed", or "" (nothing to decide: it is not waiting)
    reason: str = ""


_RUN = Judgement("run")
_WAIT = Judgement("wait")
_NOTHING = Judgement("")


def judge(
    task: TaskSpec, state: str, ti: Mapping[str, Any], upstream: Mapping[str, str], now: datetime,
    prev_state: str | None = None, explain: bool = False, setup_states: Mapping[str, str] | None = None,
) -> Judgement:
    """The one rule for one task instance, used by the loop, `decide` and `explain`:
    a retry or reschedule waits for its time; a task with no state runs when its
    trigger rule is met (and the previous run's instance allows, with
    depends_on_past), waits, or is skipped / upstream_failed when the rule can
    never be met. `prev_state` is the previous run's state of it ("" when there
    is none; None when depends_on_past does not apply). `setup_states`: the
    states of `task.setups` (a task in a setup's scope waits for it to succeed,
    as Airflow's setup constraint; a teardown's rule reads its setups)."""
    if state == TaskState.UP_FOR_RETRY:
        at = _dt(ti.get("next_retry_at"))
        if at is None or at <= now:
            return _RUN
        return Judgement("wait", f"up for retry: waiting until {at.isoformat()}")
    if state == TaskState.UP_FOR_RESCHEDULE:
        at = _dt(ti.get("next_poke_at"))
        if at is None or at <= now:
            return _RUN
        return Judgement("wait", f"sensor rescheduled: next poke at {at.isoformat()}")
    if state not in (TaskState.NONE, TaskState.SCHEDULED):
        return _NOTHING
    if task.setups and not task.is_teardown and setup_states is not None:
        held = setup_constraint(task, upstream, setup_states)
        if held is not None:
            return held
    past = task.depends_on_past and prev_state is not None
    if task.trigger_rule == "all_success" and not explain:
        # the common case, decided without building a reason
        if all(st == "success" for st in upstream.values()):
            if not past:
                return _RUN
        elif not any(st in _DECIDING for st in upstream.values()):
            return _WAIT  # some upstream still going, none failed or skipped: wait
    decision = evaluate(task.trigger_rule, upstream, frozenset(task.setups) if task.is_teardown else frozenset())
    if decision.verdict == Verdict.RUN:
        if past and prev_state and prev_state not in (TaskState.SUCCESS, TaskState.SKIPPED):
            return Judgement("wait", f"depends_on_past: the previous run's {task.task_id} is {prev_state}")
        return _RUN
    if decision.verdict == Verdict.WAIT:
        return Judgement("wait", decision.reason)
    to = "skip" if decision.verdict == Verdict.SKIP else "upstream_failed"
    return Judgement(to, decision.reason)


def setup_constraint(task: TaskSpec, upstream: Mapping[str, str], setup_states: Mapping[str, str]) -> Judgement | None:
    """Airflow's setup constraint: a task in the scope of a setup that is not right
    above it runs only once that setup succeeded; upstream_failed if it failed,
    skipped if it was skipped. None: no setup holds it."""
    indirect = [s for s in task.setups if s not in upstream]
    if not indirect:
        return None
    states = {s: setup_states.get(s, TaskState.NONE) for s in indirect}
    failed = [s for s, st in states.items() if st in (TaskState.FAILED, TaskState.UPSTREAM_FAILED)]
    if failed:
        return Judgement("upstream_failed", f"setup {', '.join(failed)} did not succeed ({states[failed[0]]})")
    skipped = [s for s, st in states.items() if st == TaskState.SKIPPED]
    if skipped:
        return Judgement("skip", f"setup {', '.join(skipped)} was skipped")
    waiting = [s for s, st in states.items() if st != TaskState.SUCCESS]
    if waiting:
        return Judgement("wait", f"waiting for setup {', '.join(waiting)} to succeed")
    return None


def counts_for_run_state(spec: DagSpec | None, task_id: str) -> bool:
    """Whether a task's failure can fail its run: a teardown's does not (Airflow),
    unless it has `on_failure_fail_dagrun`, or the DAG has nothing but teardowns."""
    task = spec.tasks.get(task_id) if spec is not None else None
    if task is None or not task.is_teardown or task.on_failure_fail_dagrun:
        return True
    return all(t.is_teardown and not t.on_failure_fail_dagrun for t in spec.tasks.values()) if spec else True


def task_verdicts(
    spec: DagSpec, view: RunView, now: datetime, prev_states: Mapping[str, str] | None = None,
    explain: bool = True,
) -> tuple[list[SetState], list[tuple[str, str]], list[Waiting], dict[str, str]]:
    """For one run: the skips and upstream failures that follow from its states,
    the tasks that may start (task id, the state they are in), why the others
    wait, and the states after the skips.

    Works in upstream-before-downstream order on a copy of the states, so a
    failure cascades through a whole chain in one call.
    """
    states = {tid: ti.get("state", "none") for tid, ti in view.tis.items()}
    sets: list[SetState] = []
    ready: list[tuple[str, str]] = []
    waits: list[Waiting] = []
    for tid in spec.order:
        if tid not in view.tis:
            continue
        task = spec.tasks[tid]
        state = states[tid]
        upstream = {u: states.get(u, TaskState.NONE) for u in task.upstream if u in states}
        prev = None
        if task.depends_on_past and prev_states is not None:
            prev = prev_states.get(tid, "")
        setup_states = {s: states.get(s, TaskState.NONE) for s in task.setups} if task.setups else None
        j = judge(task, state, view.tis[tid], upstream, now, prev, explain, setup_states)
        if j.verdict == "run":
            ready.append((tid, state))
        elif j.verdict == "wait":
            if explain or state in (TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE) or j.reason:
                waits.append(Waiting(view.key, tid, j.reason or "waiting for upstream tasks"))
        elif j.verdict in ("skip", "upstream_failed"):
            to = TaskState.SKIPPED if j.verdict == "skip" else TaskState.UPSTREAM_FAILED
            sets.append(SetState(view.key, tid, state, to, j.reason))
            states[tid] = to
    return sets, ready, waits, states


def decide(
    specs: Mapping[str, DagSpec],
    views: Iterable[RunView],
    now: datetime,
    workers: int,
    paused: frozenset[str] = frozenset(),
    prev_states: Mapping[RunKey, Mapping[str, str]] | None = None,
    explain: bool = True,
    occupancy: Occupancy | None = None,
) -> tuple[list[Action], list[Waiting]]:
    """Everything the scheduler should do now for these runs.

    Ready tasks take free slots oldest run first, then by `priority_weight`,
    within `workers` and each DAG's `max_active_tasks`; with `occupancy` (the
    slot ledger of every process), within pools, `max_active_tasks` and
    `max_active_tis_per_dag` across processes too.
    """
    views = list(views)
    actions: list[Action] = []
    waits: list[Waiting] = []
    candidates: list[tuple[tuple[Any, ...], RunKey, str, str]] = []
    final_states: dict[RunKey, dict[str, str]] = {}
    for view in views:
        spec = specs.get(view.dag_id)
        if spec is None:
            continue
        sets, ready, why, states = task_verdicts(spec, view, now, (prev_states or {}).get(view.key), explain)
        position = spec.position
        actions.extend(sets)
        waits.extend(why)
        final_states[view.key] = states
        for tid, state in ready:
            task = spec.tasks[tid]
            order = (view.run.get("logical_date") or "", -task.priority_weight, position[tid])
            candidates.append((order, view.key, tid, state))
    total, by_dag = active_counts(views)
    held = runs_held({d: s.max_active_runs for d, s in specs.items()},
                     ((v.key, _started(v), v.run.get("logical_date") or "") for v in views
                      if v.dag_id in specs and v.run.get("state") not in RUN_FINISHED
                      and v.run.get("run_type") != "backfill"))
    candidates.sort(key=lambda c: c[0])
    for _, key, tid, state in candidates:
        spec = specs[key[0]]
        if key in held:
            if explain:
                waits.append(Waiting(key, tid, f"max_active_runs ({spec.max_active_runs}) reached for "
                                               f"{key[0]}: this run starts when one of its running runs ends"))
            continue
        if total >= workers:
            if not explain:
                break
            waits.append(Waiting(key, tid, f"all {workers} worker slots are busy"))
            continue
        if occupancy is not None:
            lane = lane_of(spec.tasks[tid])
            why_not = occupancy.unrunnable(lane) or occupancy.blocked(key[0], lane)
            if why_not is not None:
                if explain:
                    waits.append(Waiting(key, tid, why_not))
                continue
            occupancy.take(key[0], lane)
        elif by_dag.get(key[0], 0) >= spec.max_active_tasks:
            if explain:
                waits.append(Waiting(key, tid, f"max_active_tasks ({spec.max_active_tasks}) reached for {key[0]}"))
            continue
        actions.append(Queue(key, tid, state))
        total += 1
        by_dag[key[0]] = by_dag.get(key[0], 0) + 1
        final_states[key][tid] = TaskState.QUEUED
    for view in views:
        if view.dag_id not in specs and not view.tis:
            continue
        states = final_states.get(view.key, {tid: view.state_of(tid) for tid in view.tis})
        spec = specs.get(view.dag_id)
        if spec is not None and len(spec.tasks) != len(states):  # a removed task cannot hold its run open
            states = {t: s for t, s in states.items() if t in spec.tasks or s in FINISHED}
        new = run_state_of([TaskState(s) for s in states.values()],
                           [TaskState(s) for t, s in states.items() if counts_for_run_state(spec, t)])
        if new != view.run.get("state"):
            actions.append(SetRunState(view.key, new))
    return actions, waits


def outcome_of_try(
    task: TaskSpec | None, ti: Mapping[str, Any], result: Mapping[str, Any] | None, now: datetime, seed: str = ""
) -> dict[str, Any]:
    """The task instance's new fields after a try ended: success, skipped,
    up_for_retry (with when) or failed."""
    from flowctl.engine.retries import next_retry_at

    state = (result or {}).get("state", "failed")
    fields: dict[str, Any] = {"end_date": now.isoformat()}
    if state in (TaskState.SUCCESS, TaskState.SKIPPED):
        fields["state"] = state
        return fields
    if state == "reschedule":
        fields["state"] = TaskState.UP_FOR_RESCHEDULE
        fields["next_poke_at"] = (result or {}).get("next_poke_at")
        return fields
    try_number = int(ti.get("try_number", 1))
    retries = task.retries if task is not None else 0
    since_clear = try_number - int(ti.get("retry_base") or 0)  # a cleared instance has its retries again
    if task is not None and since_clear <= retries and not (result or {}).get("no_retry"):
        at = next_retry_at(
            now,
            try_number,
            task.retry_delay,
            task.retry_exponential_backoff,
            task.max_retry_delay,
            seed=seed,
        )
        fields["state"] = TaskState.UP_FOR_RETRY
        fields["next_retry_at"] = at.isoformat()
    else:
        fields["state"] = TaskState.FAILED
    return fields


def timed_out(task: TaskSpec | None, ti: Mapping[str, Any], now: datetime) -> bool:
    if task is None or task.execution_timeout is None or ti.get("state") != TaskState.RUNNING:
        return False
    started = _dt(ti.get("start_date"))
    return started is not None and now >= started + timedelta(seconds=task.execution_timeout)


def run_deadline(spec: DagSpec | None, state: str | None, start_date: str | None) -> datetime | None:
    """When a run that is still going times out (Airflow's dagrun_timeout, counted
    from the run's start), or None: no timeout, not started, or finished."""
    if spec is None or spec.dagrun_timeout is None or not start_date or state not in ("queued", "running"):
        return None
    return datetime.fromisoformat(start_date) + timedelta(seconds=spec.dagrun_timeout)


def timeout_reason(spec: DagSpec, start_date: str | None) -> str:
    """The one line a timed-out run and its instances carry (explain, the notice)."""
    limit = spec.dagrun_timeout or 0
    human = str(timedelta(seconds=round(limit))) if limit >= 3600 else f"{limit:g} s"
    return f"the run timed out: dagrun_timeout of {human} passed since it started ({start_date})"


def next_wakeup(specs: Mapping[str, DagSpec], views: Iterable[RunView], now: datetime) -> datetime | None:
    """The earliest time something becomes due in these runs: a retry, a poke, a timeout."""
    times: list[datetime] = []
    for view in views:
        spec = specs.get(view.dag_id)
        for tid, ti in view.tis.items():
            state = ti.get("state")
            due = None
            if state == TaskState.UP_FOR_RETRY:
                due = _dt(ti.get("next_retry_at"))
            elif state == TaskState.UP_FOR_RESCHEDULE:
                due = _dt(ti.get("next_poke_at"))
            if due is not None:
                times.append(due)
            elif state == TaskState.RUNNING and spec is not None and tid in spec.tasks:
                t = spec.tasks[tid].execution_timeout
                started = _dt(ti.get("start_date"))
                if t is not None and started is not None:
                    times.append(started + timedelta(seconds=t))
    times = [t for t in times if t is not None]
    return min(times) if times else None


def descendants(spec: DagSpec, task_ids: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(task_ids)
    while stack:
        tid = stack.pop()
        for down in spec.tasks[tid].downstream if tid in spec.tasks else ():
            if down not in seen:
                seen.add(down)
                stack.append(down)
    return seen


__all__ = [
    "FINISHED",
    "Queue",
    "RunView",
    "SetRunState",
    "SetState",
    "Waiting",
    "decide",
    "descendants",
    "next_wakeup",
    "outcome_of_try",
    "task_verdicts",
    "timed_out",
]


@dataclass(frozen=True)
class DueRuns:
    """What the schedule asks for one DAG now."""

    create: list[Any]  #: DataIntervals to create runs for, oldest first
    skipped: list[Any]  #: complete intervals the catchup=False rule passes over
    deferred: int  #: due but held back by max_active_runs (counted for the wake summary only)


def due_runs(
    spec: DagSpec,
    timetable: Any,
    existing: set[str],
    last_scheduled: datetime | None,
    active_runs: int,
    now: datetime,
    want_skipped: bool = False,
) -> DueRuns:
    """The scheduled runs to create for one DAG (contract section 3).

    `existing`: logical dates (UTC ISO) that already have a scheduled or
    backfill run. `last_scheduled`: the latest scheduled run's logical date.
    catchup=True: every complete interval after it; catchup=False: only the
    latest complete one. At most `max_active_runs - active_runs` are created,
    oldest first; the rest wait for a later tick. With `want_skipped` (the wake
    summary), also what catchup=False skipped and how many wait (counted up to
    DEFERRED_COUNTED).
    """
    from flowctl.clock import iso

    skipped: list[Any] = []
    room = max(0, spec.max_active_runs - active_runs)
    if spec.catchup:  # lazily: years of intervals behind cost what is made now, not all of them
        fresh = (i for i in timetable.iter_complete_intervals(now, after=last_scheduled) if iso(i.start) not in existing)
        create = list(islice(fresh, room))
        held = sum(1 for _ in islice(fresh, DEFERRED_COUNTED)) if want_skipped else 0
        return DueRuns(create, skipped, held)
    latest = timetable.latest_complete(now)
    candidates = [latest] if latest is not None else []
    if last_scheduled is not None and latest is not None:
        candidates = [latest] if latest.start.timestamp() > last_scheduled.timestamp() else []
        if want_skipped:
            skipped = list(islice((i for i in timetable.iter_complete_intervals(now, after=last_scheduled)
                                   if i.start.timestamp() != latest.start.timestamp()), 1000))
    candidates = [i for i in candidates if iso(i.start) not in existing]
    return DueRuns(candidates[:room], skipped, max(0, len(candidates) - room))


DEFERRED_COUNTED = 10_000  #: held-back intervals counted for the wake summary, at most


# -- slots ------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Candidate:
    """A task instance whose rule says run, waiting for a slot; ordered oldest
    run first, then by priority_weight, then upstream first."""

    order: tuple[str, int, int, int]  #: (logical date, -priority_weight, position, map index)
    run: RunKey = field(compare=False)
    task: TaskKey = field(compare=False)
    expected: str = field(compare=False)  #: the state it is in (none, scheduled, up_for_retry, ...)


# -- pools and concurrency limits -------------------------------------------------------------

DEFAULT_POOL = "default_pool"


class Lane(NamedTuple):
    """What a ready task instance needs besides a worker slot: `slots` of a pool,
    and, when its task has `max_active_tis_per_dag`, room under that limit."""

    pool: str = DEFAULT_POOL
    slots: int = 1
    task_id: str | None = None  #: set only when the task has a max_active_tis_per_dag
    task_limit: int | None = None


def lane_of(task: TaskSpec | None) -> Lane:
    if task is None:
        return Lane()
    limit = task.max_active_tis_per_dag
    return Lane(task.pool or DEFAULT_POOL, max(1, int(task.pool_slots or 1)),
                task.task_id if limit is not None else None, limit)


@dataclass(frozen=True)
class Holder:
    """One try holding slots (an entry of the slot ledger)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    pool: str
    slots: int

    def label(self) -> str:
        task = self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"
        return f"{self.dag_id}.{task} run {self.run_id}"

    def to_doc(self) -> dict[str, Any]:
        return {"dag_id": self.dag_id, "run_id": self.run_id, "task_id": self.task_id,
                "map_index": self.map_index, "try_number": self.try_number, "pool": self.pool,
                "slots": self.slots}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Holder:
        return cls(str(doc.get("dag_id", "")), str(doc.get("run_id", "")), str(doc.get("task_id", "")),
                   int(doc.get("map_index", -1)), int(doc.get("try_number", 0)),
                   str(doc.get("pool") or DEFAULT_POOL), int(doc.get("slots", 1) or 1))


_MAX_NAMED = 3


class Occupancy:
    """Who holds what, across every process, and the limits: which lanes may
    start a task instance now, and why not. Pure: built from the pools' sizes,
    the ledger's holders and the DAGs' `max_active_tasks`.

    A pool of size -1 is unlimited; 0 holds its tasks back. A task whose pool does
    not exist, or that needs more slots than its pool has, can never run."""

    def __init__(self, sizes: Mapping[str, int], holders: Iterable[Holder],
                 dag_limits: Mapping[str, int] | None = None) -> None:
        self.sizes = dict(sizes)
        self.dag_limits = dict(dag_limits or {})
        self.holders: dict[str, list[Holder]] = {}
        self.pool_used: Counter[str] = Counter()
        self.dag_used: Counter[str] = Counter()
        self.task_used: Counter[tuple[str, str]] = Counter()
        for h in holders:
            self.add(h)

    def add(self, h: Holder) -> None:
        self.holders.setdefault(h.pool, []).append(h)
        self.pool_used[h.pool] += h.slots
        self.dag_used[h.dag_id] += 1
        self.task_used[(h.dag_id, h.task_id)] += 1

    def unrunnable(self, lane: Lane) -> str | None:
        """Why a task instance in this lane can never start (it fails), or None."""
        size = self.sizes.get(lane.pool)
        if size is None:
            return (f"pool {lane.pool!r} does not exist (create it with "
                    f"`flowctl pools set {lane.pool} SLOTS`)")
        if 0 < size < lane.slots:
            return f"needs {lane.slots} slots of pool {lane.pool!r}, which has {size}"
        return None

    def blocked(self, dag_id: str, lane: Lane) -> str | None:
        """Why a task instance of `dag_id` in this lane cannot start now, or None."""
        limit = self.dag_limits.get(dag_id)
        if limit is not None and self.dag_used[dag_id] >= limit:
            return f"max_active_tasks ({limit}) reached for {dag_id}"
        if lane.task_limit is not None and lane.task_id is not None and \
                self.task_used[(dag_id, lane.task_id)] >= lane.task_limit:
            return (f"max_active_tis_per_dag ({lane.task_limit}) reached for {dag_id}.{lane.task_id} "
                    f"(across its runs)")
        size = self.sizes.get(lane.pool)
        if size is None:
            return self.unrunnable(lane)
        if size == 0:
            return f"pool {lane.pool} has 0 slots: its tasks wait until it has some (`flowctl pools set`)"
        if size > 0 and self.pool_used[lane.pool] + lane.slots > size:
            return self.full(lane)
        return None

    def full(self, lane: Lane) -> str:
        size = self.sizes.get(lane.pool, 0)
        held = self.holders.get(lane.pool, [])
        names = ", ".join(h.label() for h in held[:_MAX_NAMED])
        if len(held) > _MAX_NAMED:
            names += f" and {len(held) - _MAX_NAMED} more"
        need = f"; this task needs {lane.slots}" if lane.slots > 1 else ""
        return f"pool {lane.pool} is full ({self.pool_used[lane.pool]} of {size} slots taken by {names}{need})"

    def take(self, dag_id: str, lane: Lane, holder: Holder | None = None) -> None:
        """Count a task instance that starts (before the ledger knows it)."""
        self.add(holder or Holder(dag_id, "", lane.task_id or "", -1, 0, lane.pool, lane.slots))


class ReadyQueue:
    """Ready task instances, one heap per DAG and lane (pool, slots, task limit),
    so a DAG held back by its `max_active_tasks` or a full pool costs nothing to
    pass over. No clock, no I/O."""

    def __init__(self, lane_of: Callable[[Candidate], Lane] | None = None) -> None:
        self._lane_of = lane_of
        self._heaps: dict[tuple[str, Lane], list[Candidate]] = {}
        self._live: dict[tuple[RunKey, TaskKey], tuple[Candidate, Lane]] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item: tuple[RunKey, TaskKey]) -> bool:
        return item in self._live

    def push(self, c: Candidate) -> None:
        ident = (c.run, c.task)
        lane = self._lane_of(c) if self._lane_of is not None else Lane()
        held = self._live.get(ident)
        if held is not None and held[0] == c and held[1] == lane:
            return
        self._live[ident] = (c, lane)
        heapq.heappush(self._heaps.setdefault((c.run.dag_id, lane), []), c)

    def discard(self, run: RunKey, task: TaskKey) -> None:
        self._live.pop((run, task), None)

    def discard_run(self, run: RunKey) -> None:
        for ident in [i for i in self._live if i[0] == run]:
            del self._live[ident]

    def _head(self, key: tuple[str, Lane]) -> Candidate | None:
        heap = self._heaps.get(key)
        while heap:
            c = heap[0]
            held = self._live.get((c.run, c.task))
            if held is not None and held[0] is c and held[1] == key[1]:
                return c
            heapq.heappop(heap)
        return None

    def take(self, free: int, active: Mapping[str, int] | None = None, limits: Mapping[str, int] | None = None,
             gate: Occupancy | None = None) -> list[Candidate]:
        """Up to `free` candidates, best first across DAGs, none past a DAG's
        limit (`limits`, counted from `active`) or, with `gate`, past a pool,
        `max_active_tasks` or `max_active_tis_per_dag` across every process."""
        out: list[Candidate] = []
        counts = dict(active or {})
        limits = limits or {}
        while len(out) < free:
            best: Candidate | None = None
            best_key: tuple[str, Lane] | None = None
            for key in list(self._heaps):
                dag_id, lane = key
                if counts.get(dag_id, 0) >= limits.get(dag_id, 1 << 30):
                    continue
                if gate is not None and gate.blocked(dag_id, lane) is not None:
                    continue
                head = self._head(key)
                if head is None:
                    del self._heaps[key]
                    continue
                if best is None or head < best:
                    best, best_key = head, key
            if best is None or best_key is None:
                break
            heapq.heappop(self._heaps[best_key])
            del self._live[(best.run, best.task)]
            counts[best.run.dag_id] = counts.get(best.run.dag_id, 0) + 1
            if gate is not None:
                lane = best_key[1]
                gate.take(best.run.dag_id, lane, Holder(best.run.dag_id, best.run.run_id, best.task.task_id,
                                                        best.task.map_index, 0, lane.pool, lane.slots))
            out.append(best)
        return out

    def lanes(self) -> set[tuple[str, Lane]]:
        """The (DAG, lane) pairs that have candidates."""
        return set(self._heaps)

    def pop_lane(self, dag_id: str, lane: Lane) -> list[Candidate]:
        """Remove and return every candidate of one DAG's lane (their pool cannot take them)."""
        out = [c for (c, ln) in self._live.values() if ln == lane and c.run.dag_id == dag_id]
        for c in out:
            del self._live[(c.run, c.task)]
        self._heaps.pop((dag_id, lane), None)
        return sorted(out)

    def items(self) -> list[Candidate]:
        return sorted(c for c, _ in self._live.values())
