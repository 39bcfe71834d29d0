"""Tasks that reach into other DAGs: `TriggerDagRunOperator`,
`ExternalTaskSensor` and `ExternalTaskMarker`, with Airflow's arguments.

They run in the task's process, which never writes state: the trigger asks
the engine for the run (`ti.request`), which makes it in the commit that
records the try (engine/crossdag.py); the sensor only reads other runs from
the store; the marker records the logical date it rendered, which
`flowctl clear` follows into the other DAG.

One run per logical date holds for triggered runs too: a trigger for a date
that has a run fails (Airflow's DagRunAlreadyExists) unless
`reset_dag_run=True` (that run is cleared and runs again) or
`skip_when_already_exists=True` (the trigger is skipped).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowctl.authoring.dag import NOTSET
from flowctl.authoring.operators import BaseOperator, EmptyOperator, call_with_context
from flowctl.authoring.sensors import BaseSensorOperator, Reschedule
from flowctl.errors import DagDefinitionError, TaskFailed, TaskSkipped

TASK_STATES = ("none", "scheduled", "queued", "running", "success", "failed", "up_for_retry",
               "up_for_reschedule", "upstream_failed", "skipped", "removed", "restarting", "deferred")
RUN_STATES = ("queued", "running", "success", "failed")
XCOM_DAG_ID = "trigger_dag_id"
XCOM_RUN_ID = "trigger_run_id"
XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"


def _states(values: Iterable[Any] | None) -> list[str]:
    return [str(getattr(v, "value", v)) for v in (values or [])]


def _store(context: dict[str, Any]) -> Any:
    """The state store, read-only (None under `tasks test` without a run)."""
    home = getattr(context.get("ti"), "_home", None)
    if not home:
        return None
    from flowctl.store import Store

    return Store(Path(home))


def _utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _as_datetime(value: Any, context: dict[str, Any]) -> datetime:
    """A logical date given as a datetime or a string; naive ones are in the DAG's zone."""
    import pendulum

    tz = getattr(context.get("logical_date"), "tzinfo", None) or UTC
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    parsed = pendulum.parse(str(value), tz=tz)
    if not isinstance(parsed, datetime):
        raise TaskFailed(f"logical_date {value!r} is not a date and time")
    return parsed


def _run_of_date(store: Any, dag_id: str, stamp: str) -> str | None:
    from flowctl.records import logical_stamp

    for run_id in store.run_ids(dag_id):
        if logical_stamp(run_id) == stamp:
            return str(run_id)
    return None


# -- triggering another DAG -----------------------------------------------------------------


