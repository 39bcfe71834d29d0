"""The front door: everything the CLI and the TUI do goes through `Service`.

Front ends parse and render; this decides what a command means (which run a
date names, what a clear resets, why a task waits) and calls the engine and
the store. Nothing below imports this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flowctl.clock import iso, utcnow, zone
from flowctl.config import Settings
from flowctl.errors import FlowctlError, NotFound, StoreCorrupt, UsageError
from flowctl.loader import DagBag, Loader
from flowctl.records import RunKey, logical_stamp
from flowctl.specs import DagSpec
from flowctl.store import Store

#: The years a date may have (in its zone and in UTC): a year inside datetime's
#: calendar on either side, so a data interval up to @yearly can be computed.
MIN_YEAR, MAX_YEAR = 2, 9998
#: Levels of nesting a --conf may have; the store's JSON encoder refuses more than 254.
MAX_CONF_DEPTH = 100

RUN_FIELDS = ("dag_id", "run_id", "run_type", "state", "logical_date", "data_interval_start",
              "data_interval_end", "start_date", "end_date", "conf")


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

    # -- DAGs -------------------------------------------------------------------------

    @property
    def loader(self) -> Loader:
        if self._loader is None:
            from flowctl.store import private_dir

            private_dir(self.settings.home / "cache")
            self._loader = Loader(
                self.settings.dags_folder,
                self.settings.home / "cache" / "dagbag.json",
                self.settings.default_timezone,
                self.settings.dag_file_timeout,
                safe_mode=self.settings.dag_discovery_safe_mode,
                ignore_syntax=self.settings.dag_ignore_file_syntax,
            )
        return self._loader

    def dagbag(self, reload: bool = False) -> DagBag:
        if self._bag is None or reload:
            self._bag = self.loader.load()
        return self._bag

    def dag(self, dag_id: str) -> DagSpec:
        bag = self.dagbag()
        spec = bag.dags.get(dag_id)
        if spec is None:
            broken = [e for e in bag.errors if Path(e.fileloc).stem == dag_id or repr(dag_id) in e.error]
            hint = f"; {broken[0].fileloc} failed to import: {broken[0].error}" if broken else ""
            known = ", ".join(sorted(bag.dags)) or "none"
            raise NotFound(f"no DAG named {dag_id!r} in {self.settings.dags_folder} (DAGs: {known}){hint}")
        return spec

    def dag_tz(self, dag_id: str) -> str:
        """The DAG's zone for reading and showing dates; a DAG gone from the
        folder keeps its runs (and the zone they recorded)."""
        spec = self.dagbag().dags.get(dag_id)
        if spec is not None:
            return spec.timezone
        ids = self.store.run_ids(dag_id)
        if not ids:
            self.dag(dag_id)  # raises NotFound naming it
        for run_id in reversed(ids):
            try:
                stored = self.store.read_run(dag_id, run_id)
            except StoreCorrupt:
                continue
            if stored is not None and stored.record.timezone:
                return stored.record.timezone
        return self.settings.default_timezone

    # -- dates and conf -----------------------------------------------------------------

    @staticmethod
    def parse_date(text: str, tz: str) -> datetime:
        """`2026-01-01`, `2026-01-01T06:00`, `2026-01-01 06:00` (as listings show
        it) or with an offset; without an offset in the DAG's zone (contract section 3).
        A date is refused here, not in a task later, when its data interval and
        the templates' neighbouring days would leave datetime's calendar."""
        import pendulum

        try:
            value = pendulum.parse(text.strip(), tz=zone(tz), strict=False)
        except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
            value = None
        if isinstance(value, pendulum.Date) and not isinstance(value, pendulum.DateTime):
            value = pendulum.datetime(value.year, value.month, value.day, tz=zone(tz))
        if not isinstance(value, pendulum.DateTime):
            raise UsageError(f"not a date: {text!r} (use 2026-01-01, 2026-01-01T06:00 or with an offset)")
        try:
            utc = value.astimezone(zone("UTC"))
        except ValueError:  # pendulum reads '+25:00' as an offset no zone can have
            raise UsageError(f"not a date: {text!r} (an offset must lie between -23:59 and +23:59)") from None
        except OverflowError:  # 0001-01-01 east of Greenwich is in the year 0 in UTC
            utc = None
        if utc is None or not (MIN_YEAR <= value.year <= MAX_YEAR and MIN_YEAR <= utc.year <= MAX_YEAR):
            raise UsageError(f"{text!r} is too near the edge of the calendar to compute its data interval "
                             f"(use a year from {MIN_YEAR:04d} to {MAX_YEAR})")
        return value

    @staticmethod
    def date_note(text: str, value: datetime, tz: str) -> str | None:
        """What to tell about how `text` was read in the zone `tz`, if anything:
        a wall-clock time the zone skips (moved forward) or has twice (the later
        is used), both as pendulum and Airflow read them."""
        from zoneinfo import ZoneInfo

        import pendulum

        try:
            wall = pendulum.parse(text.strip(), tz="UTC", strict=False)
            elsewhere = pendulum.parse(text.strip(), tz="Etc/GMT-5", strict=False)
        except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
            return None
        if not (isinstance(wall, pendulum.DateTime) and isinstance(elsewhere, pendulum.DateTime)):
            return None  # a date alone
        if wall == elsewhere or wall.naive() != elsewhere.naive():
            return None  # a time with its own offset, or `now`: no wall-clock time was read in the zone
        fields = (wall.year, wall.month, wall.day, wall.hour, wall.minute)
        shown = f"{wall:%Y-%m-%d %H:%M}"
        if fields != (value.year, value.month, value.day, value.hour, value.minute):
            return (f"{shown} does not exist in {tz} (the clocks go forward then); "
                    f"{value.isoformat()} is used")
        try:
            local = datetime(*fields, tzinfo=ZoneInfo(tz))
        except (ValueError, KeyError):
            return None
        first, second = local.replace(fold=0).utcoffset(), local.replace(fold=1).utcoffset()
        if first != second and first is not None:
            sign = "-" if first < timedelta(0) else "+"
            hours, rest = divmod(abs(int(first.total_seconds())) // 60, 60)
            return (f"{shown} happens twice in {tz} (the clocks go back then); the second, "
                    f"{value.isoformat()}, is used; write {shown}{sign}{hours:02d}:{rest:02d} for the first")
        return None

    @staticmethod
    def parse_conf(text: str | None) -> dict[str, Any]:
        """A run's conf: a JSON object the store can write back as it was read,
        so no NaN or Infinity (not JSON), no lone surrogate (not UTF-8) and at
        most MAX_CONF_DEPTH levels of nesting (the store's encoder stops deeper)."""
        if text is None:
            return {}
        try:
            conf = json.loads(text, parse_constant=_not_json)
        except RecursionError:
            raise UsageError(f"--conf is nested too deeply: at most {MAX_CONF_DEPTH} levels") from None
        except ValueError as exc:
            raise UsageError(f"--conf is not valid JSON: {exc}") from None
        if not isinstance(conf, dict):
            raise UsageError("--conf must be a JSON object, like '{\"events_per_day\": 10}'")
        if _depth(conf) > MAX_CONF_DEPTH:
            raise UsageError(f"--conf is nested too deeply: at most {MAX_CONF_DEPTH} levels")
        try:
            json.dumps(conf, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise UsageError("--conf is not valid JSON: it holds a lone surrogate (\\ud800-\\udfff), "
                             "which is no Unicode character") from None
        return conf

    # -- runs ---------------------------------------------------------------------------

    def manual_interval(self, spec: DagSpec, logical_date: datetime | None, now: datetime) -> tuple[datetime, datetime, datetime]:
        from flowctl.engine.runs import manual_interval

        return manual_interval(spec, logical_date, now)

    def create_run(self, spec: DagSpec, *, run_type: str, logical_date: datetime,
                   interval: tuple[datetime, datetime], conf: dict[str, Any] | None = None,
                   owner: dict[str, Any] | None = None, now: datetime) -> str:
        """Create a run with every task of the current DAG version in state none;
        a logical date that has a run already is refused, naming it."""
        from flowctl.engine.runs import new_run

        with self.store.transaction() as tx:
            run_id = new_run(tx, spec, run_type=run_type, logical_date=logical_date,
                             interval=interval, conf=conf, owner=owner, now=now)
        assert run_id is not None
        return run_id

    def resolve_run(self, dag_id: str, run: str, tz: str | None = None) -> str:
        """A run id, or a logical date that names the run of that date."""
        ids = self.store.run_ids(dag_id)
        if run in ids:
            return run
        try:
            when = self.parse_date(run, tz or self.dag_tz(dag_id))
        except UsageError:
            raise NotFound(f"{dag_id} has no run {run!r} (see `flowctl runs list --dag {dag_id}`)") from None
        stamp = iso(when) or ""
        matches = [r for r in ids if logical_stamp(r) == stamp]
        if not matches and when.second == 0 and when.microsecond == 0:  # a minute, as `runs list` shows it
            matches = [r for r in ids if _same_minute(logical_stamp(r) or "", stamp)]
            if len(matches) > 1:
                raise UsageError(f"several runs of {dag_id} fall in the minute {run}: {', '.join(matches)}; "
                                 f"give a run id")
        if not matches:
            raise NotFound(f"{dag_id} has no run with logical date {stamp} (see `flowctl runs list --dag {dag_id}`)")
        if len(matches) > 1:  # only in a home made before one run per date was enforced
            raise UsageError(f"several runs of {dag_id} have logical date {stamp}: {', '.join(matches)}; give a run id")
        return matches[0]

    def read_run(self, dag_id: str, run_id: str) -> Any:
        data = self.store.read_run(dag_id, run_id)
        if data is None:
            raise NotFound(f"{dag_id} has no run {run_id!r}")
        return data

    def run_doc(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The run as shown: values under secret-looking keys of its conf are `***`."""
        return _shown_run(self.read_run(dag_id, run_id).run)

    def list_runs(self, dag_id: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest logical date first. A run whose file is damaged or
        unreadable is a row in state `damaged` naming its file."""
        dag_ids = [dag_id] if dag_id else self.store.dag_ids_with_runs()
        runs: list[dict[str, Any]] = []
        self.warnings = []
        for d in dag_ids:
            try:
                run_ids = self.store.run_ids(d)
            except StoreCorrupt as exc:  # one DAG's folder cannot be read: the others are listed
                self.warnings.append(f"{exc}; `flowctl doctor` says more")
                continue
            for run_id in run_ids:
                try:
                    data = self.store.read_run(d, run_id)
                except StoreCorrupt as exc:
                    self.warnings.append(str(exc))
                    if state in (None, "damaged"):
                        stamp = logical_stamp(run_id)
                        kind = run_id.partition("__")[0] if stamp else None
                        runs.append({"dag_id": d, "run_id": run_id, "run_type": kind, "state": "damaged",
                                     "logical_date": stamp, "data_interval_start": None, "data_interval_end": None,
                                     "start_date": None, "end_date": None, "conf": {},
                                     "file": str(self.store.run_path(d, run_id)), "error": str(exc)})
                    continue
                if data is None:
                    continue
                doc = data.run
                if state and doc.get("state") != state:
                    continue
                runs.append(_shown_run(doc))
        runs.sort(key=lambda r: (r.get("logical_date") or "", r.get("run_id")), reverse=True)
        return runs

    def task_states(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances in the order of the DAG version it ran under,
        including tasks since removed from the file; mapped instances by index."""
        data = self.read_run(dag_id, run_id)
        order = data.dag_version.get("order") or []
        place = {t: i for i, t in enumerate(order)}
        tis = sorted(data.tis.values(), key=lambda ti: (place.get(ti.task_id, len(place)), ti.task_id, ti.map_index))
        return [ti.to_doc() for ti in tis]

    def xcoms(self, dag_id: str, run_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
        """A run's XCom values as shown: values under secret-looking keys are `***`,
        and so is a secret of the run's conf, a Variable or a Connection that a task
        passed on as a value of its own."""
        from flowctl.masking import mask_doc

        data = self.read_run(dag_id, run_id)
        self._register_secrets(data.run.get("conf") or {})
        return [{**x, "value": mask_doc({x["key"]: x["value"]})[x["key"]]} for x in data.xcoms
                if task_id is None or x["task_id"] == task_id]

    def _register_secrets(self, conf: dict[str, Any]) -> None:
        """Teach this process the secret values a task may have handed on, so that
        showing them redacts them: the conf's, sensitive Variables', Connections' passwords."""
        import os

        from flowctl import connections, masking, variables

        masking.register_doc(conf)
        home = self.settings.home
        try:
            for key, entry in variables.stored(home).items():
                if masking.is_sensitive(key):
                    masking.register(entry.get("value"))
            for name, value in os.environ.items():
                if name.startswith(variables.ENV_PREFIX) and masking.is_sensitive(name):
                    masking.register(value)
            for conn in connections.stored(home).values():
                conn.register_secrets()
        except FlowctlError:  # an unreadable Variables or Connections file: the conf's are registered
            pass

    def log_path(self, dag_id: str, run_id: str, task_id: str, try_number: int | None, map_index: int = -1) -> Path:
        if try_number is not None and try_number < 1:
            raise UsageError(f"--try must be 1 or more, not {try_number}")
        data = self.read_run(dag_id, run_id)
        from flowctl.records import TaskKey

        ti = data.tis.get(TaskKey(task_id, map_index))
        if ti is None:
            count = sum(1 for k in data.tis if k.task_id == task_id and k.map_index >= 0)
            if count and map_index < 0:
                raise UsageError(f"{task_id} is a mapped task with {count} instance(s) in {run_id}: "
                                 f"choose one with --map-index 0..{count - 1}")
            if count:
                raise NotFound(f"{task_id} in {run_id} has instances 0..{count - 1}, not {map_index}")
            if map_index >= 0:
                raise NotFound(f"{task_id} in {run_id} is not mapped (or not expanded yet): leave out --map-index")
            raise NotFound(f"run {run_id} of {dag_id} has no task {task_id!r}")
        latest = int(ti.try_number or 0)
        n = try_number or latest
        if n < 1:
            raise NotFound(f"{dag_id}.{task_id} has not run yet in {run_id} (state {ti.state})")
        if n > latest:
            raise NotFound(f"{dag_id}.{task_id} in {run_id} has {latest} tr{'y' if latest == 1 else 'ies'}, not {n}")
        return self.store.log_path(dag_id, run_id, task_id, n, map_index)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.dag(dag_id)
        with self.store.transaction() as tx:
            tx.set_dag_flags(dag_id, paused=paused)
        self.store.wake_scheduler()

    def next_run(self, spec: DagSpec, now: datetime | None = None) -> Any:
        """The data interval of the next run the scheduler will create (the
        scheduler's own function), or None."""
        from flowctl.engine.scheduler import next_scheduled

        try:
            return next_scheduled(spec, self.store, now or utcnow())
        except (ValueError, StoreCorrupt):
            return None

    # -- clear and mark ----------------------------------------------------------------

    def select_runs(self, dag_id: str, run_id: str | None = None, start: datetime | None = None,
                    end: datetime | None = None) -> list[str]:
        """Run ids of the DAG: one run, the runs whose logical date is in [start, end], or all."""
        if start is not None and end is not None and end < start:
            raise UsageError(f"--end ({end.isoformat()}) is before --start ({start.isoformat()})")
        ids = self.store.run_ids(dag_id)
        if run_id is not None:
            return [self.resolve_run(dag_id, run_id)]
        lo = iso(start) if start else None
        hi = iso(end) if end else None
        out = []
        for rid in ids:
            stamp = logical_stamp(rid) or ""
            if (lo is None or stamp >= lo) and (hi is None or stamp <= hi):
                out.append(rid)
        return sorted(out, key=lambda r: logical_stamp(r) or "")

    def plan_clear(self, dag_id: str, *, run_id: str | None = None, start: datetime | None = None,
                   end: datetime | None = None, task_regex: str | None = None, upstream: bool = False,
                   downstream: bool = False, only_failed: bool = False, changed: bool = False,
                   map_index: int = -1) -> list[dict[str, Any]]:
        """The task instances a clear would reset, each with why it is in the set."""
        from flowctl.engine.clearing import plan_clear

        spec = self.dagbag().dags.get(dag_id)
        if spec is None and not self.store.run_ids(dag_id):
            self.dag(dag_id)  # raises NotFound
        runs = self.select_runs(dag_id, run_id, start, end)
        damaged: list[str] = []
        plan = plan_clear(self.store, spec, dag_id, runs, task_regex=task_regex, upstream=upstream,
                          downstream=downstream, only_failed=only_failed, changed=changed, map_index=map_index,
                          damaged=damaged)
        self.warnings = damaged
        from flowctl.engine.crossdag import follow_markers

        return plan + follow_markers(self.store, self.dagbag().dags, plan)  # through ExternalTaskMarkers

    def clear(self, plan: list[dict[str, Any]]) -> int:
        """Reset the planned task instances (their try count goes on) and put
        their runs back to queued, on the current DAG version; those of other
        DAGs (an ExternalTaskMarker brought them in) in the same commit."""
        from flowctl.engine.clearing import apply_clear

        if not plan:
            return 0
        dag_id = plan[0]["dag_id"]
        count = apply_clear(self.store, self.dagbag().dags.get(dag_id), plan, others=self.dagbag().dags)
        self.store.wake_scheduler()
        return count

    def version_notes(self, dag_id: str, run_ids: list[str]) -> list[str]:
        """For runs that ran under another version of the DAG: what differs."""
        from flowctl.engine.clearing import version_changes

        spec = self.dagbag().dags.get(dag_id)
        notes = []
        for run_id in run_ids:
            try:
                data = self.store.read_run(dag_id, run_id)
            except StoreCorrupt:
                continue
            added, removed = version_changes(spec, data.dag_version if data else {})
            if added or removed:
                parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
                notes.append(f"{run_id} ran under an older version of the DAG ({'; '.join(parts)}); "
                             f"it re-runs with the current one")
        return notes

    def mark(self, dag_id: str, run_id: str, task_id: str, state: str, downstream: bool = False,
             map_index: int = -1) -> Any:
        """Set a task instance's state (and its descendants' with `downstream`).
        Returns what changed (`engine.clearing.Marked`: the ids marked, and
        those below them reset to run again with the state they had)."""
        from flowctl.engine.clearing import apply_mark

        if state not in ("success", "failed", "skipped"):
            raise UsageError(f"--state must be success, failed or skipped, not {state!r}")
        rid = self.resolve_run(dag_id, run_id)
        result = apply_mark(self.store, self.dagbag().dags.get(dag_id), dag_id, rid, task_id, state, downstream,
                            map_index)
        self.store.wake_scheduler()
        return result

    def check_conf(self, spec: DagSpec, conf: dict[str, Any] | None) -> None:
        """Refuse (exit 2, one line naming the param and the rule) a conf that breaks
        one of the DAG's Params, before anything is written or started."""
        from flowctl.engine.runs import check_params

        check_params(spec, conf)

    def conf_problem(self, spec: DagSpec, conf: dict[str, Any] | None) -> str | None:
        """What `check_conf` would refuse, as a line (None: the conf is fine)."""
        from flowctl.engine.runs import params_problem

        return params_problem(spec, conf)

    @staticmethod
    def params_form(spec: DagSpec) -> list[dict[str, Any]]:
        """The DAG's params for a trigger form: name, default, description, schema."""
        rows = []
        for name, value in spec.params.items():
            entry = spec.param_schemas.get(name, {})
            rows.append({"name": name, "default": entry.get("default", value) if entry else value,
                         "has_default": entry.get("has_default", True) if entry else True,
                         "description": entry.get("description") if entry else None,
                         "schema": entry.get("schema", {}) if entry else {}})
        return rows

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: datetime | None = None,
                now: datetime | None = None) -> str:
        """Queue a manual run for the scheduler (no owner until one adopts it)."""
        spec = self.dag(dag_id)
        self.check_conf(spec, conf)
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

    # -- assets ---------------------------------------------------------------------------

    def assets(self) -> list[dict[str, Any]]:
        """Every asset the DAG files name or a task updated: its producers
        (`dag.task`), consumers (DAGs scheduled on it), readers (inlets), how
        many events it had and the last one (`last_update`, `last_producer`)."""
        from flowctl import assetlog
        from flowctl.engine.assets import asset_rows

        return asset_rows(self.dagbag().dags, assetlog.events(self.store))

    def asset_aliases(self) -> list[dict[str, Any]]:
        from flowctl import assetlog
        from flowctl.engine.assets import alias_rows

        return alias_rows(self.dagbag().dags, assetlog.events(self.store))

    def asset_events(self, uri: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Recorded asset events, newest first (of one asset, if given)."""
        from flowctl import assetlog

        events = [e for e in assetlog.events(self.store) if uri is None or e.get("uri") == uri]
        events.reverse()
        return events[:limit] if limit else events

    def asset_schedule(self, spec: DagSpec) -> dict[str, Any] | None:
        """For a DAG scheduled on assets: its condition, the assets updated since
        its last asset-triggered run, those it still waits for, and whether a run is due."""
        if not spec.asset_condition:
            return None
        from flowctl.authoring.assets import condition_text
        from flowctl.engine.assets import waiting_for

        try:
            status = waiting_for(spec, self.store)
        except StoreCorrupt:
            status = {"updated": [], "missing": [], "events": 0, "due": False}
        return {"condition": condition_text(spec.asset_condition), **status}

    # -- carrying work out ----------------------------------------------------------------

    def run_foreground(self, spec: DagSpec, when: datetime | None, conf: dict[str, Any],
                       announce: Callable[[str, dict[str, Any]], None] | None = None,
                       on_created: Callable[[str], None] | None = None) -> tuple[str, int]:
        """Create a manual run owned by this process and carry it out. Returns
        (run id, exit code: 0 if it succeeded)."""
        from flowctl.engine import operate

        self.check_conf(spec, conf)
        executor = operate.make_executor(self.settings)  # refuse before anything is written
        executor.prepare(spec.fileloc, spec.fingerprint)  # the DAG file is imported while the run is made
        owner = operate.owner_identity("run")
        now = utcnow()
        with operate.until_driven(executor):
            logical, start, end = self.manual_interval(spec, when, now)
            run_id = self.create_run(spec, run_type="manual", logical_date=logical, interval=(start, end),
                                     conf=conf, owner=owner, now=now)
            if on_created is not None:
                on_created(run_id)
            specs = {**self.dagbag().dags, spec.dag_id: spec}  # every DAG: the runs its tasks trigger are carried too
        code = operate.carry_out_runs(self.store, self.settings, executor, specs,
                                      {RunKey(spec.dag_id, run_id)}, owner, announce)
        return run_id, code

    def plan_backfill(self, spec: DagSpec, start: datetime, end: datetime, reprocess: str = "none",
                      run_backwards: bool = False) -> list[Any]:
        from flowctl.engine.backfill import plan_backfill

        self.check_conf(spec, {})  # backfill runs take the params' defaults
        return plan_backfill(self.store, spec, start, end, reprocess, run_backwards)

    def backfill_gap(self, spec: DagSpec, start: datetime, end: datetime) -> str:
        from flowctl.engine.backfill import plan_gap_reason

        return plan_gap_reason(spec, start, end)

    def backfill(self, spec: DagSpec, plan: list[Any], max_active_runs: int,
                 announce: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, str]:
        """Carry the plan out (runs at most `max_active_runs` at once), following
        runs another process carries to their end. Returns run id -> final state
        ("not run" for those a stop kept from starting)."""
        from flowctl.engine import operate

        return operate.backfill(self.store, self.settings, spec, plan, max_active_runs, announce,
                                others=self.dagbag().dags)

    def serve_scheduler(self, *, until_idle: bool = False, log: Callable[[str], None] = print,
                        grace: float = 30.0) -> int:
        from flowctl.engine import operate

        return operate.serve(self.store, self.settings, lambda: self.dagbag(reload=True),
                             until_idle=until_idle, log=log, grace=grace)

    def test_task(self, spec: DagSpec, task_id: str, when: datetime | None, map_index: int = -1) -> dict[str, Any]:
        """Run one task in this process; its log goes to stdout; no state is written.
        Upstream XCom comes from the run of that logical date, if there is one."""
        from flowctl.engine import operate

        task = spec.tasks.get(task_id)
        if task is not None and task.mapped is not None and map_index < 0:
            raise UsageError(f"{task_id} is a mapped task: test one instance with --map-index N (from 0)")
        if task is not None and task.mapped is None and map_index >= 0:
            raise UsageError(f"{task_id} is not a mapped task: leave out --map-index")
        now = utcnow()
        logical, start, end = self.manual_interval(spec, when, now)
        stamp = iso(logical)
        existing = next((r for r in self.store.run_ids(spec.dag_id) if logical_stamp(r) == stamp), None)
        return operate.test_task(self.store, spec, task_id, logical, start, end, existing, map_index)

    # -- pools -------------------------------------------------------------------------------

    def pools(self) -> list[dict[str, Any]]:
        """Every pool with its size and who holds its slots now (every process's
        tries): `default_pool` first, with the worker count unless it was set."""
        from flowctl.engine.decisions import DEFAULT_POOL
        from flowctl.engine.pools import occupancy_of

        occupancy = occupancy_of(self.store, self.settings.workers)
        stored = self.store.pools()
        rows = []
        for name in sorted(occupancy.sizes, key=lambda n: (n != DEFAULT_POOL, n)):
            size = occupancy.sizes[name]
            used = occupancy.pool_used[name]
            holders = occupancy.holders.get(name, [])
            description = stored.get(name, {}).get("description") or (
                "the worker count (FLOWCTL_WORKERS); set it with `flowctl pools set default_pool N`"
                if name == DEFAULT_POOL and name not in stored else "")
            rows.append({"pool": name, "slots": size, "description": description, "occupied": used,
                         "open": None if size < 0 else max(0, size - used),
                         "holders": [{**h.to_doc(), "label": h.label()} for h in holders]})
        return rows

    def set_pool(self, name: str, slots: int, description: str | None = None) -> dict[str, Any]:
        """Create a pool or change its size (and description)."""
        from flowctl.home import is_valid_id

        if not is_valid_id(name):
            raise UsageError(f"pool name {name!r} must be made of letters, digits, '_', '.' and '-'")
        if slots < -1:
            raise UsageError(f"SLOTS must be -1 (no limit), 0 (hold its tasks) or more, not {slots}")
        if description is None:
            description = self.store.pools().get(name, {}).get("description")
        with self.store.transaction() as tx:
            tx.set_pool(name, slots, description)
        self.store.wake_scheduler()
        return next(p for p in self.pools() if p["pool"] == name)

    def delete_pool(self, name: str) -> None:
        """Delete a pool; its tasks fail when they would start (Airflow's rule for a missing pool)."""
        from flowctl.engine.decisions import DEFAULT_POOL

        if name == DEFAULT_POOL:
            raise FlowctlError("default_pool cannot be deleted (set its size with `flowctl pools set default_pool N`)")
        if name not in self.store.pools():
            raise NotFound(f"no pool named {name!r} (see `flowctl pools list`)")
        with self.store.transaction() as tx:
            tx.delete_pool(name)
        self.store.wake_scheduler()

    # -- the scheduler process -------------------------------------------------------------

    def scheduler_status(self) -> dict[str, Any]:
        from flowctl.engine import daemon

        return daemon.status(self.settings.home)

    def scheduler_running(self) -> bool:
        from flowctl.engine import daemon

        return daemon.is_running(self.settings.home)

    def carrier(self, run: dict[str, Any]) -> str | None:
        """Who carries an active run out ("the scheduler (pid N)", ...), or None:
        nobody, so it waits for a scheduler or a `flowctl run`."""
        from flowctl.service.explain import carrier

        return carrier(self, run)

    # -- explain ----------------------------------------------------------------------------

    def explain(self, dag_id: str, run_id: str, task_id: str | None = None, now: datetime | None = None) -> dict[str, Any]:
        from flowctl.service.explain import explain

        return explain(self, dag_id, run_id, task_id, now or utcnow())

    # -- the home -------------------------------------------------------------------------

    def doctor(self, fix: bool = False) -> tuple[list[Any], list[str]]:
        from flowctl.service.doctor import check, home_mode_findings

        findings, done = check(self.settings.home, fix=fix)
        return home_mode_findings(self.settings.home, fix=fix) + findings, done


def _not_json(name: str) -> Any:
    """`json.loads` takes NaN and Infinity, which JSON does not have."""
    raise ValueError(f"{name} is not a JSON value (use null or a string)")


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value`, counted without recursion."""
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [v for x in level if isinstance(x, (dict, list)) for v in (x.values() if isinstance(x, dict) else x)]
    return depth - 1


def _shown_run(doc: dict[str, Any]) -> dict[str, Any]:
    """A run document for people and scripts: secrets in its conf masked (the
    stored conf, which tasks receive, keeps them)."""
    from flowctl.masking import mask_doc

    if not doc.get("conf"):
        return doc
    return {**doc, "conf": mask_doc(doc["conf"])}


__all__ = ["RUN_FIELDS", "Service"]


def _same_minute(stamp: str, minute: str) -> bool:
    """Whether a logical date (UTC ISO) falls in the minute `minute` names (as `runs list` shows dates)."""
    return stamp[:16] == minute[:16] and stamp[-6:] == minute[-6:]
