"""What the CLI and the TUI do to the state: load DAGs, create runs, list
runs, task instances and XCom. Front ends parse and render; this decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flowctl.config import Settings
from flowctl.errors import NotFound, UsageError
from flowctl.loader import DagBag, Loader
from flowctl.specs import DagSpec
from flowctl.states import TaskState
from flowctl.store import Store


@dataclass
class Service:
    settings: Settings
    store: Store
    _bag: DagBag | None = None
    warnings: list[str] = field(default_factory=list)
    _loader: Loader | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Service:
        return cls(settings=settings, store=Store(settings.home))

    # -- DAGs ---------------------------------------------------------------

    @property
    def loader(self) -> Loader:
        if self._loader is None:
            self._loader = Loader(
                self.settings.dags_folder,
                self.settings.home / "cache" / "dagbag.json",
                self.settings.default_timezone,
                self.settings.dag_file_timeout,
            )
            from flowctl.store import private_dir

            private_dir(self.settings.home / "cache")
        return self._loader

    def dagbag(self, reload: bool = False) -> DagBag:
        if self._bag is None or reload:
            self._bag = self.loader.load()
        return self._bag

    def dag(self, dag_id: str) -> DagSpec:
        bag = self.dagbag()
        spec = bag.dags.get(dag_id)
        if spec is None:
            broken = [e for e in bag.errors if Path(e.fileloc).stem == dag_id]
            hint = f"; {broken[0].fileloc} failed to import: {broken[0].error}" if broken else ""
            known = ", ".join(sorted(bag.dags)) or "none"
            raise NotFound(f"no DAG named {dag_id!r} in {self.settings.dags_folder} (DAGs: {known}){hint}")
        return spec

    # -- dates and conf -------------------------------------------------------

    @staticmethod
    def parse_date(text: str, tz: str) -> datetime:
        """`2026-01-01`, `2026-01-01T06:00` or with an offset; without an offset
        in the DAG's zone (contract section 3)."""
        import pendulum

        from flowctl.clock import zone

        try:
            value = pendulum.parse(text, tz=zone(tz), strict=False)
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            value = None
        if not isinstance(value, pendulum.DateTime):
            if isinstance(value, pendulum.Date):
                return pendulum.datetime(value.year, value.month, value.day, tz=zone(tz))
            raise UsageError(f"not a date: {text!r} (use 2026-01-01, 2026-01-01T06:00 or with an offset)")
        return value

    @staticmethod
    def parse_conf(text: str | None) -> dict[str, Any]:
        if text is None:
            return {}
        try:
            conf = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--conf is not valid JSON: {exc}") from None
        if not isinstance(conf, dict):
            raise UsageError("--conf must be a JSON object, like '{\"limit\": 10}'")
        return conf

    # -- runs -----------------------------------------------------------------

    def manual_interval(self, spec: DagSpec, logical_date: datetime | None, now: datetime) -> tuple[datetime, datetime, datetime]:
        """(logical date, interval start, interval end) of a manual run: the
        schedule's interval holding the logical date (now when not given)."""
        import pendulum

        from flowctl.clock import zone

        when = pendulum.instance(logical_date or now).in_timezone(zone(spec.timezone))
        try:
            interval = spec.timetable().interval_for(when)
            return when, interval.start, interval.end
        except (ValueError, AttributeError):
            return when, when, when

    def create_run(
        self,
        spec: DagSpec,
        *,
        run_type: str,
        logical_date: datetime,
        interval: tuple[datetime, datetime],
        conf: dict[str, Any] | None = None,
        owner: dict[str, Any] | None = None,
        now: datetime,
    ) -> str:
        """Create a run with every task of the current DAG version in state none."""
        with self.store.transaction() as tx:
            return new_run(tx, spec, run_type=run_type, logical_date=logical_date,
                           interval=interval, conf=conf, owner=owner, now=now)

    def resolve_run(self, dag_id: str, run: str, tz: str) -> str:
        """A run id, or a logical date that names exactly one run."""
        ids = self.store.run_ids(dag_id)
        if run in ids:
            return run
        try:
            when = self.parse_date(run, tz)
        except UsageError:
            raise NotFound(f"{dag_id} has no run {run!r} (see `flowctl runs list --dag {dag_id}`)") from None
        from flowctl.clock import iso

        stamp = iso(when)
        matches = [r for r in ids if r.split("__", 1)[-1] == stamp]
        if not matches:
            raise NotFound(f"{dag_id} has no run with logical date {stamp}")
        if len(matches) > 1:
            raise UsageError(f"several runs of {dag_id} have logical date {stamp}: {', '.join(matches)}; give a run id")
        return matches[0]

    def run_doc(self, dag_id: str, run_id: str) -> dict[str, Any]:
        data = self.store.read_run(dag_id, run_id)
        if data is None:
            raise NotFound(f"{dag_id} has no run {run_id!r}")
        return data.run

    def list_runs(self, dag_id: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest logical date first."""
        dag_ids = [dag_id] if dag_id else self.store.dag_ids_with_runs()
        from flowctl.errors import StoreCorrupt

        runs = []
        self.warnings = []
        for d in dag_ids:
            for run_id in self.store.run_ids(d):
                try:
                    data = self.store.read_run(d, run_id)
                except StoreCorrupt as exc:
                    self.warnings.append(str(exc))
                    continue
                if data is None:
                    continue
                if state and data.run.get("state") != state:
                    continue
                runs.append(data.run)
        runs.sort(key=lambda r: (r.get("logical_date") or "", r.get("run_id")), reverse=True)
        return runs

    def task_states(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances in the order of the DAG version it ran under,
        including tasks since removed from the file."""
        data = self.store.read_run(dag_id, run_id)
        if data is None:
            raise NotFound(f"{dag_id} has no run {run_id!r}")
        order = data.dag_version.get("order") or list(data.task_instances)
        tis = data.task_instances
        return [tis[t] for t in order if t in tis] + [tis[t] for t in tis if t not in order]

    def xcoms(self, dag_id: str, run_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
        data = self.store.read_run(dag_id, run_id)
        if data is None:
            raise NotFound(f"{dag_id} has no run {run_id!r}")
        return [x for x in data.xcoms if task_id is None or x["task_id"] == task_id]

    def log_path(self, dag_id: str, run_id: str, task_id: str, try_number: int | None) -> Path:
        tis = {t["task_id"]: t for t in self.task_states(dag_id, run_id)}
        ti = tis.get(task_id)
        if ti is None:
            raise NotFound(f"run {run_id} of {dag_id} has no task {task_id!r}")
        latest = int(ti.get("try_number") or 0)
        n = try_number or latest
        if n < 1:
            raise NotFound(f"{dag_id}.{task_id} has not run yet in {run_id} (state {ti.get('state')})")
        if n > latest:
            raise NotFound(f"{dag_id}.{task_id} in {run_id} has {latest} tr{'y' if latest == 1 else 'ies'}, not {n}")
        return self.store.log_path(dag_id, run_id, task_id, n)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.dag(dag_id)
        with self.store.transaction() as tx:
            tx.set_dag_flags(dag_id, paused=paused)
        self.store.wake_scheduler()

    # -- clear and mark ---------------------------------------------------------

    def select_runs(self, dag_id: str, run_id: str | None = None, start: datetime | None = None,
                    end: datetime | None = None) -> list[str]:
        """Run ids of the DAG: one run, the runs whose logical date is in [start, end], or all."""
        from flowctl.clock import iso

        ids = self.store.run_ids(dag_id)
        if run_id is not None:
            return [self.resolve_run(dag_id, run_id, self._tz(dag_id))]
        lo = iso(start) if start else None
        hi = iso(end) if end else None
        out = []
        for rid in ids:
            stamp = rid.split("__", 1)[-1]
            if (lo is None or stamp >= lo) and (hi is None or stamp <= hi):
                out.append(rid)
        return sorted(out, key=lambda r: r.split("__", 1)[-1])

    def _tz(self, dag_id: str) -> str:
        spec = self.dagbag().dags.get(dag_id)
        return spec.timezone if spec else self.settings.default_timezone

    def plan_clear(self, dag_id: str, *, run_id: str | None = None, start: datetime | None = None,
                   end: datetime | None = None, task_regex: str | None = None, upstream: bool = False,
                   downstream: bool = False, only_failed: bool = False, changed: bool = False) -> list[dict[str, Any]]:
        """The task instances a clear would reset, each with why it is in the set."""
        from flowctl.clearing import plan_clear

        spec = self.dagbag().dags.get(dag_id)
        if spec is None and not self.store.run_ids(dag_id):
            self.dag(dag_id)  # raises NotFound
        runs = self.select_runs(dag_id, run_id, start, end)
        return plan_clear(self.store, spec, dag_id, runs, task_regex=task_regex, upstream=upstream,
                          downstream=downstream, only_failed=only_failed, changed=changed)

    def clear(self, plan: list[dict[str, Any]]) -> int:
        """Reset the planned task instances (their try count goes on) and put
        their runs back to queued, on the current DAG version."""
        from flowctl.clearing import apply_clear

        if not plan:
            return 0
        dag_id = plan[0]["dag_id"]
        count = apply_clear(self.store, self.dagbag().dags.get(dag_id), plan)
        self.store.wake_scheduler()
        return count

    def mark(self, dag_id: str, run_id: str, task_id: str, state: str, downstream: bool = False) -> list[str]:
        """Set a task instance's state (and its descendants' with `downstream`)."""
        from flowctl.clearing import apply_mark

        if state not in ("success", "failed", "skipped"):
            raise UsageError(f"--state must be success, failed or skipped, not {state!r}")
        rid = self.resolve_run(dag_id, run_id, self._tz(dag_id))
        changed = apply_mark(self.store, self.dagbag().dags.get(dag_id), dag_id, rid, task_id, state, downstream)
        self.store.wake_scheduler()
        return changed

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: datetime | None = None,
                now: datetime | None = None) -> str:
        """Queue a manual run for the scheduler (no owner until one adopts it)."""
        from flowctl.clock import utcnow

        spec = self.dag(dag_id)
        now = now or utcnow()
        logical, start, end = self.manual_interval(spec, logical_date, now)
        run_id = self.create_run(spec, run_type="manual", logical_date=logical, interval=(start, end),
                                 conf=conf, owner=None, now=now)
        self.store.wake_scheduler()
        return run_id

    def next_intervals(self, dag_id: str, after: datetime | None, n: int) -> list[Any]:
        spec = self.dag(dag_id)
        if spec.schedule is None and spec.schedule_seconds is None:
            return []
        return spec.timetable().next_intervals(after=after, n=n)


    def explain(self, dag_id: str, run_id: str, task_id: str | None = None, now: datetime | None = None) -> dict[str, Any]:
        """Why each task instance is in its state or not running yet, from the
        same decision functions the scheduler uses."""
        from flowctl.clock import utcnow
        from flowctl.engine.daemon import is_running
        from flowctl.engine.decisions import RunView, active_counts, decide
        from flowctl.store import owner_alive

        now = now or utcnow()
        data = self.store.read_run(dag_id, run_id)
        if data is None:
            raise NotFound(f"{dag_id} has no run {run_id!r}")
        spec = self.dagbag().dags.get(dag_id)
        run = data.run
        tis = data.task_instances
        if task_id is not None and task_id not in tis:
            raise NotFound(f"run {run_id} of {dag_id} has no task {task_id!r}")
        notes: list[str] = []
        if spec is None:
            notes.append(f"DAG {dag_id} is no longer in the DAG folder: its runs cannot go on")
        if self.store.is_paused(dag_id):
            notes.append(f"{dag_id} is paused: no new scheduled runs (this run still goes on)")
        active = run.get("state") in ("queued", "running")
        owner = run.get("owner")
        if active and not owner_alive(owner) and not is_running(self.settings.home):
            notes.append("no process is carrying this run out: start `flowctl scheduler` "
                         "(or `flowctl scheduler --until-idle`)")
        waits: dict[str, str] = {}
        if spec is not None and active:
            views = []
            for d, r in self.store.active_runs():
                other = self.store.read_run(d, r)
                if other is not None and (d, r) != (dag_id, run_id):
                    views.append(RunView(d, r, other.run, dict(other.task_instances)))
            views.append(RunView(dag_id, run_id, run, dict(tis)))
            before = previous_states(self.store, spec, run)
            prev = {(dag_id, run_id): before} if before is not None else None
            specs = self.dagbag().dags
            _, why = decide({v.dag_id: specs[v.dag_id] for v in views if v.dag_id in specs},
                            views, now, self.settings.workers, prev_states=prev)
            for w in why:
                if w.key == (dag_id, run_id):
                    waits.setdefault(w.task_id, w.reason)
            total, _ = active_counts(views)
            if total >= self.settings.workers:
                notes.append(f"all {self.settings.workers} worker slots are busy")
        rows = []
        for tid, ti in tis.items():
            if task_id is not None and tid != task_id:
                continue
            rows.append({"task_id": tid, "state": ti.get("state", "none"), "try_number": ti.get("try_number", 0),
                         "reason": _reason(ti, waits.get(tid), spec, tid)})
        order = data.dag_version.get("order") or list(tis)
        rows.sort(key=lambda r: order.index(r["task_id"]) if r["task_id"] in order else len(order))
        return {"dag_id": dag_id, "run_id": run_id, "run_state": run.get("state"), "notes": notes, "tasks": rows}


def _reason(ti: dict[str, Any], wait: str | None, spec: DagSpec | None, tid: str) -> str:
    state = ti.get("state", "none")
    n = ti.get("try_number", 0)
    if state == "success":
        return f"succeeded on try {n}"
    if state == "failed":
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
    return wait or "ready: will start on the next scheduler tick"


def fresh_ti(spec: DagSpec, task_id: str) -> dict[str, Any]:
    """A task instance that has not run yet."""
    task = spec.tasks[task_id]
    return {"state": TaskState.NONE, "try_number": 0, "operator": task.operator, "max_tries": task.retries + 1,
            "start_date": None, "end_date": None, "duration": None, "exit_code": None, "pid": None,
            "hostname": None, "tries": []}


def new_run(
    tx: Any,
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
    """Add a run inside a transaction; at most one scheduled or backfill run
    per DAG and logical date (contract section 4). With `exist_ok`, a run that
    another process made meanwhile is not an error: None is returned."""
    from flowctl.clock import iso

    run_id = f"{run_type}__{iso(logical_date)}"
    if run_type in ("scheduled", "backfill"):
        for other in ("scheduled", "backfill"):
            if tx.run(spec.dag_id, f"{other}__{iso(logical_date)}") is not None:
                if exist_ok:
                    return None
                raise UsageError(f"{spec.dag_id} already has a run for {iso(logical_date)}")
    elif tx.run(spec.dag_id, run_id) is not None:
        raise UsageError(f"run {run_id} of {spec.dag_id} already exists; pick another --logical-date")
    rf = tx.run(spec.dag_id, run_id, create=True)
    rf.update_run(
        dag_id=spec.dag_id, run_id=run_id, run_type=run_type, state="queued",
        logical_date=iso(logical_date), data_interval_start=iso(interval[0]),
        data_interval_end=iso(interval[1]), start_date=None, end_date=None,
        conf=conf or {}, owner=owner, heartbeat=now.isoformat(), queued_at=now.isoformat(),
        timezone=spec.timezone,
    )
    for tid in spec.order:
        rf.put_ti(tid, **fresh_ti(spec, tid))
    rf.set_dag_version(spec.version_doc())
    return run_id


def previous_states(store: Store, spec: DagSpec, run: dict[str, Any]) -> dict[str, str] | None:
    """The task states of the run before this one, for depends_on_past
    (None when no task of the DAG depends on the past)."""
    if not any(t.depends_on_past for t in spec.tasks.values()):
        return None
    prev = previous_run(store, spec.dag_id, run.get("logical_date"))
    if prev is None:
        return {}
    data = store.read_run(spec.dag_id, prev["run_id"])  # parsed a moment ago by previous_run
    return {tid: ti.get("state", "none") for tid, ti in (data.task_instances if data else {}).items()}


def previous_run(store: Store, dag_id: str, logical_date: str | None, state: str | None = None) -> dict[str, Any] | None:
    """The latest run of the DAG before `logical_date` (in `state` if given)."""
    if logical_date is None:
        return None
    candidates = []
    for run_id in store.run_ids(dag_id):
        stamp = run_id.split("__", 1)[-1]
        if stamp < logical_date:
            candidates.append((stamp, run_id))
    from flowctl.errors import StoreCorrupt

    for _, run_id in sorted(candidates, reverse=True):
        try:
            data = store.read_run(dag_id, run_id)
        except StoreCorrupt:
            continue  # a damaged old run is no previous run (doctor names it)
        if data is None:
            continue
        if state is None or data.run.get("state") == state:
            return data.run
    return None