class TriggerDagRunOperator(BaseOperator):
    """Makes a run of `trigger_dag_id` (a manual run, with `conf`) for
    `logical_date` (default: now). With `wait_for_completion`, waits until that
    run is in `allowed_states` (success) or fails on `failed_states` (failed),
    looking every `poke_interval` seconds with its worker slot freed meanwhile."""

    template_fields = ("trigger_dag_id", "trigger_run_id", "logical_date", "conf", "wait_for_completion",
                       "skip_when_already_exists")
    template_fields_renderers = {"conf": "py"}
    ui_color = "#ffefeb"

    def __init__(
        self,
        task_id: str,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: str | datetime | None | Any = NOTSET,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float = 60,
        allowed_states: Iterable[Any] | None = None,
        failed_states: Iterable[Any] | None = None,
        skip_when_already_exists: bool = False,
        fail_when_dag_is_paused: bool = False,
        deferrable: bool = False,
        execution_date: str | datetime | None = None,
        **kwargs: Any,
    ) -> None:
        if logical_date is NOTSET and execution_date is not None:
            logical_date = execution_date  # Airflow 2's name
        if logical_date is not NOTSET and not (logical_date is None or isinstance(logical_date, str | datetime)):
            raise DagDefinitionError(f"task {task_id!r}: logical_date must be a str, a datetime or None, "
                                     f"not {type(logical_date).__name__}")
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf
        self.logical_date = logical_date
        self.reset_dag_run = bool(reset_dag_run)
        self.wait_for_completion = wait_for_completion
        self.poke_interval = float(poke_interval)
        self.allowed_states = _states(allowed_states) or ["success"]
        self.failed_states = _states(failed_states) if failed_states is not None else ["failed"]
        for state in (*self.allowed_states, *self.failed_states):
            if state not in RUN_STATES:
                raise DagDefinitionError(f"task {task_id!r}: {state!r} is not a DAG run state "
                                         f"(one of {', '.join(RUN_STATES)})")
        self.skip_when_already_exists = skip_when_already_exists
        self.fail_when_dag_is_paused = bool(fail_when_dag_is_paused)
        self.deferrable = bool(deferrable)
        super().__init__(task_id=task_id, **kwargs)
        if trigger_run_id is not None:
            self.dag.warn("trigger_run_id", self.task_id)
        if wait_for_completion:
            self.mode = "reschedule"  # between looks the slot is free (Airflow's deferral)
            self.poke_interval_td = timedelta(seconds=self.poke_interval)

    def code_text(self) -> str:
        return json.dumps({"dag": self.trigger_dag_id, "conf": self.conf, "logical_date": str(self.logical_date),
                           "wait": str(self.wait_for_completion), "reset": self.reset_dag_run}, default=str)

    def external_spec(self) -> dict[str, Any] | None:
        return {"kind": "trigger", "dag_id": self.trigger_dag_id, "wait": bool(self.wait_for_completion),
                "allowed_states": self.allowed_states, "failed_states": self.failed_states}

    def execute(self, context: dict[str, Any]) -> Any:
        ti = context["ti"]
        if getattr(ti, "first_poke_at", None) and _truthy(self.wait_for_completion):
            return self._wait(context)  # the run was triggered on this try's first poke
        if self.logical_date is NOTSET or self.logical_date is None:
            logical = datetime.now(UTC)
        else:
            logical = _as_datetime(self.logical_date, context)
        try:
            json.dumps(self.conf)
        except (TypeError, ValueError):
            raise TaskFailed("conf parameter should be JSON Serializable") from None
        if self.trigger_run_id:
            print(f"trigger_run_id {self.trigger_run_id!r} is not used: flowctl names a run by its type and "
                  f"logical date (one run per logical date)", flush=True)
        print(f"Triggering {self.trigger_dag_id} for logical date {logical.isoformat()}"
              + (f" with conf {json.dumps(self.conf)}" if self.conf else ""), flush=True)
        ti.request("trigger_dag_run", {
            "dag_id": str(self.trigger_dag_id), "logical_date": _utc_iso(logical), "conf": self.conf or {},
            "reset_dag_run": self.reset_dag_run, "skip_when_already_exists": _truthy(self.skip_when_already_exists),
            "fail_when_dag_is_paused": self.fail_when_dag_is_paused,
        })
        if context.get("test_mode"):
            print("tasks test writes no state: no run is made", flush=True)
            return None
        if _truthy(self.wait_for_completion):
            now = time.time()
            raise Reschedule(next_poke_at=_epoch_iso(now + self.poke_interval), first_poke_at=_epoch_iso(now))
        return None

    def _wait(self, context: dict[str, Any]) -> None:
        ti = context["ti"]
        run_id = ti.xcom_pull(task_ids=self.task_id, key=XCOM_RUN_ID)
        store = _store(context)
        if not run_id or store is None:
            raise TaskFailed(f"the run of {self.trigger_dag_id} this task triggered is not recorded")
        stored = store.read_run(str(self.trigger_dag_id), run_id)
        state = stored.record.state if stored is not None else None
        print(f"Waiting for {self.trigger_dag_id} on {run_id} to become allowed state {self.allowed_states} "
              f"... (it is {state or 'gone'})", flush=True)
        if state in self.failed_states:
            raise TaskFailed(f"{self.trigger_dag_id} failed with failed states {state}")
        if state in self.allowed_states:
            print(f"{self.trigger_dag_id} finished with allowed state {state}", flush=True)
            for key in (XCOM_DAG_ID, XCOM_RUN_ID, XCOM_LOGICAL_DATE_ISO):
                value = ti.xcom_pull(task_ids=self.task_id, key=key)
                if value is not None:
                    ti.xcom_push(key=key, value=value)
            return None
        if stored is None:
            raise TaskFailed(f"the run {run_id} of {self.trigger_dag_id} is gone")
        now = time.time()
        raise Reschedule(next_poke_at=_epoch_iso(now + self.poke_interval), first_poke_at=ti.first_poke_at)


