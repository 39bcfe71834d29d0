"""The engine's loop: one tick takes what happened (executor events, other
writers' commits, the time) and carries the runs in scope one step further.

    step(events, now) -> seconds until something can happen

A tick touches what changed: a finished try makes its downstream tasks
"dirty", and only dirty tasks are judged (`decisions.judge`); ready ones wait
in a `ReadyQueue` for a slot. Every change of a tick is one commit (a journal
line per run), and nothing is submitted or announced before that commit:
nothing runs that the store does not know about, and no result is told
that a crash could take back. A commit the disk refuses (full, read-only)
is kept and tried again; the loop makes no new decisions meanwhile.

The loop never reads the clock: `now` comes in, and `clock.monotonic()`
(a fake one in tests) times the short waits: a try's "running" mark that
rides with its result, the grace between SIGTERM and SIGKILL, the wait until
a lost try's process group is proven gone.
"""

from __future__ import annotations

import errno
import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from flowctl.clock import Clock
from flowctl.engine import effects as side_effects
from flowctl.engine.decisions import (
    Candidate,
    Lane,
    ReadyQueue,
    RunView,
    counts_for_run_state,
    descendants,
    judge,
    outcome_of_try,
    run_deadline,
    runs_held,
    task_verdicts,
    timeout_reason,
)
from flowctl.engine.pools import SlotKeeper
from flowctl.errors import StoreCorrupt
from flowctl.executors.base import Event, Finished, Job, Started
from flowctl.procs import group_gone, kill_group, owner_alive, process_start_time, same_owner
from flowctl.records import CallbackKey, JobKey, RunKey, TaskInstance, TaskKey, TryKey, parse_run_id
from flowctl.specs import DagSpec, TaskSpec, mapped_count
from flowctl.states import ACTIVE, FAILED_STATES, FINISHED, RUN_FINISHED, RunState, TaskState
from flowctl.store import Store, StoredRun

TERM_GRACE = 5.0  #: seconds between SIGTERM and SIGKILL for a timed-out try
START_DEFER = 0.05  #: a try's "running" waits this long for its result, so a short task costs one commit
EPSILON = 1e-6  #: what two monotonic readings may differ by and still be "the same time"
GONE_POLL = 0.05  #: how often a lost try's process group is checked until it is gone
RETRY_COMMIT = 1.0  #: seconds between attempts at a commit the disk refused
MAX_MAP_LENGTH = 1024  #: the most instances a mapped task may expand into (Airflow's default)
GIVEN_XCOM_BYTES = 256 * 1024  #: upstream values up to this size ride with a try (else it reads the store)
SLOTS_POLL = 0.5  #: how often ready tries held back by another process's slots look again
WAITING_STATES = frozenset({TaskState.NONE, TaskState.SCHEDULED})
BAD = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.SKIPPED})
_START_FIELDS = frozenset({"state", "pid", "pid_started", "hostname", "start_date"})

Announce = Callable[[str, dict[str, Any]], None]


@dataclass
class Carried:
    """A run this loop carries out: its committed state (the store's, shared),
    and what the loop keeps to decide incrementally."""

    key: RunKey
    spec: DagSpec | None
    stored: StoredRun
    counted: set[TaskKey]  #: instances that count toward the run's state
    counts: Counter[str] = field(default_factory=Counter)
    dirty: set[TaskKey] = field(default_factory=set)
    instances: dict[str, list[TaskKey]] = field(default_factory=dict)  #: a mapped task's expanded instances
    open_up: dict[TaskKey, int] = field(default_factory=dict)  #: upstream instances not finished yet
    bad_up: dict[TaskKey, int] = field(default_factory=dict)  #: upstream instances failed, upstream_failed or skipped
    prev_states: dict[str, str] | None = None  #: the previous run's states (depends_on_past)
    prev_success: dict[str, Any] | None = None
    prev_loaded: bool = False

    @property
    def order_date(self) -> str:
        return self.stored.record.logical_date or ""


@dataclass
class Change:
    """A task instance change, guarded by the state and try it was decided on."""

    expected_state: str
    expected_try: int
    fields: dict[str, Any]


@dataclass
class Pending:
    """One run's changes for the next commit, and what follows once it is in."""

    tis: dict[TaskKey, Change] = field(default_factory=dict)
    views: dict[TaskKey, TaskInstance] = field(default_factory=dict)  #: the instances as they will be
    run: dict[str, Any] = field(default_factory=dict)
    run_expected: str | None = None
    owner_expected: dict[str, Any] | None = None
    owner_check: bool = False
    xcom: dict[TaskKey, dict[str, Any]] = field(default_factory=dict)
    effects: dict[TaskKey, list[Any]] = field(default_factory=dict)  #: asset events, triggered runs (effects.py)
    jobs: list[Job] = field(default_factory=list)
    expand: dict[TaskKey, tuple[Change, int]] = field(default_factory=dict)  #: place-holder -> its instances
    rejudge: set[TaskKey] = field(default_factory=set)  #: to decide again once this commit is in
    after: list[tuple[TaskKey | None, str, dict[str, Any]]] = field(default_factory=list)
    only_starts: bool = True  #: nothing in it but deferred "running" marks

    def empty(self) -> bool:
        return not (self.tis or self.run or self.xcom or self.jobs or self.after or self.expand)


