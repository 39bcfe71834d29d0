"""The scheduler loop: read the store, decide, commit, submit, sleep until
something can happen. The one place that applies `decisions.py`.

One loop serves three commands: `flowctl run` (one run it owns),
`flowctl backfill` (the runs it creates) and `flowctl scheduler` (every
active run whose owner is gone, plus the scheduled runs it creates). Each
tick is one locked, atomic commit; a try is submitted only after the commit
that queued it, so nothing runs that the store does not know about.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flowctl.clock import Clock, SystemClock
from flowctl.engine.decisions import (
    Queue,
    RunKey,
    RunView,
    SetRunState,
    SetState,
    decide,
    descendants,
    next_wakeup,
    outcome_of_try,
    timed_out,
)
from flowctl.errors import StoreCorrupt
from flowctl.executors.base import Event, Finished, Started
from flowctl.specs import DagSpec
from flowctl.states import ACTIVE, RUN_FINISHED, TaskState
from flowctl.store import Store, owner_alive, owner_identity, process_start_time

KEY_SEP = "\x1f"
CALLBACK_PREFIX = "cb"
TERM_GRACE = 5.0  #: seconds between SIGTERM and SIGKILL for a timed-out try
MAX_SLEEP = 0.5  #: the longest nap, so commands (clear, mark, trigger) are seen quickly
START_DEFER = 0.05  #: a try's "running" waits this long for its result, so a short task costs one commit


def try_key(dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    return KEY_SEP.join((dag_id, run_id, task_id, str(try_number)))


def is_callback(key: str) -> bool:
    """A callback job's key, not a task try's."""
    return key.startswith(CALLBACK_PREFIX + KEY_SEP)


def parse_key(key: str) -> tuple[str, str, str, int]:
    dag_id, run_id, task_id, n = key.split(KEY_SEP)
    return dag_id, run_id, task_id, int(n)


@dataclass
class _Pending:
    """Field updates for one run, each guarded by the state the decision saw."""

    tis: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    run_expected: str | None = None
    xcom: dict[str, dict[str, Any]] = field(default_factory=dict)
    owner: dict[str, Any] | None = None  #: the run's owner when we read it; the commit checks it


class Loop:
    """Carries runs out. `keys` None means scheduler mode: every active run
    that has no live owner besides this process."""

    def __init__(
        self,
        *,
        store: Store,
        executor: Any,
        specs: Callable[[], dict[str, DagSpec]],
        workers: int,
        clock: Clock | None = None,
        keys: set[RunKey] | None = None,
        owner: dict[str, Any] | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        notifier: Callable[[dict[str, Any]], None] | None = None,
        max_sleep: float = MAX_SLEEP,
    ) -> None:
        self.store = store
        self.executor = executor
        self.specs = specs
        self.workers = workers
        self.clock = clock or SystemClock()
        self.keys = keys
        self.owner = owner or owner_identity()
        self.on_event = on_event or (lambda kind, info: None)
        self.stopping = False
        self.submitted: dict[str, RunKey] = {}  # try key -> run
        self._timeouts: dict[str, float] = {}  # try key -> monotonic time of SIGTERM
        self._prev_success: dict[RunKey, dict[str, Any] | None] = {}
        self.views: dict[RunKey, RunView] = {}
        self._last_heartbeat = 0.0
        self._interrupted: set[str] = set()
        self._starts: dict[str, tuple[Started, datetime, float]] = {}  # not yet committed
        self._seen_seq = -1  # the store's commit counter after our last look
        self.idle_ticks = 0  # ticks in a row with nothing to do and no timer pending
        self.damaged: set[RunKey] = set()  # run files that do not parse, reported once
        self.foreign: set[RunKey] = set()  # runs in scope that another live process owns
        self._leftovers: list[tuple[RunKey, dict[str, Any]]] = []  # tries to kill once adoption commits
        self.notifier = notifier
        self.max_sleep = max_sleep
        self.real_time = isinstance(self.clock, SystemClock)  # executor times are wall-clock times
        self.callbacks: set[str] = set()  # callback jobs still running
        self._followups: list[tuple[str, RunKey, str | None, int, dict[str, Any]]] = []

    def interrupt(self, key: str) -> None:
        """Kill a try because we are stopping; it will run again (not a failure)."""
        self._interrupted.add(key)
        self.executor.kill(key, hard=True)

    # -- one tick ------------------------------------------------------------

    def in_scope(self) -> list[RunKey]:
        if self.keys is not None:
            return sorted(self.keys)
        return self.store.active_runs()

    def read_views(self) -> dict[RunKey, RunView]:
        views: dict[RunKey, RunView] = {}
        for key in self.in_scope():
            try:
                data = self.store.read_run(*key)
            except StoreCorrupt as exc:  # one damaged run must not stop the others
                if key not in self.damaged:
                    self.damaged.add(key)
                    self.on_event("store_error", {"dag_id": key[0], "run_id": key[1], "error": str(exc)})
                continue
            if data is None:
                continue
            run = data.run
            if not self._may_carry(run):  # a live process owns it: leave it alone
                self.foreign.add(key)
                continue
            self.foreign.discard(key)
            tis = {tid: dict(doc) for tid, doc in data.task_instances.items()}
            views[key] = RunView(key[0], key[1], dict(run), tis, tuple(tis))
        return views

    def _may_carry(self, run: dict[str, Any]) -> bool:
        owner = run.get("owner")
        if not owner or _same_owner(owner, self.owner):
            return True
        return not owner_alive(owner)

    def step(self, events: list[Event]) -> float:
        """Record `events`, decide, commit, submit. Returns seconds to sleep."""
        now = self.clock.now()
        fresh = set()
        for e in events:  # a try's "running" waits (START_DEFER) to ride with its result
            if isinstance(e, Started) and not is_callback(e.key):
                self._starts[e.key] = (e, now, time.monotonic())
                fresh.add(e.key)
        if events and all(isinstance(e, Started) for e in events) and not self._timeouts \
                and self.store.seq() == self._seen_seq:
            # only "started" news and nothing else changed: note it, decide nothing yet
            for key in fresh:
                dag_id, run_id, task_id, n = parse_key(key)
                self.on_event("task_started", {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "try_number": n})
            oldest = min(t for _, _, t in self._starts.values()) if self._starts else time.monotonic()
            if time.monotonic() - oldest < START_DEFER:
                return max(0.0, START_DEFER - (time.monotonic() - oldest))
            events, fresh = [], set()
        specs = self.specs()
        views = self.read_views()
        pending: dict[RunKey, _Pending] = {}
        replay = [e for e, _, _ in self._starts.values()]
        for event in replay + [e for e in events if not (isinstance(e, Started) and e.key in self._starts)]:
            at = self._starts[event.key][1] if event.key in self._starts else now
            if getattr(event, "at", None) is not None and self.real_time:
                at = datetime.fromtimestamp(event.at, UTC)  # when it really happened, not this tick
            self._record(event, views, specs, at, pending, announce=not isinstance(event, Started) or event.key in fresh)
        self._adopt(views, pending)
        self._kill_stale_and_late(views, specs, now)
        prev = self._prev_states(specs, views)
        actions, _waits = decide(specs, views.values(), now, 0 if self.stopping else self.workers,
                                 prev_states=prev, explain=False)
        if self.stopping:
            actions = [a for a in actions if not isinstance(a, Queue)]
        submissions = self._apply(actions, views, specs, now, pending)
        self._heartbeat(views, pending)
        self._starts.clear()  # recorded in this commit
        accepted, accepted_tis, accepted_runs = self._commit(pending)
        self._seen_seq = self.store.seq()
        leftovers, self._leftovers = self._leftovers, []
        for key, ti in leftovers:
            if key in accepted_runs:  # the run is ours now: a try of the dead owner's must not run on
                _kill_leftover(ti)
        # callbacks and notices only for what the store took (a refused change never happened)
        self._followups = [f for f in self._followups if _took_effect(f, accepted_tis, accepted_runs)]
        for key, fileloc, version, payload in submissions:
            if (payload["dag_id"], payload["run_id"]) in accepted.get(payload["task_id"], set()):
                self.executor.submit(key, fileloc, payload, version)
                self.submitted[key] = (payload["dag_id"], payload["run_id"])
        self.views = views
        self._dispatch_followups(views, specs)
        for key, ch in pending.items():
            if ch.run.get("state") in RUN_FINISHED and key in accepted_runs:
                self.on_event("run_finished", {"dag_id": key[0], "run_id": key[1], "state": ch.run["state"]})
        wake = next_wakeup(specs, views.values(), now)
        busy = bool(actions or submissions or any(ch.tis or set(ch.run) - {"heartbeat"} for ch in pending.values()))
        self.idle_ticks = 0 if busy or wake is not None else self.idle_ticks + 1
        sleep = self.max_sleep if wake is None else max(0.0, min(self.max_sleep, (wake - now).total_seconds()))
        if self._timeouts:
            sleep = min(sleep, 0.2)
        return sleep

    # -- events -------------------------------------------------------------

    def _record(self, event: Event, views: dict[RunKey, RunView], specs: dict[str, DagSpec], now: datetime,
                pending: dict[RunKey, _Pending], announce: bool = True) -> None:
        if is_callback(event.key):
            if isinstance(event, Finished):
                self.callbacks.discard(event.key)
            return
        dag_id, run_id, task_id, n = parse_key(event.key)
        if isinstance(event, Finished):  # the try is over, whatever its news is worth
            self.submitted.pop(event.key, None)
            timed_out_try = self._timeouts.pop(event.key, None) is not None
            interrupted_try = event.key in self._interrupted
            self._interrupted.discard(event.key)
        view = views.get((dag_id, run_id))
        if view is None:
            return
        ti = view.tis.get(task_id)
        if ti is None or ti.get("try_number") != n or ti.get("state") not in ACTIVE:
            return  # cleared or marked meanwhile: this try's news is stale
        ch = self._pending(views[view.key] if view.key in views else None, pending, view.key)
        if isinstance(event, Started):
            fields = {"state": TaskState.RUNNING, "pid": event.pid, "pid_started": process_start_time(event.pid),
                      "hostname": event.hostname, "start_date": now.isoformat()}
            self._update_ti(view, ch, task_id, fields)
            if announce:
                self.on_event("task_started", {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "try_number": n})
            return
        assert isinstance(event, Finished)
        spec = specs.get(dag_id)
        task = spec.tasks.get(task_id) if spec else None
        result = dict(event.result or {})
        if interrupted_try:
            self._requeue_interrupted(view, ch, task_id, ti, now,
                                      "interrupted: flowctl was stopped while this try ran; it will run again")
            return
        if timed_out_try:
            limit = task.execution_timeout if task else None
            result = {"state": "failed", "error": f"timed out after {limit:g} s (execution_timeout); the process group was terminated"}
            self._append_log(dag_id, run_id, task_id, n, result["error"])
        elif event.result is None:
            result = {"state": "failed", "error": f"the task process ended without a result ({event.how})"}
            self._append_log(dag_id, run_id, task_id, n, result["error"])
        seed = f"{dag_id}#{task_id}#{view.run.get('logical_date')}"
        fields = outcome_of_try(task, ti, result, now, seed=seed)
        if fields["state"] == TaskState.UP_FOR_RESCHEDULE:  # a sensor between pokes keeps its try
            fields["first_poke_at"] = ti.get("first_poke_at") or result.get("first_poke_at")
            fields["pid"] = None
            self._update_ti(view, ch, task_id, fields)
            return
        started = ti.get("start_date") or ti.get("queued_at")
        duration = (now - datetime.fromisoformat(started)).total_seconds() if started else None
        fields.update(duration=duration, exit_code=event.exit_code, error=result.get("error"))
        if fields["state"] == TaskState.SUCCESS:
            fields["success_fingerprint"] = ti.get("fingerprint")
            ch.xcom[task_id] = result.get("xcom") or {}
        history = list(ti.get("tries") or [])
        history.append({
            "try_number": n, "state": fields["state"], "start_date": ti.get("start_date"),
            "end_date": fields["end_date"], "duration": duration, "exit_code": event.exit_code,
            "error": result.get("error"), "fingerprint": ti.get("fingerprint"),
        })
        fields["tries"] = history
        self._update_ti(view, ch, task_id, fields)
        if fields["state"] == TaskState.SUCCESS and result.get("skip_downstream") and spec is not None:
            skip = set(result["skip_downstream"])
            if result.get("skip_all_below"):
                skip |= descendants(spec, skip)
            for down in sorted(skip):
                if view.state_of(down) in (TaskState.NONE, TaskState.SCHEDULED):
                    self._update_ti(view, ch, down, {"state": TaskState.SKIPPED, "end_date": now.isoformat(), "skipped_by": task_id})
        self.on_event("task_finished", {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "try_number": n, **fields})
        state = fields["state"]
        if task is not None and task.has_callbacks:
            name = {"success": "on_success_callback", "up_for_retry": "on_retry_callback",
                    "failed": "on_failure_callback"}.get(state)
            if name:
                self._followups.append((name, view.key, task_id, n, {"error": result.get("error")}))
        if state == TaskState.FAILED and self.notifier is not None:
            self._followups.append(("notify", view.key, task_id, n, {
                "event": "task_failed", "error": result.get("error"),
                "log": str(self.store.log_path(dag_id, run_id, task_id, n))}))

    def _append_log(self, dag_id: str, run_id: str, task_id: str, n: int, message: str) -> None:
        path = self.store.log_path(dag_id, run_id, task_id, n)
        try:
            from flowctl.store import private_dir

            private_dir(path.parent)
            with open(path, "a") as f:
                f.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] flowctl: {message}\n")
        except OSError:
            pass

    @staticmethod
    def _pending(view: RunView | None, pending: dict[RunKey, _Pending], key: RunKey) -> _Pending:
        if key not in pending:
            pending[key] = _Pending(owner=view.run.get("owner") if view is not None else None)
        return pending[key]

    def _update_ti(self, view: RunView, ch: _Pending, task_id: str, fields: dict[str, Any]) -> None:
        ti = view.tis.setdefault(task_id, {"task_id": task_id, "state": TaskState.NONE, "try_number": 0})
        if task_id not in ch.tis:
            ch.tis[task_id] = (ti.get("state", TaskState.NONE), ti.get("try_number", 0), {})
        ch.tis[task_id][2].update(fields)
        ti.update(fields)

    # -- adoption, stale tries, timeouts ------------------------------------------

    def _adopt(self, views: dict[RunKey, RunView], pending: dict[RunKey, _Pending]) -> None:
        """Take runs with no live owner; their queued or running tries died with
        it, so they go back to be run again (the try number goes on)."""
        for key, view in views.items():
            owner = view.run.get("owner")
            if owner and _same_owner(owner, self.owner):
                continue
            ch = self._pending(views[key] if key in views else None, pending, key)
            ch.run["owner"] = self.owner  # guarded by the owner we read (see _commit), nothing else
            view.run["owner"] = self.owner
            for tid, ti in list(view.tis.items()):
                if ti.get("state") in ACTIVE:
                    self._leftovers.append((key, dict(ti)))
                    self._requeue_interrupted(view, ch, tid, ti, None,
                                              "interrupted: the process that ran this try is gone; it will run again")

    def _requeue_interrupted(self, view: RunView, ch: _Pending, task_id: str, ti: dict[str, Any],
                             ended: datetime | None, why: str) -> None:
        """An interrupted try is not a failure: it goes in the history, its log
        says why, and the task instance goes back to run again (the try count goes on)."""
        n = ti.get("try_number", 0)
        self._append_log(view.dag_id, view.run_id, task_id, n, why)
        history = [*(ti.get("tries") or []), {"try_number": n, "state": "interrupted", "start_date": ti.get("start_date"),
                                              "end_date": ended.isoformat() if ended else None, "error": why}]
        self._update_ti(view, ch, task_id, {"state": TaskState.NONE, "tries": history, "error": why})

    def _kill_stale_and_late(self, views: dict[RunKey, RunView], specs: dict[str, DagSpec], now: datetime) -> None:
        for key, run_key in list(self.submitted.items()):
            dag_id, run_id, task_id, n = parse_key(key)
            view = views.get(run_key)
            ti = view.tis.get(task_id) if view else None
            if ti is None or ti.get("try_number") != n or ti.get("state") not in ACTIVE:
                self.executor.kill(key, hard=True)  # cleared or marked while it ran
                continue
            spec = specs.get(dag_id)
            task = spec.tasks.get(task_id) if spec else None
            if key in self._timeouts:
                if time.monotonic() - self._timeouts[key] > TERM_GRACE:
                    self.executor.kill(key, hard=True)
            elif timed_out(task, ti, now):
                self._timeouts[key] = time.monotonic()
                self._append_log(dag_id, run_id, task_id, n, f"execution_timeout of {task.execution_timeout:g} s reached: terminating the process group")
                self.executor.kill(key)

    def _heartbeat(self, views: dict[RunKey, RunView], pending: dict[RunKey, _Pending]) -> None:
        if time.monotonic() - self._last_heartbeat < 10.0:
            return
        self._last_heartbeat = time.monotonic()
        stamp = self.clock.now().isoformat()
        for key, view in views.items():
            if view.run.get("state") not in RUN_FINISHED:
                ch = self._pending(views[key] if key in views else None, pending, key)
                ch.run["heartbeat"] = stamp
                ch.run_expected = ch.run_expected or view.run.get("state")

    # -- decisions -> changes ---------------------------------------------------

    def _apply(self, actions: list[Any], views: dict[RunKey, RunView], specs: dict[str, DagSpec], now: datetime, pending: dict[RunKey, _Pending]) -> list[tuple[str, str, str, dict[str, Any]]]:
        submissions = []
        for action in actions:
            view = views[action.key]
            ch = self._pending(views[action.key] if action.key in views else None, pending, action.key)
            if isinstance(action, SetState):
                self._update_ti(view, ch, action.task_id, {"state": action.to, "end_date": now.isoformat(), "reason": action.reason})
            elif isinstance(action, Queue):
                if any(k.startswith(KEY_SEP.join((view.dag_id, view.run_id, action.task_id, ""))) for k in self.submitted):
                    continue  # an older try (cleared or marked meanwhile) has not ended yet
                spec = specs[view.dag_id]
                ti = view.tis[action.task_id]
                poke_again = action.expected == TaskState.UP_FOR_RESCHEDULE
                n = int(ti.get("try_number", 0)) + (0 if poke_again and ti.get("try_number") else 1)
                fields = {
                    "state": TaskState.QUEUED, "try_number": n, "queued_at": now.isoformat(),
                    "start_date": None, "end_date": None, "duration": None, "exit_code": None,
                    "pid": None, "error": None, "next_retry_at": None,
                    "fingerprint": spec.tasks[action.task_id].fingerprint,
                    "next_poke_at": None,
                }
                if not poke_again:
                    fields["first_poke_at"] = None
                self._update_ti(view, ch, action.task_id, fields)
                key = try_key(view.dag_id, view.run_id, action.task_id, n)
                submissions.append((key, spec.fileloc, spec.fingerprint, self._payload(spec, view, action.task_id, n)))
            elif isinstance(action, SetRunState):
                if ch.run_expected is None:
                    ch.run_expected = view.run.get("state")
                ch.run["state"] = action.to
                if action.to == "running" and not view.run.get("start_date"):
                    ch.run["start_date"] = now.isoformat()
                if action.to in RUN_FINISHED:
                    ch.run["end_date"] = now.isoformat()
                    spec = specs.get(view.dag_id)
                    if spec is not None and spec.has_dag_callbacks:
                        name = "on_success_callback" if action.to == "success" else "on_failure_callback"
                        self._followups.append((name, action.key, None, 0, {"reason": f"run {action.to}"}))
                    if action.to == "failed" and self.notifier is not None:
                        failed = sorted(t for t, ti in view.tis.items() if ti.get("state") == TaskState.FAILED)
                        self._followups.append(("notify", action.key, None, 0, {
                            "event": "run_failed",
                            "error": f"failed task(s): {', '.join(failed)}" if failed else "upstream failures"}))
                else:
                    ch.run["end_date"] = None
                view.run.update(ch.run)
        return submissions

    def _prev_states(self, specs: dict[str, DagSpec], views: dict[RunKey, RunView]) -> dict[RunKey, dict[str, str]]:
        from flowctl.service import previous_states

        out = {}
        for key, view in views.items():
            spec = specs.get(view.dag_id)
            if spec is not None:
                states = previous_states(self.store, spec, view.run)
                if states is not None:
                    out[key] = states
        return out

    def _payload(self, spec: DagSpec, view: RunView, task_id: str, n: int) -> dict[str, Any]:
        run = view.run
        return {
            "dag_id": view.dag_id, "run_id": view.run_id, "task_id": task_id, "try_number": n,
            "fileloc": spec.fileloc, "home": str(self.store.home), "timezone": spec.timezone,
            "log_path": str(self.store.log_path(view.dag_id, view.run_id, task_id, n)),
            "run": {k: run.get(k) for k in ("run_id", "run_type", "logical_date", "data_interval_start", "data_interval_end", "conf")},
            "prev_success": self._previous_success(view),
            "first_poke_at": view.tis.get(task_id, {}).get("first_poke_at"),
        }

    def _previous_success(self, view: RunView) -> dict[str, Any] | None:
        if view.key not in self._prev_success:
            from flowctl.service import previous_run

            prev = previous_run(self.store, view.dag_id, view.run.get("logical_date"), state="success")
            self._prev_success[view.key] = (
                {"data_interval_start": prev.get("data_interval_start"), "data_interval_end": prev.get("data_interval_end")}
                if prev else None
            )
        return self._prev_success[view.key]

    def _dispatch_followups(self, views: dict[RunKey, RunView], specs: dict[str, DagSpec]) -> None:
        """Callbacks and notices for what this tick committed, each exactly once."""
        followups, self._followups = self._followups, []
        for name, run_key, task_id, n, extra in followups:
            view = views.get(run_key)
            spec = specs.get(run_key[0])
            if view is None:
                continue
            if name == "notify":
                self.notifier({
                    "event": extra["event"], "dag_id": run_key[0], "run_id": run_key[1], "task_id": task_id,
                    "try_number": n or None, "logical_date": view.run.get("logical_date"),
                    "error": extra.get("error"), "log": extra.get("log"),
                })
                continue
            if spec is None:
                continue
            key = KEY_SEP.join((CALLBACK_PREFIX, run_key[0], run_key[1], task_id or "", str(n), name))
            if task_id is not None:
                log = self.store.log_path(run_key[0], run_key[1], task_id, n)
                payload = self._payload(spec, view, task_id, n)
            else:
                log = self.store.home / "logs" / run_key[0] / run_key[1] / "dag_callbacks.log"
                payload = self._payload(spec, view, spec.order[0] if spec.order else "", 0)
                payload["task_id"] = None
            payload.update(callback=name, log_path=str(log), error=extra.get("error"), reason=extra.get("reason"))
            self.executor.submit(key, spec.fileloc, payload, spec.fingerprint)
            self.callbacks.add(key)

    # -- commit -------------------------------------------------------------

    def _commit(self, pending: dict[RunKey, _Pending]) -> tuple[dict[str, set[RunKey]], set[tuple[RunKey, str]], set[RunKey]]:
        """Write the changes; a change whose guard fails (the user cleared or
        marked the task since we read it) is dropped. Returns the queued tries
        that went in (by task id), every task-instance change that went in, and
        the runs whose run-level change went in."""
        accepted: dict[str, set[RunKey]] = {}
        accepted_tis: set[tuple[RunKey, str]] = set()
        accepted_runs: set[RunKey] = set()
        if not any(ch.tis or ch.run or ch.xcom for ch in pending.values()):
            return accepted, accepted_tis, accepted_runs
        with self.store.transaction() as tx:
            for key, ch in pending.items():
                rf = tx.run(*key)
                if rf is None or rf.run.get("owner") != ch.owner:
                    continue  # gone, or another process took it since we read it
                for tid, (state, n, fields) in ch.tis.items():
                    cur = rf.ti(tid) or {"state": TaskState.NONE, "try_number": 0}
                    if cur.get("state", TaskState.NONE) != state or cur.get("try_number", 0) != n:
                        continue
                    rf.put_ti(tid, **fields)
                    accepted_tis.add((key, tid))
                    if fields.get("state") == TaskState.QUEUED:
                        accepted.setdefault(tid, set()).add(key)
                    if tid in ch.xcom:
                        rf.clear_xcom(tid)
                        for xkey, value in ch.xcom[tid].items():
                            rf.set_xcom(tid, xkey, value)
                if ch.run:
                    if ch.run_expected is None or rf.run.get("state") == ch.run_expected:
                        rf.update_run(**ch.run)
                        accepted_runs.add(key)
        return accepted, accepted_tis, accepted_runs

    # -- driving it -----------------------------------------------------------

    def finished(self) -> bool:
        if self.keys is None or self.submitted or self.callbacks:
            return False
        for key in self.keys:
            data = self.store.read_run(*key)
            if data is not None and data.run.get("state") not in RUN_FINISHED:
                return False
        return True

    def run_until_done(self, on_tick: Callable[[], None] | None = None) -> None:
        """Carry out `keys` until every run has finished. Ctrl-C once: start
        nothing new and let running tries finish; twice: kill them."""
        events: list[Event] = []
        with self.stop_on_signals():
            while True:
                sleep = self.step(events)
                if on_tick:
                    on_tick()
                if self.finished() or (self.stopping and not self.submitted and not self.callbacks):
                    break
                events = self.executor.poll(sleep)

    def on_stop_signal(self, signum: int, frame: Any) -> None:
        """Ctrl-C or SIGTERM once: start nothing new, let running tries finish;
        twice: interrupt them (they run again later)."""
        if self.stopping:
            for key in list(self.submitted):
                self.interrupt(key)
        self.stopping = True

    @contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        old = {s: signal.signal(s, self.on_stop_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)


def _took_effect(followup: tuple[Any, ...], tis: set[tuple[RunKey, str]], runs: set[RunKey]) -> bool:
    """A task's callback or notice needs its task-instance change committed;
    a run's needs the run's change committed."""
    _, run_key, task_id, _, _ = followup
    return (run_key, task_id) in tis if task_id is not None else run_key in runs


def _kill_leftover(ti: dict[str, Any]) -> None:
    """A try of a dead owner that still runs (its fork server was killed with
    it) is stopped before the try runs again; the recorded start time makes
    sure a reused pid is never hit."""
    pid, started = ti.get("pid"), ti.get("pid_started")
    if not pid or started is None or process_start_time(pid) != started:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _same_owner(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("pid") == b.get("pid") and a.get("started") == b.get("started") and a.get("hostname") == b.get("hostname")