def _truthy(value: Any) -> bool:
    """A templated flag: a bool, or the text a template rendered it to."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _epoch_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


# -- waiting on another DAG ---------------------------------------------------------------------


class ExternalTaskSensor(BaseSensorOperator):
    """Waits for tasks of another DAG (`external_task_id`, `external_task_ids`),
    a task group of it (`external_task_group_id`) or its whole run (neither), at
    the same logical date, or `execution_delta` earlier, or the dates
    `execution_date_fn(logical_date, ...)` returns. Done when they are in
    `allowed_states`; fails on `failed_states`, skips on `skipped_states`."""

    template_fields = ("external_dag_id", "external_task_id", "external_task_ids", "external_task_group_id")
    ui_color = "#4db7db"

    def __init__(
        self,
        task_id: str,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Collection[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Iterable[Any] | None = None,
        skipped_states: Iterable[Any] | None = None,
        failed_states: Iterable[Any] | None = None,
        execution_delta: timedelta | None = None,
        execution_date_fn: Callable[..., Any] | None = None,
        check_existence: bool = False,
        poll_interval: float = 2.0,
        **kwargs: Any,
    ) -> None:
        where = f"task {task_id!r}"
        self.allowed_states = _states(allowed_states) or ["success"]
        self.skipped_states = _states(skipped_states)
        self.failed_states = _states(failed_states)
        total = set(self.allowed_states + self.skipped_states + self.failed_states)
        if len(total) != len(self.allowed_states) + len(self.skipped_states) + len(self.failed_states):
            raise DagDefinitionError(f"{where}: Duplicate values provided across allowed_states, skipped_states "
                                     f"and failed_states.")
        ids = list(external_task_ids) if external_task_ids else None
        if external_task_id is not None and ids is not None:
            raise DagDefinitionError(f"{where}: Only one of `external_task_id` or `external_task_ids` may be "
                                     f"provided to ExternalTaskSensor")
        if external_task_id is not None:
            ids = [external_task_id]
        if external_task_group_id is not None and ids is not None:
            raise DagDefinitionError(f"{where}: Only one of `external_task_group_id` or `external_task_ids` may be "
                                     f"provided to ExternalTaskSensor")
        valid = TASK_STATES if (ids or external_task_group_id) else RUN_STATES
        wrong = sorted(total - set(valid))
        if wrong:
            what = "a task" if (ids or external_task_group_id) else "the DAG run"
            raise DagDefinitionError(f"{where}: {', '.join(wrong)}: not states of {what} "
                                     f"(valid: {', '.join(valid)})")
        if execution_delta is not None and execution_date_fn is not None:
            raise DagDefinitionError(f"{where}: Only one of `execution_delta` or `execution_date_fn` may be "
                                     f"provided to ExternalTaskSensor; not both.")
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.external_task_ids = ids
        self.external_task_group_id = external_task_group_id
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.check_existence = bool(check_existence)
        self.poll_interval = poll_interval
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        from flowctl.authoring.operators import _source_of

        fn = _source_of(self.execution_date_fn) if self.execution_date_fn is not None else ""
        return json.dumps({"dag": self.external_dag_id, "tasks": self.external_task_ids,
                           "group": self.external_task_group_id, "delta": str(self.execution_delta), "fn": fn,
                           "allowed": self.allowed_states, "failed": self.failed_states,
                           "skipped": self.skipped_states})

    def external_spec(self) -> dict[str, Any] | None:
        return {"kind": "sensor", "dag_id": self.external_dag_id, "task_ids": self.external_task_ids,
                "group_id": self.external_task_group_id,
                "delta": self.execution_delta.total_seconds() if self.execution_delta is not None else None,
                "date_fn": self.execution_date_fn is not None, "allowed_states": self.allowed_states,
                "failed_states": self.failed_states, "skipped_states": self.skipped_states}

    # -- which dates, which instances ---------------------------------------------------------

    def dates(self, context: dict[str, Any]) -> list[datetime]:
        logical = context.get("logical_date")
        if logical is None:
            raise TaskFailed("ExternalTaskSensor needs the run's logical_date")
        if self.execution_delta is not None:
            return [logical - self.execution_delta]
        if self.execution_date_fn is not None:
            rest = {k: v for k, v in context.items() if k not in ("logical_date", "execution_date")}
            rest["context"] = context
            got = call_with_context(self.execution_date_fn, [logical], {}, rest)
            values = got if isinstance(got, list | tuple) else [got]
            return [_as_datetime(v, context) for v in values]
        return [logical]

    def _count(self, store: Any, stamps: list[str], states: list[str]) -> float:
        dag_id = str(self.external_dag_id)
        count = 0.0
        for stamp in stamps:
            run_id = _run_of_date(store, dag_id, stamp)
            stored = store.read_run(dag_id, run_id) if run_id else None
            if stored is None:
                continue
            if self.external_task_ids:
                tis = stored.task_instances
                count += sum(1 for t in self.external_task_ids if tis.get(t, {}).get("state", "none") in states)
            elif self.external_task_group_id:
                prefix = f"{self.external_task_group_id}."
                members = [ti for tid, ti in stored.task_instances.items() if tid.startswith(prefix)]
                if members and all(ti.get("state", "none") in states for ti in members):
                    count += 1
            elif stored.record.state in states:
                count += 1
        if self.external_task_ids:
            return count / len(self.external_task_ids)
        return count

    def poke(self, context: dict[str, Any]) -> bool:
        store = _store(context)
        dates = self.dates(context)
        stamps = [_utc_iso(d) for d in dates]
        shown = ",".join(d.isoformat() for d in dates)
        if self.external_task_ids:
            print(f"Poking for tasks {self.external_task_ids} in dag {self.external_dag_id} on {shown} ... ",
                  flush=True)
        elif self.external_task_group_id:
            print(f"Poking for task_group '{self.external_task_group_id}' in dag '{self.external_dag_id}' on "
                  f"{shown} ... ", flush=True)
        else:
            print(f"Poking for DAG '{self.external_dag_id}' on {shown} ... ", flush=True)
        if store is None:
            raise TaskFailed("ExternalTaskSensor reads other runs from the state: run it with `flowctl run` "
                             "(tasks test has no state to read)")
        if self.check_existence:
            self._check_existence(context)
        if self.failed_states and self._count(store, stamps, self.failed_states) > 0:
            self._failed()
        if self.skipped_states and self._count(store, stamps, self.skipped_states) > 0:
            raise TaskSkipped(f"{self._what()} reached a state in our states-to-skip-on list. Skipping.")
        return self._count(store, stamps, self.allowed_states) == len(dates)

    def _what(self) -> str:
        if self.external_task_ids:
            return f"Some of the external tasks {self.external_task_ids} in DAG {self.external_dag_id}"
        if self.external_task_group_id:
            return f"The external task_group '{self.external_task_group_id}' in DAG '{self.external_dag_id}'"
        return f"The external DAG {self.external_dag_id}"

    def _failed(self) -> None:
        message = f"{self._what()} failed."
        if self.soft_fail:
            raise TaskSkipped(f"{message} Skipping due to soft_fail.")
        error = TaskFailed(message)
        error.no_retry = False  # type: ignore[attr-defined]
        raise error

    def _check_existence(self, context: dict[str, Any]) -> None:
        known = _known_dags(getattr(context.get("ti"), "_home", None))
        if known is None:
            return  # no DAG cache to look in: the check is skipped
        doc = known.get(str(self.external_dag_id))
        if doc is None:
            raise TaskFailed(f"The external DAG {self.external_dag_id} does not exist.")
        tasks = doc.get("tasks") or {}
        for tid in self.external_task_ids or ():
            if tid not in tasks:
                raise TaskFailed(f"The external task {tid} in DAG {self.external_dag_id} does not exist.")
        group = self.external_task_group_id
        if group and not any(str(t).startswith(f"{group}.") for t in tasks):
            raise TaskFailed(f"The external task group '{group}' in DAG '{self.external_dag_id}' does not exist.")


def _known_dags(home: str | None) -> dict[str, dict[str, Any]] | None:
    """The DAGs the DAG folder had when flowctl last read it (its cache in the home)."""
    if not home:
        return None
    try:
        doc = json.loads((Path(home) / "cache" / "dagbag.json").read_text())
    except (OSError, ValueError):
        return None
    out: dict[str, dict[str, Any]] = {}
    for entry in (doc.get("files") or {}).values():
        for spec in entry.get("dags") or ():
            out[spec.get("dag_id")] = spec
    return out


# -- clearing across DAGs ---------------------------------------------------------------------


class ExternalTaskMarker(EmptyOperator):
    """Marks that `external_task_id` of `external_dag_id` depends on this task:
    clearing this task (itself or as a downstream task) clears that task of the
    run with `logical_date` (default: this run's), and its downstream tasks,
    following further markers up to `recursion_depth` levels."""

    template_fields = ("external_dag_id", "external_task_id", "logical_date")
    ui_color = "#4db7db"
    DEFAULT_DATE = "{{ logical_date.isoformat() }}"

    def __init__(self, task_id: str, external_dag_id: str, external_task_id: str,
                 logical_date: str | datetime | None = DEFAULT_DATE, recursion_depth: int = 10,
                 execution_date: str | datetime | None = None, **kwargs: Any) -> None:
        if execution_date is not None and logical_date == self.DEFAULT_DATE:
            logical_date = execution_date  # Airflow 2's name
        if isinstance(logical_date, datetime):
            logical_date = logical_date.isoformat()
        elif not isinstance(logical_date, str):
            raise DagDefinitionError(f"task {task_id!r}: logical_date must be a str or a datetime, "
                                     f"not {type(logical_date).__name__}")
        if int(recursion_depth) <= 0:
            raise DagDefinitionError(f"task {task_id!r}: recursion_depth should be a positive integer")
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.logical_date = logical_date
        self.execution_date = logical_date
        self.recursion_depth = int(recursion_depth)
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        return f"{self.external_dag_id}.{self.external_task_id}@{self.logical_date}"

    def external_spec(self) -> dict[str, Any] | None:
        return {"kind": "marker", "dag_id": self.external_dag_id, "task_id": self.external_task_id,
                "logical_date": self.logical_date, "recursion_depth": self.recursion_depth}

    def execute(self, context: dict[str, Any]) -> None:
        when = _as_datetime(self.logical_date, context)
        context["ti"].request("external_logical_date", _utc_iso(when))
        return None


__all__ = ["ExternalTaskMarker", "ExternalTaskSensor", "TriggerDagRunOperator"]
