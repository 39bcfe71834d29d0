"""Every path under the home, in one place, and the rule that keeps ids inside it.

    <home>/
      state/                    the state store (store.py)
        dags.json               DAG flags (paused)
        index.json              the active runs (a hint)
        runs/<dag_id>/<run_id>.json      a run: its TinyDB document
        runs/<dag_id>/<run_id>.journal   changes since that document was written
        .lock  seq              the writer lock, the commit counter
      logs/<dag_id>/<run_id>/<task_id>[/map-<index>]/<try>.log
      cache/dagbag.json         the loader's cache of DAG files
      scheduler.{lock,pid,json,log,wake}

Ids become path components, so each is checked here before it becomes one:
Airflow's rule (regex word characters - Unicode letters and digits, `_` -
and `.`, `-`; at most 250 characters, not `.` or `..`) for DAG and task ids;
run ids may hold `:` and `+` as well (an ISO timestamp). None of these can be `/`,
NUL or any other character a path could escape with, and an id must fit in
one file name (255 bytes as UTF-8), so nothing outside the home is ever named
by these paths. The authoring model checks ids with this same rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flowctl.errors import UsageError

ID_MAX_LENGTH = 250  #: characters, as Airflow's
NAME_MAX_BYTES = 255  #: a file name's limit on Linux file systems
_ID = re.compile(r"[\w.\-]+")
_RUN_ID = re.compile(r"[\w.\-:+]+")


def _fits(value: object, pattern: re.Pattern[str]) -> bool:
    return (isinstance(value, str) and 0 < len(value) <= ID_MAX_LENGTH and value not in (".", "..")
            and pattern.fullmatch(value) is not None and len(value.encode()) <= NAME_MAX_BYTES)


def is_valid_id(value: str) -> bool:
    """Airflow's rule for a DAG or task id, and one file name at most."""
    return _fits(value, _ID)


def safe_component(value: str, what: str, *, run_id: bool = False) -> str:
    """`value` if it can be a file name under the home; a UsageError otherwise."""
    if not _fits(value, _RUN_ID if run_id else _ID):
        raise UsageError(f"{what} {value!r} is not a valid id (letters, digits, '_', '.', '-')")
    return value


@dataclass(frozen=True)
class Home:
    """The paths of one home."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def runs(self) -> Path:
        return self.state / "runs"

    @property
    def index(self) -> Path:
        return self.state / "index.json"

    @property
    def lock(self) -> Path:
        return self.state / ".lock"

    @property
    def seq(self) -> Path:
        return self.state / "seq"

    def dag_runs(self, dag_id: str) -> Path:
        return self.runs / safe_component(dag_id, "DAG id")

    def run_file(self, dag_id: str, run_id: str) -> Path:
        return self.dag_runs(dag_id) / f"{safe_component(run_id, 'run id', run_id=True)}.json"

    def journal_file(self, dag_id: str, run_id: str) -> Path:
        return self.dag_runs(dag_id) / f"{safe_component(run_id, 'run id', run_id=True)}.journal"

    def log_file(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> Path:
        folder = (self.root / "logs" / safe_component(dag_id, "DAG id")
                  / safe_component(run_id, "run id", run_id=True) / safe_component(task_id, "task id"))
        if map_index >= 0:
            folder = folder / f"map-{int(map_index)}"
        return folder / f"{int(try_number)}.log"

    def dag_callback_log(self, dag_id: str, run_id: str) -> Path:
        return (self.root / "logs" / safe_component(dag_id, "DAG id")
                / safe_component(run_id, "run id", run_id=True) / "dag_callbacks.log")

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def dag_cache(self) -> Path:
        return self.cache / "dagbag.json"

    @property
    def scheduler_lock(self) -> Path:
        return self.root / "scheduler.lock"

    @property
    def scheduler_pid(self) -> Path:
        return self.root / "scheduler.pid"

    @property
    def scheduler_status(self) -> Path:
        return self.root / "scheduler.json"

    @property
    def scheduler_log(self) -> Path:
        return self.root / "scheduler.log"

    @property
    def wake(self) -> Path:
        return self.root / "scheduler.wake"
