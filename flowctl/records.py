"""Typed records: the keys that name runs, task instances and tries, and the
run and task-instance records with their document form.

Keys are values, never strings split on separators: a DAG whose id is `cb`
or a task named like internal bookkeeping is just a name. The one place a
run id is taken apart is `parse_run_id`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from flowctl.states import TaskState


class RunKey(NamedTuple):
    """One run of one DAG."""

    dag_id: str
    run_id: str


class TaskKey(NamedTuple):
    """One task instance within a run: a task, and its map index (-1 unless mapped)."""

    task_id: str
    map_index: int = -1

    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


class TryKey(NamedTuple):
    """One try of one task instance: what an executor runs."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int

    @property
    def run(self) -> RunKey:
        return RunKey(self.dag_id, self.run_id)

    @property
    def task(self) -> TaskKey:
        return TaskKey(self.task_id, self.map_index)


class CallbackKey(NamedTuple):
    """A callback job: a task's (task_id set) or the DAG's (task_id None)."""

    dag_id: str
    run_id: str
    task_id: str | None
    map_index: int
    try_number: int
    name: str

    @property
    def run(self) -> RunKey:
        return RunKey(self.dag_id, self.run_id)


JobKey = TryKey | CallbackKey

RUN_TYPES = ("scheduled", "backfill", "manual", "asset_triggered")


def make_run_id(run_type: str, logical_date_iso: str) -> str:
    return f"{run_type}__{logical_date_iso}"


def parse_run_id(run_id: str) -> tuple[str, str] | None:
    """(run type, logical date as stored) of a run id made by `make_run_id`, else None."""
    kind, sep, stamp = run_id.partition("__")
    if not sep or kind not in RUN_TYPES or not stamp:
        return None
    return kind, stamp


def logical_stamp(run_id: str) -> str | None:
    """The logical date part of a run id (UTC ISO), or None for an id of another shape."""
    parsed = parse_run_id(run_id)
    return parsed[1] if parsed else None


@dataclass(slots=True)
class Run:
    """A DAG run as the store keeps it."""

    dag_id: str
    run_id: str
    run_type: str = "manual"
    state: str = "queued"
    logical_date: str | None = None
    data_interval_start: str | None = None
    data_interval_end: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    queued_at: str | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    owner: dict[str, Any] | None = None
    heartbeat: str | None = None
    timezone: str | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> RunKey:
        return RunKey(self.dag_id, self.run_id)

    def to_doc(self) -> dict[str, Any]:
        doc = {f: getattr(self, f) for f in _RUN_FIELDS}
        doc.update(self.extra)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Run:
        known = {k: v for k, v in doc.items() if k in _RUN_FIELDS}
        extra = {k: v for k, v in doc.items() if k not in _RUN_FIELDS}
        known.setdefault("dag_id", "")
        known.setdefault("run_id", "")
        if known.get("conf") is None:
            known["conf"] = {}
        return cls(**known, extra=extra)

    def update(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name in _RUN_FIELDS:
                setattr(self, name, value)
            else:
                self.extra[name] = value


@dataclass(slots=True)
class TaskInstance:
    """One task instance of a run, with the history of its tries."""

    task_id: str
    map_index: int = -1
    state: str = TaskState.NONE
    try_number: int = 0
    operator: str | None = None
    max_tries: int | None = None
    retry_base: int | None = None  # tries before its last clear: its retries count from there, as in Airflow
    queued_at: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    duration: float | None = None
    exit_code: int | None = None
    pid: int | None = None
    pid_started: str | None = None
    hostname: str | None = None
    error: str | None = None
    reason: str | None = None
    next_retry_at: str | None = None
    next_poke_at: str | None = None
    first_poke_at: str | None = None
    fingerprint: str | None = None
    success_fingerprint: str | None = None
    skipped_by: str | None = None
    marked: bool | None = None
    tries: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> TaskKey:
        return TaskKey(self.task_id, self.map_index)

    def to_doc(self) -> dict[str, Any]:
        doc = {f: getattr(self, f) for f in _TI_FIELDS}
        doc.update(self.extra)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TaskInstance:
        known = {k: v for k, v in doc.items() if k in _TI_FIELDS}
        extra = {k: v for k, v in doc.items() if k not in _TI_FIELDS}
        known.setdefault("task_id", "")
        if known.get("map_index") is None:
            known["map_index"] = -1
        if known.get("state") is None:
            known["state"] = TaskState.NONE
        if known.get("try_number") is None:
            known["try_number"] = 0
        if known.get("tries") is None:
            known["tries"] = []
        return cls(**known, extra=extra)

    def update(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            if name in _TI_FIELDS:
                setattr(self, name, value)
            else:
                self.extra[name] = value

    def copy(self) -> TaskInstance:
        twin = copy.copy(self)
        twin.tries = list(self.tries)
        twin.extra = dict(self.extra)
        return twin


_RUN_FIELDS = tuple(f.name for f in fields(Run) if f.name != "extra")
_TI_FIELDS = tuple(f.name for f in fields(TaskInstance) if f.name != "extra")