class Loop:
    """Carries runs out. `scope` says which: a set of run keys (a `run`, a
    backfill's runs), or None for every active run with no live owner besides
    this process (the scheduler)."""

    def __init__(
        self,
        *,
        store: Store,
        executor: Any,
        specs: Callable[[], Mapping[str, DagSpec]],
        workers: int,
        owner: dict[str, Any],
        clock: Clock,
        scope: set[RunKey] | None = None,
        announce: Announce | None = None,
        notify: Callable[[dict[str, Any]], None] | None = None,
        max_sleep: float = 0.5,
        max_map_length: int = MAX_MAP_LENGTH,
        payload_extra: Callable[[DagSpec, StoredRun, TaskKey], dict[str, Any]] | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.specs = specs
        self.workers = workers
        self.owner = owner
        self.clock = clock
        self.scope = scope
        self.announce = announce or (lambda kind, info: None)
        self.notify = notify
        self.max_sleep = max_sleep
        self.max_map_length = max_map_length
        self.payload_extra = payload_extra
        self.stopping = False  #: start nothing new
        self.carried: dict[RunKey, Carried] = {}
        self.foreign: dict[RunKey, dict[str, Any] | None] = {}  #: runs in scope another live process carries
        self.damaged: dict[RunKey, str] = {}  #: runs in scope whose files cannot be read
        self.submitted: dict[JobKey, RunKey] = {}  #: jobs handed to the executor, not yet over
        self.ready = ReadyQueue(lane_of=self._lane_of)
        self.slots = SlotKeeper(store, owner, workers)  #: pools and limits across processes (engine/pools.py)
        self.waiting_on_others = False  #: ready tries wait for slots another process holds
        self._run_deadlines: dict[RunKey, datetime] = {}  #: dagrun_timeout timers set, by run
        self.pending: dict[RunKey, Pending] = {}
        self.held: set[RunKey] = set()  #: runs waiting for their turn under max_active_runs
        self.starts: dict[TryKey, tuple[Started, float]] = {}  #: "running" marks waiting to ride along
        self.timers: list[tuple[datetime, int, str, Any]] = []  #: (when, seq, kind, what)
        self._timer_seq = 0
        self.terminating: dict[TryKey, float] = {}  #: tries sent SIGTERM -> monotonic time
        self.interrupted: set[TryKey] = set()  #: tries killed because we stop (they run again)
        self.killing: dict[TryKey, tuple[int | None, Finished | None, str]] = {}  #: lost tries, until gone
        self.leftovers: dict[tuple[RunKey, TaskKey], tuple[int | None, str | None]] = {}  #: an adopted run's old tries
        self.stalled: str | None = None  #: why the last commit failed (full disk), until one succeeds
        self.triggered: set[RunKey] = set()  #: runs this loop's tasks triggered: carried out too (crossdag.py)
        self._refeed: list[Event] = []  #: results to decide again (a commit held them back: effects.py)
        self._wake_now = False  #: a commit made runs to take in: tick again at once
        self._stall_retry = 0.0
        self._seen_seq: int | None = None
        self._foreign_checked = 0.0
        self.idle_ticks = 0

    def poke(self) -> None:
        """Look at the store on the next tick (this process created runs, say)."""
        self._seen_seq = None

    # -- the tick ----------------------------------------------------------------------

    def step(self, events: Iterable[Event], now: datetime) -> float:
        """Record `events`, decide, commit, then submit and announce. Returns
        the seconds to sleep before the next tick at the latest."""
        mono = self.clock.monotonic()
        specs = self.specs()
        self._look_at_store(specs, now)
        self._forget_finished()
        refeed, self._refeed = self._refeed, []
        for event in [*refeed, *events]:
            self._record(event, now, mono, specs)
        self._due(now, mono)
        self._check_killing(now, mono)
        busy = False
        if self.stalled is None or mono >= self._stall_retry:
            if self.stalled is None:
                self._decide(now, specs)
            busy = self._commit(now, mono)
        return self._next_wake(now, mono, busy)

    # -- the store ---------------------------------------------------------------------

    def _look_at_store(self, specs: Mapping[str, DagSpec], now: datetime) -> None:
        """Take in what other writers committed, and the runs that came into scope."""
        seq = self.store.seq()
        mono = self.clock.monotonic()
        recheck = bool(self.foreign) and mono - self._foreign_checked >= 1.0  # a foreign owner may have died
        if seq == self._seen_seq and not recheck and (
                self.scope is None or set(self.scope) | self.triggered <= self._known()):
            return
        self._foreign_checked = mono
        foreign_change = self._seen_seq is None or seq != self.store._own_seq
        self._seen_seq = seq
        wanted = self._wanted()
        for key in list(self.carried):
            if key not in wanted and not self._busy_run(key):
                self._drop(key)
        for key in wanted:
            if key in self.carried:
                if foreign_change:
                    self._refresh(self.carried[key], specs)
                continue
            self._take_in(key, specs, now)

    def _forget_finished(self) -> None:
        """The scheduler lets a run go once it has ended and nothing is left to do
        for it (else a daemon would carry, and look at on every tick, every run it
        ever ran). A clear makes it active again, and it is taken in anew."""
        if self.scope is not None:
            return
        for key, carried in list(self.carried.items()):
            if (carried.stored.record.state in RUN_FINISHED and not carried.dirty and not self._has_waiting(carried)
                    and not self._busy_run(key)):
                self._drop(key)

    def _known(self) -> set[RunKey]:
        return set(self.carried) | set(self.foreign) | set(self.damaged)

    def _wanted(self) -> set[RunKey]:
        if self.scope is not None:
            return set(self.scope) | self.triggered
        return set(self.store.active_runs()) | set(self.carried)

    def _busy_run(self, key: RunKey) -> bool:
        return key in self.pending or any(r == key for r in self.submitted.values())

    def _drop(self, key: RunKey) -> None:
        self.carried.pop(key, None)
        self.ready.discard_run(key)
        self.foreign.pop(key, None)
        if self.scope is None:
            self.triggered.discard(key)  # the scheduler: an ended run needs no remembering

    def _take_in(self, key: RunKey, specs: Mapping[str, DagSpec], now: datetime) -> None:
        try:
            stored = self.store.read_run(*key)
        except StoreCorrupt as exc:
            if key not in self.damaged:
                self.damaged[key] = str(exc)
                self.announce("store_error", {"dag_id": key.dag_id, "run_id": key.run_id, "error": str(exc)})
            return
        self.damaged.pop(key, None)
        if stored is None:
            return
        record = stored.record
        if record.state in RUN_FINISHED and self.scope is None:
            return
        owner = record.owner
        if owner and not same_owner(owner, self.owner) and owner_alive(owner):
            self.foreign[key] = owner  # a live process carries it: watch, do not touch
            return
        self.foreign.pop(key, None)
        carried = self._carry(key, stored, specs.get(key.dag_id))
        if record.state in RUN_FINISHED:
            return
        if not same_owner(owner, self.owner):
            self._adopt(carried, now)

    def _carry(self, key: RunKey, stored: StoredRun, spec: DagSpec | None) -> Carried:
        counted = {k for k, ti in stored.tis.items()
                   if spec is None or k.task_id in spec.tasks or ti.state in FINISHED}
        carried = Carried(key, spec, stored, counted)
        carried.counts = Counter(stored.tis[k].state for k in counted)
        carried.dirty = set(stored.tis)
        self._count_upstream(carried)
        self.carried[key] = carried
        return carried

    def _count_upstream(self, carried: Carried) -> None:
        """How many of each instance's upstream instances are unfinished, and
        how many ended failed or skipped: the common rule decides from these."""
        carried.open_up, carried.bad_up = {}, {}
        tis = carried.stored.tis
        carried.instances = {}
        for tk in tis:
            if tk.map_index >= 0:
                carried.instances.setdefault(tk.task_id, []).append(tk)
        for keys in carried.instances.values():
            keys.sort()
        spec = carried.spec
        if spec is None:
            return
        for tk in tis:
            task = spec.tasks.get(tk.task_id)
            if task is None:
                continue
            unfinished = bad = 0
            for u in task.upstream:
                for uk in self._instances(carried, u):
                    uti = self._ti(carried, uk)
                    if uti is None:
                        continue
                    if uti.state not in FINISHED:
                        unfinished += 1
                    elif uti.state in BAD:
                        bad += 1
            carried.open_up[tk] = unfinished
            carried.bad_up[tk] = bad

    @staticmethod
    def _instances(carried: Carried, task_id: str) -> list[TaskKey]:
        """A task's instances in this run: a mapped task's expanded ones, else its one."""
        return carried.instances.get(task_id) or [TaskKey(task_id)]

    def _refresh(self, carried: Carried, specs: Mapping[str, DagSpec]) -> None:
        """Another process committed: re-read the run's new journal lines."""
        key = carried.key
        try:
            stored, touched = self.store.refresh(*key)
        except StoreCorrupt as exc:
            self.damaged[key] = str(exc)
            self.announce("store_error", {"dag_id": key.dag_id, "run_id": key.run_id, "error": str(exc)})
            self._drop(key)
            return
        if stored is None:
            self._drop(key)
            return
        owner = stored.record.owner
        if owner and not same_owner(owner, self.owner) and owner_alive(owner):
            self.foreign[key] = owner
            self._drop_keep_foreign(key)
            return
        if stored is not carried.stored or touched:
            spec = specs.get(key.dag_id)
            fresh = self._carry(key, stored, spec)
            fresh.dirty = set(touched) | self._below(fresh, touched)
            fresh.prev_states, fresh.prev_loaded = None, False
            for tk in touched:  # cleared or marked while it ran: stop that try
                ti = stored.tis.get(tk)
                for job, run in list(self.submitted.items()):
                    if isinstance(job, TryKey) and run == key and job.task == tk and (
                            ti is None or ti.try_number != job.try_number or ti.state not in ACTIVE):
                        self.executor.kill(job, hard=True)
                if ti is None or ti.state not in WAITING_STATES | {TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE}:
                    self.ready.discard(key, tk)

    def _drop_keep_foreign(self, key: RunKey) -> None:
        self.carried.pop(key, None)
        self.ready.discard_run(key)

    def _below(self, carried: Carried, keys: Iterable[TaskKey]) -> set[TaskKey]:
        spec = carried.spec
        if spec is None:
            return set()
        out: set[TaskKey] = set()
        for k in keys:
            task = spec.tasks.get(k.task_id)
            if task is not None:
                for d in task.downstream:
                    out.update(self._instances(carried, d))
        return out

    # -- adoption ----------------------------------------------------------------------

    def _adopt(self, carried: Carried, now: datetime) -> None:
        """Take a run with no live owner. Its queued or running tries died with
        their owner, or nearly so: each is killed and, once its process group is
        gone, goes back to run again (the try count goes on; not a failure)."""
        pend = self._pending(carried.key)
        pend.run["owner"] = self.owner
        pend.owner_check = True
        pend.owner_expected = carried.stored.record.owner
        pend.only_starts = False
        for tk, ti in carried.stored.tis.items():
            if ti.state in ACTIVE:
                self.leftovers[(carried.key, tk)] = (ti.pid, ti.pid_started)
        self._schedule(now, "leftovers", None)

    def _check_leftovers(self, now: datetime) -> bool:
        """Kill adopted runs' old tries; requeue those proven gone. True while any remain."""
        for (key, tk), (pid, started) in list(self.leftovers.items()):
            carried = self.carried.get(key)
            if carried is None:
                del self.leftovers[(key, tk)]
                continue
            if pid and started is not None and process_start_time(pid) == started:
                kill_group(pid)
            if pid and not group_gone(pid) and (started is None or process_start_time(pid) in (None, started)):
                continue
            del self.leftovers[(key, tk)]
            ti = carried.stored.tis.get(tk)
            if ti is None or ti.state not in ACTIVE:
                continue
            self._requeue(carried, tk, ti, now,
                          "interrupted: the process that ran this try is gone; it will run again")
        return bool(self.leftovers)

    # -- events ------------------------------------------------------------------------

    def _record(self, event: Event, now: datetime, mono: float, specs: Mapping[str, DagSpec]) -> None:
        key = event.key
        if isinstance(key, CallbackKey):
            if isinstance(event, Finished):
                self.submitted.pop(key, None)
            return
        if isinstance(event, Started):
            self.starts[key] = (event, mono)
            self.announce("task_started", {"dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id,
                                           "map_index": key.map_index, "try_number": key.try_number})
            return
        assert isinstance(event, Finished)
        if event.lost and key not in self.interrupted:
            # its fork server died: the try's process group may still run; it ends
            # only once proven gone, so two tries of one task never overlap
            pid = event.pid
            start = self.starts.get(key)
            if pid is None and start is not None:
                pid = start[0].pid
            if pid is None:
                carried = self.carried.get(key.run)
                ti = carried.stored.tis.get(key.task) if carried else None
                if ti is not None and ti.try_number == key.try_number:
                    pid = ti.pid
            kill_group(pid)
            self.killing[key] = (pid, event, "the task process was lost: its fork server died")
            return
        self._finished(key, event, now, specs)

    def _finished(self, key: TryKey, event: Finished, now: datetime, specs: Mapping[str, DagSpec]) -> None:
        self.submitted.pop(key, None)
        self.slots.ended(key)
        timed_out = self.terminating.pop(key, None) is not None
        interrupted = key in self.interrupted
        self.interrupted.discard(key)
        start = self.starts.pop(key, None)
        carried = self.carried.get(key.run)
        if carried is None:
            return
        ti = self._ti(carried, key.task)
        if ti is None or ti.try_number != key.try_number or ti.state not in ACTIVE:
            carried.dirty.add(key.task)  # cleared or marked meanwhile: this try's news is stale,
            return  # but its end may let the next try start
        started_at = _when(start[0].at, now, self.clock) if start else None
        if start is not None:
            self._set(carried, key.task, {"state": TaskState.RUNNING, "pid": start[0].pid,
                                          "pid_started": process_start_time(start[0].pid) if start[0].pid else None,
                                          "hostname": start[0].hostname, "start_date": started_at})
            ti = self._ti(carried, key.task)
            assert ti is not None
        at = _when(event.at, now, self.clock)
        if interrupted:
            self._requeue(carried, key.task, ti, datetime.fromisoformat(at),
                          "interrupted: flowctl was stopped while this try ran; it will run again")
            return
        spec = carried.spec
        task = spec.tasks.get(key.task_id) if spec else None
        result = dict(event.result or {})
        if timed_out:
            limit = task.execution_timeout if task and task.execution_timeout else 0
            result = {"state": "failed", "error": f"timed out after {limit:g} s (execution_timeout); "
                                                  f"the process group was terminated"}
            self._log(key, result["error"])
        elif event.result is None:
            why = event.how if event.lost else f"the task process ended without a result ({event.how})"
            result = {"state": "failed", "error": why}
            self._log(key, result["error"])
        settled = side_effects.settle(self.store, specs, key, event, task, result, now)  # assets, triggers
        result = settled.result
        if settled.note:
            self._log(key, settled.note)
        seed = f"{key.dag_id}#{key.task_id}#{carried.stored.record.logical_date}"
        fields = outcome_of_try(task, {"try_number": ti.try_number, "retry_base": ti.retry_base}, result,
                                datetime.fromisoformat(at), seed=seed)
        fields.update(settled.fields)
        if settled.effects:
            self._pending(carried.key).effects[key.task] = settled.effects
        if fields["state"] == TaskState.UP_FOR_RESCHEDULE:  # a sensor between pokes keeps its try
            fields["first_poke_at"] = ti.first_poke_at or result.get("first_poke_at")
            fields["pid"] = None
            self._set(carried, key.task, fields)
            self._timer_for(carried, key.task, fields)
            return
        start_date = ti.start_date or ti.queued_at
        duration = None
        if start_date:
            duration = max(0.0, (datetime.fromisoformat(at) - datetime.fromisoformat(start_date)).total_seconds())
        fields.update(duration=duration, exit_code=event.exit_code, error=result.get("error"))
        if result.get("rendered_map_index"):
            fields["rendered_map_index"] = result["rendered_map_index"]
        state = fields["state"]
        if state == TaskState.SUCCESS:
            fields["success_fingerprint"] = ti.fingerprint
            self._pending(carried.key).xcom[key.task] = result.get("xcom") or {}
        fields["tries"] = [*ti.tries, {
            "try_number": key.try_number, "state": state, "start_date": ti.start_date, "end_date": fields["end_date"],
            "duration": duration, "exit_code": event.exit_code, "error": result.get("error"),
            "fingerprint": ti.fingerprint,
        }]
        self._set(carried, key.task, fields)
        self._timer_for(carried, key.task, fields)
        if state == TaskState.SUCCESS and result.get("skip_downstream") and spec is not None:
            skip_ids = set(result["skip_downstream"])
            if result.get("skip_all_below"):
                skip_ids |= descendants(spec, skip_ids)
            skip = {k for t in skip_ids for k in self._instances(carried, t)}
            for down in sorted(skip):
                dti = self._ti(carried, down)
                if dti is not None and dti.state in WAITING_STATES:
                    self._set(carried, down, {"state": TaskState.SKIPPED, "end_date": fields["end_date"],
                                              "skipped_by": key.task_id})
                    self.ready.discard(carried.key, down)
        pend = self._pending(carried.key)
        pend.after.append((key.task, "task_finished", {"try_number": key.try_number, **fields}))
        if task is not None and task.has_callbacks:
            name = {"success": "on_success_callback", "up_for_retry": "on_retry_callback",
                    "failed": "on_failure_callback"}.get(state)
            if name:
                pend.after.append((key.task, "callback", {"name": name, "try_number": key.try_number,
                                                          "error": result.get("error")}))
        if state == TaskState.FAILED:
            pend.after.append((key.task, "notice", {
                "event": "task_failed", "try_number": key.try_number, "error": result.get("error"),
                "log": str(self.store.log_path(key.dag_id, key.run_id, key.task_id, key.try_number, key.map_index))}))

    def _requeue(self, carried: Carried, tk: TaskKey, ti: TaskInstance, ended: datetime | None, why: str) -> None:
        """An interrupted try is not a failure: it goes in the history, its log
        says why, and the instance goes back to run again (the try count goes on)."""
        n = ti.try_number
        self._log(TryKey(carried.key.dag_id, carried.key.run_id, tk.task_id, tk.map_index, n), why)
        history = [*ti.tries, {"try_number": n, "state": "interrupted", "start_date": ti.start_date,
                               "end_date": ended.isoformat() if ended else None, "error": why}]
        self._set(carried, tk, {"state": TaskState.NONE, "tries": history, "error": why, "pid": None})
        carried.dirty.add(tk)

    # -- time ----------------------------------------------------------------------------

    def _schedule(self, when: datetime, kind: str, what: Any) -> None:
        self._timer_seq += 1
        heapq.heappush(self.timers, (when, self._timer_seq, kind, what))

    def _timer_for(self, carried: Carried, tk: TaskKey, fields: Mapping[str, Any]) -> None:
        for name in ("next_retry_at", "next_poke_at"):
            if fields.get(name):
                self._schedule(datetime.fromisoformat(fields[name]), "due", (carried.key, tk))

    def _due(self, now: datetime, mono: float) -> None:
        while self.timers and self.timers[0][0] <= now:
            _, _, kind, what = heapq.heappop(self.timers)
            if kind == "due":
                carried = self.carried.get(what[0])
                if carried is not None:
                    carried.dirty.add(what[1])
            elif kind == "timeout":
                key = what
                if key in self.submitted and key not in self.terminating and key not in self.interrupted:
                    carried = self.carried.get(key.run)
                    task = carried.spec.tasks.get(key.task_id) if carried and carried.spec else None
                    limit = task.execution_timeout if task and task.execution_timeout else 0
                    self._log(key, f"execution_timeout of {limit:g} s reached: terminating the process group")
                    self.terminating[key] = mono
                    self.executor.kill(key)
            elif kind == "run_timeout":
                self._run_timed_out(what, now, mono)
            elif kind == "leftovers":
                pass  # checked below on every tick while any remain
        for key, since in list(self.terminating.items()):
            if mono - since >= TERM_GRACE - EPSILON and key in self.submitted:
                self.executor.kill(key, hard=True)
                self.terminating[key] = mono  # and again after another grace, if need be

    def _check_killing(self, now: datetime, mono: float) -> None:
        if self.leftovers:
            self._check_leftovers(now)
        for key, (pid, event, why) in list(self.killing.items()):
            if pid is not None and not group_gone(pid):
                kill_group(pid)
                continue
            del self.killing[key]
            if event is not None:
                self._finished(key, Finished(key, None, event.exit_code, why, event.at), now, self.specs())

    # -- deciding ------------------------------------------------------------------------

    def _decide(self, now: datetime, specs: Mapping[str, DagSpec]) -> None:
        for carried in list(self.carried.values()):
            spec = specs.get(carried.key.dag_id)
            if spec is not None and spec is not carried.spec:
                changed = carried.spec is None or spec.fingerprint != carried.spec.fingerprint
                carried.spec = spec
                if changed:
                    self._count_upstream(carried)
                    carried.dirty |= set(carried.stored.tis)
        held = self._held_runs()
        for key in held - self.held:  # held now: what it had in the ready queue waits, judged again later
            self.ready.discard_run(key)
            carried = self.carried[key]
            carried.dirty |= set(carried.stored.tis)
        self.held = held
        for carried in list(self.carried.values()):
            if carried.dirty and carried.key not in held:  # a held run keeps its dirt for when it may start
                self._judge_run(carried, now)
            self._run_state(carried, now)
        self._fill_slots(now)

    def _held_runs(self) -> set[RunKey]:
        """decisions.runs_held over the carried runs: begun is running, or with an
        instance queued or running (a cleared run is queued again)."""
        limits: dict[str, int] = {}
        runs = []
        for c in self.carried.values():
            record = c.stored.record
            pend = self.pending.get(c.key)
            state = pend.run.get("state", record.state) if pend is not None else record.state
            if c.spec is None or state in RUN_FINISHED or record.run_type == "backfill":
                continue
            limits[c.key.dag_id] = c.spec.max_active_runs
            runs.append((c.key, state == RunState.RUNNING or any(c.counts[s] for s in ACTIVE), c.order_date))
        return runs_held(limits, runs)

    def _judge_run(self, carried: Carried, now: datetime) -> None:
        spec = carried.spec
        dirty, carried.dirty = carried.dirty, set()
        if spec is None or carried.stored.record.state in RUN_FINISHED and not self._has_waiting(carried):
            return
        if any(spec.tasks[t].depends_on_past for t in {k.task_id for k in dirty} if t in spec.tasks):
            self._load_previous(carried)
        position = spec.position
        work = [(position.get(k.task_id, 1 << 30), k) for k in dirty if k.task_id in spec.tasks]
        heapq.heapify(work)
        seen: set[TaskKey] = set()
        while work:
            _, tk = heapq.heappop(work)
            if tk in seen:
                continue
            seen.add(tk)
            ti = self._ti(carried, tk)
            if ti is None or (carried.key, tk) in self.leftovers:
                continue
            task = spec.tasks[tk.task_id]
            if (task.trigger_rule == "all_success" and not task.depends_on_past and ti.state in WAITING_STATES
                    and not carried.bad_up.get(tk, 0) and not task.setups):
                if carried.open_up.get(tk, 0):  # the common case, in O(1): an upstream is still going
                    self.ready.discard(carried.key, tk)
                    continue
                if task.mapped is not None and tk.map_index < 0:
                    self._expand(carried, tk, task, ti, now)
                    continue
                order = (carried.order_date, -task.priority_weight, position[tk.task_id], tk.map_index)
                self.ready.push(Candidate(order, carried.key, tk, ti.state))
                continue
            upstream = {}
            for u in task.upstream:
                for uk in self._instances(carried, u):
                    uti = self._ti(carried, uk)
                    if uti is not None:
                        upstream[uk.label()] = uti.state
            prev = None
            if task.depends_on_past and carried.prev_states is not None:
                prev = carried.prev_states.get(tk.label(), "")
            setup_states = {s: self._state(carried, TaskKey(s)) for s in task.setups} if task.setups else None
            j = judge(task, ti.state, {"next_retry_at": ti.next_retry_at, "next_poke_at": ti.next_poke_at},
                      upstream, now, prev, setup_states=setup_states)
            if j.verdict == "run" and task.mapped is not None and tk.map_index < 0:
                self._expand(carried, tk, task, ti, now)
            elif j.verdict == "run":
                order = (carried.order_date, -task.priority_weight, position[tk.task_id], tk.map_index)
                self.ready.push(Candidate(order, carried.key, tk, ti.state))
            elif j.verdict in ("skip", "upstream_failed"):
                to = TaskState.SKIPPED if j.verdict == "skip" else TaskState.UPSTREAM_FAILED
                self._set(carried, tk, {"state": to, "end_date": now.isoformat(), "reason": j.reason})
                self.ready.discard(carried.key, tk)
                for d in task.downstream:
                    for dk in self._instances(carried, d):
                        heapq.heappush(work, (position[d], dk))
            else:
                self.ready.discard(carried.key, tk)

    def _expand(self, carried: Carried, tk: TaskKey, task: TaskSpec, ti: TaskInstance, now: datetime) -> None:
        """A mapped task may run: count its elements and make one instance each
        in the next commit (none: it is skipped; too many: it fails)."""
        pend = self._pending(carried.key)
        if tk in pend.expand:
            return
        assert task.mapped is not None
        feeding = {uk for u in task.upstream for uk in self._instances(carried, u)}
        if feeding & set(pend.tis):  # an upstream's result is not committed yet: count from the store
            pend.rejudge.add(tk)
            pend.only_starts = False
            return
        error = None
        try:
            count = mapped_count(task.mapped, lambda t, k: self._xcom_value(carried, t, k))
        except (TypeError, ValueError) as exc:
            count, error = 0, str(exc)
        if error is None and count > self.max_map_length:
            error = (f"{count:,} instances to map is more than max_map_length ({self.max_map_length:,}); "
                     f"raise it with the setting max_map_length or FLOWCTL_MAX_MAP_LENGTH")
        if error is not None:
            self._set(carried, tk, {"state": TaskState.FAILED, "end_date": now.isoformat(), "error": error,
                                    "reason": error})
            pend.after.append((tk, "notice", {"event": "task_failed", "try_number": ti.try_number, "error": error,
                                              "log": None}))
            pend.after.append((tk, "task_finished", {"state": TaskState.FAILED, "error": error}))
        elif count == 0:
            reason = "nothing to map over: its expand input is empty"
            self._set(carried, tk, {"state": TaskState.SKIPPED, "end_date": now.isoformat(), "reason": reason})
            pend.after.append((tk, "task_finished", {"state": TaskState.SKIPPED, "reason": reason}))
        else:
            pend.expand[tk] = (Change(ti.state, ti.try_number, {}), count)
            pend.only_starts = False
        self.ready.discard(carried.key, tk)

    def _xcom_value(self, carried: Carried, task_id: str, key: str) -> Any:
        """A task's committed value: a mapped task's is the list of its instances'."""
        keys = self._instances(carried, task_id)
        values = [carried.stored.xcom.get((k, key)) for k in keys]
        if keys[0].map_index < 0:
            return values[0]
        return [v for v in values if v is not None]

    def _has_waiting(self, carried: Carried) -> bool:
        return any(carried.counts.get(s) for s in (TaskState.NONE, TaskState.SCHEDULED))

    def _load_previous(self, carried: Carried) -> None:
        """The previous run's task states, for depends_on_past (read when needed)."""
        if carried.prev_loaded:
            return
        carried.prev_loaded = True
        prev = previous_run(self.store, carried.key.dag_id, carried.stored.record.logical_date)
        carried.prev_states = {} if prev is None else {k.label(): ti.state for k, ti in prev.tis.items()}

    def _fill_slots(self, now: datetime) -> None:
        self.waiting_on_others = False
        if self.stopping or not len(self.ready):
            return
        free = self.workers - sum(1 for k in self.submitted if isinstance(k, TryKey))
        if free <= 0:
            return
        gate = self.slots.occupancy(self._dag_limits())
        self._refuse_unrunnable(gate, now)
        for cand in self.ready.take(free, gate=gate):
            carried = self.carried.get(cand.run)
            if carried is None or carried.spec is None:
                continue
            ti = self._ti(carried, cand.task)
            if ti is None or ti.state != cand.expected:
                continue
            if any(isinstance(k, TryKey) and k.run == cand.run and k.task == cand.task for k in self.submitted):
                continue  # an older try (cleared or marked meanwhile) has not ended yet
            self._queue(carried, cand.task, ti, now)
        self.waiting_on_others = bool(len(self.ready)) and bool(self.slots.others)

    # -- pools and limits (the decisions are in decisions.Occupancy; the ledger in engine/pools.py) --

    def _lane_of(self, cand: Candidate) -> Lane:
        carried = self.carried.get(cand.run)
        return SlotKeeper.lane(carried.spec if carried is not None else None, cand.task.task_id)

    def why_waiting(self, key: RunKey, now: datetime) -> str:
        """Why a carried run does not move on, in words: its ready task instances'
        pool or limit first (a pool of 0 slots holds them forever), then what
        its other tasks wait for."""
        carried = self.carried.get(key)
        if carried is None or carried.spec is None:
            return "the DAG is not in the DAG folder (see `flowctl dags errors`)"
        gate = self.slots.occupancy(self._dag_limits())
        held: dict[str, list[str]] = {}  # reason -> the task instances it holds back
        for cand in self.ready.items():
            if cand.run == key:
                lane = self._lane_of(cand)
                why = gate.unrunnable(lane) or gate.blocked(key.dag_id, lane)
                if why is not None:
                    held.setdefault(why, []).append(cand.task.label())
        reasons = [f"{', '.join(sorted(labels))}: {why}" for why, labels in held.items()]
        stored = carried.stored
        view = RunView(key.dag_id, key.run_id, stored.run, dict(stored.task_instances))
        _, _, waits, _ = task_verdicts(carried.spec, view, now, carried.prev_states, explain=True)
        reasons.extend(f"{w.task_id}: {w.reason}" for w in waits)
        return "; ".join(reasons[:3]) or "no task can start"

    def _dag_limits(self) -> dict[str, int]:
        return {c.key.dag_id: c.spec.max_active_tasks for c in self.carried.values() if c.spec is not None}

    def _refuse_unrunnable(self, gate: Any, now: datetime) -> None:
        """A task whose pool does not exist (or is smaller than its pool_slots)
        fails at once, with the reason, as Airflow would never run it."""
        for dag_id, lane in self.ready.lanes():
            why = gate.unrunnable(lane)
            if why is None:
                continue
            for cand in self.ready.pop_lane(dag_id, lane):
                carried = self.carried.get(cand.run)
                ti = self._ti(carried, cand.task) if carried is not None else None
                if carried is None or ti is None or ti.state != cand.expected:
                    continue
                self._set(carried, cand.task, {"state": TaskState.FAILED, "end_date": now.isoformat(),
                                               "error": why, "reason": why})
                pend = self._pending(carried.key)
                pend.after.append((cand.task, "task_finished", {"try_number": ti.try_number,
                                                                "state": TaskState.FAILED, "error": why}))
                pend.after.append((cand.task, "notice", {"event": "task_failed", "try_number": ti.try_number,
                                                         "error": why, "log": None}))

    def _queue(self, carried: Carried, tk: TaskKey, ti: TaskInstance, now: datetime) -> None:
        spec = carried.spec
        assert spec is not None
        task = spec.tasks[tk.task_id]
        poke_again = ti.state == TaskState.UP_FOR_RESCHEDULE
        n = ti.try_number + (0 if poke_again and ti.try_number else 1)
        fields: dict[str, Any] = {
            "state": TaskState.QUEUED, "try_number": n, "queued_at": now.isoformat(),
            "start_date": None, "end_date": None, "duration": None, "exit_code": None,
            "pid": None, "error": None, "next_retry_at": None, "next_poke_at": None,
            "fingerprint": task.fingerprint, "marked": None,  # a try runs: what it does is no mark
        }
        if not poke_again:
            fields["first_poke_at"] = None
        key = TryKey(carried.key.dag_id, carried.key.run_id, tk.task_id, tk.map_index, n)
        fields.update(self.slots.reserve(carried.key, key, spec))
        self._set(carried, tk, fields)
        payload = self._payload(carried, tk, n, ti.first_poke_at if poke_again else None)
        payload["retry_base"] = ti.retry_base or 0  # ti.max_tries as Airflow counts it after a clear
        self._pending(carried.key).jobs.append(Job(key, spec.fileloc, spec.fingerprint, payload))

    def _payload(self, carried: Carried, tk: TaskKey, n: int, first_poke_at: str | None) -> dict[str, Any]:
        spec = carried.spec
        assert spec is not None
        run = carried.stored.record
        if carried.prev_success is None:
            prev = previous_run(self.store, carried.key.dag_id, run.logical_date, state="success")
            carried.prev_success = {"value": None if prev is None else {
                "data_interval_start": prev.record.data_interval_start,
                "data_interval_end": prev.record.data_interval_end,
                "start_date": prev.record.start_date, "end_date": prev.record.end_date}}
        payload = {
            "dag_id": carried.key.dag_id, "run_id": carried.key.run_id, "task_id": tk.task_id,
            "map_index": tk.map_index, "try_number": n, "fileloc": spec.fileloc, "home": str(self.store.home),
            "timezone": spec.timezone,
            "log_path": str(self.store.log_path(carried.key.dag_id, carried.key.run_id, tk.task_id, n, tk.map_index)),
            "run": {"run_id": run.run_id, "run_type": run.run_type, "logical_date": run.logical_date,
                    "data_interval_start": run.data_interval_start, "data_interval_end": run.data_interval_end,
                    "conf": run.conf, "start_date": run.start_date},
            "prev_success": carried.prev_success["value"],
            "first_poke_at": first_poke_at,
        }
        for name in ("triggering_asset_events", "triggered_by"):  # a run made by assets or another DAG
            if run.extra.get(name):
                payload["run"][name] = run.extra[name]
        if self.payload_extra is not None:
            payload.update(self.payload_extra(spec, carried.stored, tk))
        return payload

    def _run_state(self, carried: Carried, now: datetime) -> None:
        """The run's state from its instances' (contract section 4), when it moves."""
        if self._arm_run_timeout(carried):
            return  # it timed out: failed, whatever its instances' states
        counts = carried.counts
        total = sum(counts.values())
        finished = sum(counts[s] for s in FINISHED)
        if total and finished == total:
            fails = any(counts[s] for s in FAILED_STATES) and self._failures_count(carried)
            new = RunState.FAILED if fails else RunState.SUCCESS
        elif total and total - counts[TaskState.NONE] - counts[TaskState.SCHEDULED] > 0:
            new = RunState.RUNNING
        elif not total:
            new = RunState.SUCCESS
        else:
            new = RunState.QUEUED
        pend = self.pending.get(carried.key)
        current = pend.run.get("state") if pend is not None and "state" in pend.run else carried.stored.record.state
        if new == current or (new == RunState.QUEUED and current == RunState.RUNNING):
            return
        if self.stopping and new == RunState.QUEUED:
            return
        pend = self._pending(carried.key)
        pend.only_starts = False
        if pend.run_expected is None:
            pend.run_expected = carried.stored.record.state
        pend.run["state"] = str(new)
        if new != RunState.QUEUED and not carried.stored.record.start_date and "start_date" not in pend.run:
            # running; or over in one step (its only tries started and ended between two ticks)
            starts = [ti.start_date for ti in pend.views.values() if ti.start_date]
            pend.run["start_date"] = min(starts) if starts and new in RUN_FINISHED else now.isoformat()
            if new == RunState.RUNNING:
                self._arm_run_timeout(carried)
        if new in RUN_FINISHED:
            pend.run["end_date"] = now.isoformat()
            pend.after.append((None, "run_finished", {"state": str(new)}))
            if carried.spec is not None and carried.spec.has_dag_callbacks:
                name = "on_success_callback" if new == RunState.SUCCESS else "on_failure_callback"
                pend.after.append((None, "callback", {"name": name, "reason": f"run {new}"}))
            if new == RunState.FAILED:
                failed = sorted(k.label() for k, ti in carried.stored.tis.items()
                                if self._state(carried, k) == TaskState.FAILED)
                pend.after.append((None, "notice", {
                    "event": "run_failed",
                    "error": f"failed task(s): {', '.join(failed)}" if failed else "upstream failures"}))
        else:
            pend.run["end_date"] = None

    def _failures_count(self, carried: Carried) -> bool:
        """Whether a failure among the run's instances fails it: a teardown's alone
        does not (decisions.counts_for_run_state). Asked only as a run ends."""
        spec = carried.spec
        if spec is None or not any(t.is_teardown for t in spec.tasks.values()):
            return True
        return any(self._state(carried, k) in FAILED_STATES and counts_for_run_state(spec, k.task_id)
                   for k in carried.counted)

    # -- run timeouts (dagrun_timeout; the rule is decisions.run_deadline) ------------------------

    def _arm_run_timeout(self, carried: Carried) -> bool:
        """Set the run's dagrun_timeout timer (once per deadline). True when the run
        has timed out already (it stays failed until it is cleared)."""
        pend = self.pending.get(carried.key)
        record = carried.stored.record
        if record.extra.get("timed_out") or (pend is not None and pend.run.get("timed_out")):
            return True
        started = (pend.run.get("start_date") if pend is not None else None) or record.start_date
        state = pend.run.get("state", record.state) if pend is not None else record.state
        deadline = run_deadline(carried.spec, state, started)
        if deadline is not None and self._run_deadlines.get(carried.key) != deadline:
            self._run_deadlines[carried.key] = deadline
            self._schedule(deadline, "run_timeout", carried.key)
        return False

    def _run_timed_out(self, key: RunKey, now: datetime, mono: float) -> None:
        """Airflow's rule: the run fails, its unfinished instances are skipped, and
        its running tries are killed (SIGTERM, then SIGKILL after the grace)."""
        carried = self.carried.get(key)
        if carried is None or carried.spec is None:
            return
        pend = self.pending.get(key)
        record = carried.stored.record
        started = (pend.run.get("start_date") if pend is not None else None) or record.start_date
        state = pend.run.get("state", record.state) if pend is not None else record.state
        deadline = run_deadline(carried.spec, state, started)
        if deadline is None or now < deadline or record.extra.get("timed_out"):
            return  # finished, cleared (started anew) or not yet
        self._run_deadlines.pop(key, None)
        why = timeout_reason(carried.spec, started)
        killed = []
        for tk in list(carried.stored.tis):
            ti = self._ti(carried, tk)
            if ti is None or ti.state in FINISHED:
                continue
            if ti.state in ACTIVE:
                try_key = TryKey(key.dag_id, key.run_id, tk.task_id, tk.map_index, ti.try_number)
                if try_key in self.submitted and try_key not in self.terminating:
                    self._log(try_key, f"{why}: terminating the process group")
                    self.terminating[try_key] = mono
                    self.executor.kill(try_key)
                killed.append(tk.label())
            self._set(carried, tk, {"state": TaskState.SKIPPED, "end_date": now.isoformat(), "reason": why})
            self.ready.discard(key, tk)
        pend = self._pending(key)
        for job in list(pend.jobs):  # queued, not yet committed: never to start
            if isinstance(job.key, TryKey):
                pend.jobs.remove(job)
                self.slots.dropped(key, job.key.task)
        pend.only_starts = False
        if pend.run_expected is None:
            pend.run_expected = record.state
        pend.run.update(state=str(RunState.FAILED), end_date=now.isoformat(), reason=why, timed_out=True)
        pend.after.append((None, "run_finished", {"state": str(RunState.FAILED), "reason": why}))
        if carried.spec.has_dag_callbacks:
            pend.after.append((None, "callback", {"name": "on_failure_callback", "reason": "timed_out"}))
        error = why + (f"; killed {', '.join(killed)}" if killed else "")
        pend.after.append((None, "notice", {"event": "run_failed", "error": error}))

    # -- the overlay of pending changes on the committed state ------------------------------

    def _pending(self, key: RunKey) -> Pending:
        pend = self.pending.get(key)
        if pend is None:
            pend = self.pending[key] = Pending()
        return pend

    def _ti(self, carried: Carried, tk: TaskKey) -> TaskInstance | None:
        pend = self.pending.get(carried.key)
        if pend is not None:
            view = pend.views.get(tk)
            if view is not None:
                return view
        return carried.stored.tis.get(tk)

    def _state(self, carried: Carried, tk: TaskKey) -> str:
        ti = self._ti(carried, tk)
        return ti.state if ti is not None else TaskState.NONE

    def _set(self, carried: Carried, tk: TaskKey, fields: dict[str, Any]) -> None:
        """Change a task instance in the next commit, guarded by what it is now."""
        pend = self._pending(carried.key)
        change = pend.tis.get(tk)
        view = pend.views.get(tk)
        if change is None:
            base = carried.stored.tis.get(tk)
            change = pend.tis[tk] = Change(base.state if base else TaskState.NONE,
                                           base.try_number if base else 0, {})
            view = pend.views[tk] = base.copy() if base is not None else TaskInstance(tk.task_id, tk.map_index)
        assert view is not None
        old = view.state
        change.fields.update(fields)
        view.update(fields)
        if fields.keys() - _START_FIELDS or fields.get("state") != TaskState.RUNNING:
            pend.only_starts = False
        new = view.state
        if new == old:
            return
        if tk in carried.counted:
            carried.counts[old] -= 1
            carried.counts[new] += 1
        spec = carried.spec
        task = spec.tasks.get(tk.task_id) if spec is not None else None
        if task is not None:
            was_done, now_done = old in FINISHED, new in FINISHED
            was_bad, now_bad = old in BAD, new in BAD
            if was_done != now_done or was_bad != now_bad:  # only these can change a downstream verdict
                for d in task.downstream:
                    for dk in self._instances(carried, d):
                        if dk in carried.open_up:
                            carried.open_up[dk] += int(not now_done) - int(not was_done)
                            carried.bad_up[dk] += now_bad - was_bad
                        carried.dirty.add(dk)
        if new == TaskState.RUNNING and fields.get("start_date"):
            self._schedule_timeout(carried, tk, fields["start_date"])

    def _schedule_timeout(self, carried: Carried, tk: TaskKey, start_date: str) -> None:
        task = carried.spec.tasks.get(tk.task_id) if carried.spec else None
        if task is None or task.execution_timeout is None:
            return
        ti = self._ti(carried, tk)
        if ti is None:
            return
        key = TryKey(carried.key.dag_id, carried.key.run_id, tk.task_id, tk.map_index, ti.try_number)
        self._schedule(datetime.fromisoformat(start_date) + timedelta(seconds=task.execution_timeout), "timeout", key)

    # -- committing ------------------------------------------------------------------------

    def _commit(self, now: datetime, mono: float) -> bool:
        """Write the pending changes in one transaction; then submit and announce
        what went in. Returns whether anything happened."""
        if self.starts:
            oldest = min(m for _, m in self.starts.values())
            defer_over = mono - oldest >= START_DEFER - EPSILON or self.stopping
            if defer_over or any(not p.only_starts for p in self.pending.values()):
                self._flush_starts(now)
        if not any(not p.empty() for p in self.pending.values()) and not self.slots.dirty():
            self.pending.clear()
            return False
        if all(p.only_starts for p in self.pending.values() if not p.empty()) and self.starts:
            return False
        pending, self.pending = self.pending, {}
        committed: set[RunKey] = set()
        accepted: dict[RunKey, set[TaskKey]] = {}
        run_accepted: set[RunKey] = set()
        tx = None
        writers = {}
        ctx = side_effects.Context(self.specs(), self.owner, now)
        try:
            with self.store.transaction() as tx:
                self.slots.begin(tx, self._dag_limits())
                for key, pend in pending.items():
                    if pend.empty():
                        continue
                    writer = tx.run(*key)
                    if writer is None:
                        continue
                    writers[key] = writer
                    record = writer.stored.record if writer.stored else None
                    owner_now = record.owner if record else None
                    if pend.owner_check:
                        if not _same_doc_owner(owner_now, pend.owner_expected):
                            continue  # another process took it since we read it
                    elif not same_owner(owner_now, self.owner):
                        continue  # taken over by another process meanwhile
                    took: set[TaskKey] = set()
                    for tk, change in pend.tis.items():
                        cur = writer.ti(tk)
                        state = cur.state if cur else TaskState.NONE
                        tries = cur.try_number if cur else 0
                        if state != change.expected_state or tries != change.expected_try:
                            continue
                        if tk in pend.effects:  # asset events, a triggered run: in this same commit
                            again = side_effects.apply(pend.effects[tk], tx, writer, tk, ctx)
                            if again is not None:
                                self._refeed.append(again)  # held back: decided again next tick
                                continue
                        if not self.slots.admit(key, tk):
                            continue  # its pool or limit filled up meanwhile (another process): decide again
                        writer.put_ti(tk, **change.fields)
                        took.add(tk)
                        if tk in pend.xcom:
                            writer.clear_xcom(tk)
                            for xkey, value in pend.xcom[tk].items():
                                writer.set_xcom(tk, xkey, value)
                    for tk, (change, count) in pend.expand.items():
                        cur = writer.ti(tk)
                        if cur is None or cur.state != change.expected_state or cur.try_number != change.expected_try:
                            continue
                        writer.drop_ti(tk)
                        for i in range(count):
                            if writer.ti(TaskKey(tk.task_id, i)) is None:
                                writer.put_ti(TaskKey(tk.task_id, i), state=TaskState.NONE, operator=cur.operator,
                                              max_tries=cur.max_tries)
                        took.add(tk)
                    accepted[key] = took
                    if pend.run and (pend.run_expected is None or writer.record.state == pend.run_expected):
                        writer.update_run(**pend.run)
                        run_accepted.add(key)
                self.slots.finish(tx)
        except OSError as exc:
            self.slots.committed(False)
            committed = set(tx.committed) if tx is not None else set()
            self._stall(exc, pending, committed, mono)
            return True
        except StoreCorrupt as exc:  # a damaged run file: that run cannot go on; the others can
            self.slots.committed(False)
            self.announce("store_error", {"dag_id": None, "run_id": None, "error": str(exc)})
            self._stall(OSError(errno.EIO, str(exc)), pending, set(), mono)
            return True
        self.slots.committed(True)
        if self.stalled is not None:
            self.announce("store_recovered", {"error": self.stalled})
            self.stalled = None
        self._seen_seq = None if tx is not None and tx.foreign else self.store.seq()
        if ctx.created:  # runs our tasks triggered: take them in on the next tick, at once
            self.triggered.update(ctx.created)
            self._seen_seq = None
            self._wake_now = True
        for key, writer in writers.items():
            carried = self.carried.get(key)
            if carried is not None and writer.stored is not None and writer.stored is not carried.stored:
                carried.stored = writer.stored  # the document was read anew under the lock
                self._recount(carried, set(writer.stored.tis))
            if carried is not None:
                self._count_expansions(carried, pending.get(key), accepted.get(key, set()))
        if tx is not None:
            for key, touched in tx.touched.items():  # other writers' changes seen under the lock
                carried = self.carried.get(key)
                if carried is not None:
                    self._recount(carried, touched)
        self._after_commit(pending, accepted, run_accepted)
        return True

    def _flush_starts(self, now: datetime) -> None:
        for key, (event, _m) in list(self.starts.items()):
            carried = self.carried.get(key.run)
            if carried is None:
                continue
            ti = self._ti(carried, key.task)
            if ti is None or ti.try_number != key.try_number or ti.state not in ACTIVE:
                continue
            if ti.state == TaskState.RUNNING and ti.pid == event.pid:
                continue
            self._set(carried, key.task, {
                "state": TaskState.RUNNING, "pid": event.pid,
                "pid_started": process_start_time(event.pid) if event.pid else None,
                "hostname": event.hostname, "start_date": _when(event.at, now, self.clock)})
        self.starts.clear()

    def _recount(self, carried: Carried, touched: set[TaskKey]) -> None:
        tis, spec = carried.stored.tis, carried.spec
        carried.counted = {k for k in carried.counted if k in tis} | {
            k for k in touched if k in tis and (spec is None or k.task_id in spec.tasks or tis[k].state in FINISHED)}
        carried.counts = Counter(carried.stored.tis[k].state for k in carried.counted)
        self._count_upstream(carried)
        carried.dirty |= touched | self._below(carried, touched)

    def _count_expansions(self, carried: Carried, pend: Pending | None, took: set[TaskKey]) -> None:
        """Committed expansions: the instances replace the place-holder in every count."""
        done = [tk for tk in (pend.expand if pend is not None else ()) if tk in took]
        if not done:
            return
        made = {k for k in carried.stored.tis for tk in done if k.task_id == tk.task_id and k.map_index >= 0}
        carried.counted -= set(done)
        self._recount(carried, made | set(done))

    def _stall(self, exc: OSError, pending: dict[RunKey, Pending], committed: set[RunKey], mono: float) -> None:
        """The disk refused the commit: keep what did not go in, say so once, try again."""
        why = f"{exc.strerror or exc}" + (f" ({exc.filename})" if getattr(exc, "filename", None) else "")
        if self.stalled is None:
            self.announce("store_stalled", {"error": why, "retry": RETRY_COMMIT})
        self.stalled = why
        self._stall_retry = mono + RETRY_COMMIT
        for key, pend in pending.items():
            if key in committed:
                continue  # that run's line is on disk (its journal took it before the disk filled)
            mine = self.pending.get(key)
            if mine is None:
                self.pending[key] = pend
            else:  # events recorded since are newer: they win
                carried = self.carried.get(key)
                for tk, change in mine.tis.items():
                    if tk in pend.tis:
                        pend.tis[tk].fields.update(change.fields)
                    else:
                        pend.tis[tk] = change
                    base = carried.stored.tis.get(tk) if carried is not None else None
                    view = base.copy() if base is not None else TaskInstance(tk.task_id, tk.map_index)
                    view.update(pend.tis[tk].fields)
                    pend.views[tk] = view
                pend.run.update(mine.run)
                pend.xcom.update(mine.xcom)
                pend.expand.update(mine.expand)
                pend.rejudge |= mine.rejudge
                pend.effects.update(mine.effects)
                pend.jobs.extend(mine.jobs)
                pend.after.extend(mine.after)
                self.pending[key] = pend
        if committed:
            self._after_commit({k: p for k, p in pending.items() if k in committed},
                               {k: set(p.tis) for k, p in pending.items() if k in committed},
                               {k for k in committed if pending[k].run})

    def _after_commit(self, pending: dict[RunKey, Pending], accepted: dict[RunKey, set[TaskKey]],
                      run_accepted: set[RunKey]) -> None:
        for key, pend in pending.items():
            took = accepted.get(key, set())
            carried = self.carried.get(key)
            refused = (set(pend.tis) | set(pend.expand)) - took
            if refused and carried is not None:  # a guard refused: decide again
                self._recount(carried, refused)
            if pend.rejudge and carried is not None:
                carried.dirty |= pend.rejudge
            for job in pend.jobs:
                if isinstance(job.key, TryKey) and job.key.task in took:
                    if carried is not None:
                        job.payload["xcom_given"] = self._upstream_values(carried, job.key.task)
                    self.slots.submitted(job.key)
                    self.executor.submit(job)
                    self.submitted[job.key] = key
                elif isinstance(job.key, TryKey):
                    self.slots.dropped(key, job.key.task)
            for tk, kind, info in pend.after:
                if tk is not None and tk not in took:
                    continue
                if tk is None and key not in run_accepted:
                    continue
                self._follow(key, tk, kind, info)
                if kind == "task_finished" and carried is not None and tk is not None:
                    self._wake_next_run(carried, tk)

    def _upstream_values(self, carried: Carried, tk: TaskKey) -> dict[str, Any]:
        """The committed values of the task's upstream tasks, sent with its try so
        that it need not read the whole run from the store (which costs what the run
        has grown to: a thousand mapped instances reading it is quadratic). A task
        whose values are too large for a payload is left out: the try reads it."""
        spec = carried.spec
        task = spec.tasks.get(tk.task_id) if spec is not None else None
        tasks: list[str] = []
        values: list[dict[str, Any]] = []
        if task is None:
            return {"tasks": tasks, "values": values}
        stored = carried.stored
        room = GIVEN_XCOM_BYTES
        for up in task.upstream:
            items = [(k, x, v) for k in self._instances(carried, up) for x, v in stored.xcom_of(k).items()]
            size = sum(len(orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS)) for _, _, v in items)
            if size > room:
                continue
            room -= size
            tasks.append(up)
            values.extend({"task_id": k.task_id, "map_index": k.map_index, "key": x, "value": v} for k, x, v in items)
        return {"tasks": tasks, "values": values}

    def _wake_next_run(self, carried: Carried, tk: TaskKey) -> None:
        """A depends_on_past task in a later run waits for this one: look again."""
        spec = carried.spec
        if spec is None or tk.task_id not in spec.tasks or not spec.tasks[tk.task_id].depends_on_past:
            return
        for other in self.carried.values():
            if other.key.dag_id == carried.key.dag_id and other.order_date > carried.order_date:
                other.prev_loaded = False
                other.prev_states = None
                other.dirty.add(tk)

    def _follow(self, key: RunKey, tk: TaskKey | None, kind: str, info: dict[str, Any]) -> None:
        """Announcements, callbacks and notices of a committed change, each once."""
        base: dict[str, Any] = {"dag_id": key.dag_id, "run_id": key.run_id}
        if tk is not None:
            base.update(task_id=tk.task_id, map_index=tk.map_index)
        carried = self.carried.get(key)
        if kind == "task_finished":
            self.announce("task_finished", {**base, **info})
        elif kind == "run_finished":
            self.announce("run_finished", {**base, **info})
        elif kind == "notice":
            if self.notify is not None:
                record = carried.stored.record if carried else None
                self.notify({"event": info["event"], "dag_id": key.dag_id, "run_id": key.run_id,
                             "task_id": tk.task_id if tk else None, "try_number": info.get("try_number"),
                             "logical_date": record.logical_date if record else None,
                             "error": info.get("error"), "log": info.get("log")})
        elif kind == "callback" and carried is not None and carried.spec is not None:
            spec = carried.spec
            n = int(info.get("try_number") or 0)
            job_key = CallbackKey(key.dag_id, key.run_id, tk.task_id if tk else None,
                                  tk.map_index if tk else -1, n, info["name"])
            if tk is not None:
                payload = self._payload(carried, tk, n, None)
            else:
                payload = self._payload(carried, TaskKey(spec.order[0] if spec.order else ""), 0, None)
                payload["task_id"] = None
                payload["log_path"] = str(self.store.paths.dag_callback_log(key.dag_id, key.run_id))
            payload.update(callback=info["name"], error=info.get("error"), reason=info.get("reason"))
            self.executor.submit(Job(job_key, spec.fileloc, spec.fingerprint, payload))
            self.submitted[job_key] = key

    # -- waking ----------------------------------------------------------------------------

    def _next_wake(self, now: datetime, mono: float, busy: bool) -> float:
        waits = [self.max_sleep]
        if self.timers:
            waits.append((self.timers[0][0] - now).total_seconds())
        if self.starts:
            oldest = min(m for _, m in self.starts.values())
            waits.append(START_DEFER - (mono - oldest))
        if self.terminating:
            waits.append(min(TERM_GRACE - (mono - t) for t in self.terminating.values()))
        if self.killing or self.leftovers:
            waits.append(GONE_POLL)
        if self.stalled is not None:
            waits.append(self._stall_retry - mono)
        if self.stalled is None and (self._refeed or self._wake_now or any(not p.empty() for p in self.pending.values())
                                     or any(c.dirty for c in self.carried.values())):
            waits.append(0.0)  # decided, not yet committed; or committed, and something to decide again
        self._wake_now = False
        if self.waiting_on_others:
            waits.append(SLOTS_POLL)
        has_timer = bool(self.timers) or bool(self.starts) or bool(self.terminating) or self.waiting_on_others
        self.idle_ticks = 0 if (busy or has_timer or self.killing or self.leftovers) else self.idle_ticks + 1
        return max(0.0, min(waits))

    # -- stopping ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Start nothing new; running tries finish."""
        self.stopping = True

    def interrupt_all(self) -> None:
        """Kill every running try; each will run again later (not a failure)."""
        for key in list(self.submitted):
            if isinstance(key, TryKey):
                self.interrupted.add(key)
            self.executor.kill(key, hard=True)

    def running_tries(self) -> list[TryKey]:
        return sorted(k for k in self.submitted if isinstance(k, TryKey))

    def busy(self) -> bool:
        """Work is under way that must end before this loop may stop."""
        return bool(self.submitted or self.killing or self.leftovers or self.starts or self._refeed
                    or any(not p.empty() for p in self.pending.values()))

    def unfinished(self) -> list[RunKey]:
        """Runs in scope that have not finished (carried, foreign, or damaged)."""
        out = []
        for key, carried in self.carried.items():
            if carried.stored.record.state not in RUN_FINISHED:
                out.append(key)
        return sorted(out + list(self.foreign) + list(self.damaged))

    def _log(self, key: TryKey, message: str) -> None:
        """A line from flowctl itself in the try's log."""
        path = self.store.log_path(key.dag_id, key.run_id, key.task_id, key.try_number, key.map_index)
        try:
            from flowctl.store import private_dir

            private_dir(path.parent)
            stamp = datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
            with open(path, "a") as f:
                f.write(f"[{stamp}] flowctl: {message}\n")
        except OSError:
            pass


# -- helpers -------------------------------------------------------------------------------


def _when(at: float | None, now: datetime, clock: Clock) -> str:
    """When an executor says a process started or ended (real time), or `now`
    under a fake clock (tests)."""
    if at is not None and type(clock).__name__ == "SystemClock":
        return datetime.fromtimestamp(at, UTC).isoformat()
    return now.isoformat()


def _same_doc_owner(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if not a and not b:
        return True
    return same_owner(a, b)


def previous_run(store: Store, dag_id: str, logical_date: str | None, state: str | None = None) -> StoredRun | None:
    """The latest run of the DAG before `logical_date` (in `state` if given);
    a damaged old run is no previous run (doctor names it)."""
    if logical_date is None:
        return None
    candidates = []
    for run_id in store.run_ids(dag_id):
        parsed = parse_run_id(run_id)
        if parsed is not None and parsed[1] < logical_date:
            candidates.append((parsed[1], run_id))
    for _, run_id in sorted(candidates, reverse=True):
        try:
            stored = store.read_run(dag_id, run_id)
        except StoreCorrupt:
            continue
        if stored is None:
            continue
        if state is None or stored.record.state == state:
            return stored
    return None


__all__ = ["Loop", "previous_run"]
