"""Task-instance and run states, and the named sets the scheduler reasons with.

Each state says who sets it; the store refuses transitions out of the sets
given here (see `store.RunFile.transition`).
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    NONE = "none"  #: not yet considered, or cleared (scheduler, clear)
    SCHEDULED = "scheduled"  #: its upstream allows it; waiting for a slot (scheduler)
    QUEUED = "queued"  #: handed to the executor (scheduler)
    RUNNING = "running"  #: its process has started (executor)
    SUCCESS = "success"  #: the try returned (scheduler, from the result)
    FAILED = "failed"  #: the last try failed with no retry left (scheduler)
    UP_FOR_RETRY = "up_for_retry"  #: a try failed; another waits for retry_delay (scheduler)
    UPSTREAM_FAILED = "upstream_failed"  #: the trigger rule can never be met (scheduler)
    SKIPPED = "skipped"  #: skipped by a branch, short-circuit, rule or exit code 99
    UP_FOR_RESCHEDULE = "up_for_reschedule"  #: a reschedule sensor between pokes


class RunState(StrEnum):
    QUEUED = "queued"  #: created; no task started yet
    RUNNING = "running"  #: some task has started
    SUCCESS = "success"  #: every task ended success or skipped
    FAILED = "failed"  #: every task ended, one failed or upstream_failed


class RunType(StrEnum):
    SCHEDULED = "scheduled"
    BACKFILL = "backfill"
    MANUAL = "manual"
    ASSET_TRIGGERED = "asset_triggered"


FINISHED = frozenset(
    {TaskState.SUCCESS, TaskState.FAILED, TaskState.SKIPPED, TaskState.UPSTREAM_FAILED}
)
"""A task instance in one of these will not run again unless cleared or marked."""

ACTIVE = frozenset({TaskState.QUEUED, TaskState.RUNNING})
"""Holding a worker slot (or about to)."""

WAITING = frozenset(
    {TaskState.NONE, TaskState.SCHEDULED, TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE}
)
"""Not finished and not holding a slot."""

FAILED_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})

RUN_FINISHED = frozenset({RunState.SUCCESS, RunState.FAILED})

#: Colours used by the CLI and the TUI, so a state looks the same everywhere.
STATE_COLOURS: dict[str, str] = {
    "none": "grey50",
    "scheduled": "tan",
    "queued": "grey70",
    "running": "bright_green",
    "success": "green",
    "failed": "red",
    "up_for_retry": "gold1",
    "upstream_failed": "orange1",
    "skipped": "magenta",
    "up_for_reschedule": "turquoise2",
}


def run_state_of(task_states: list[TaskState], deciding: list[TaskState] | None = None) -> RunState:
    """The run's state from its task instances' states (contract section 4).
    `deciding`: the states whose failure fails the run, when not all do (a
    teardown's failure does not, as in Airflow)."""
    if task_states and all(s in FINISHED for s in task_states):
        if any(s in FAILED_STATES for s in (task_states if deciding is None else deciding)):
            return RunState.FAILED
        return RunState.SUCCESS
    if any(s not in (TaskState.NONE, TaskState.SCHEDULED) for s in task_states):
        return RunState.RUNNING
    if not task_states:
        return RunState.SUCCESS
    return RunState.QUEUED


_SUMMARY_ORDER = (TaskState.RUNNING, TaskState.QUEUED, TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE,
                  TaskState.SCHEDULED, TaskState.NONE)
_SUMMARY_FINISHED = (TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.SUCCESS, TaskState.SKIPPED)


def summary_state(task_states: list[str]) -> str:
    """One state for a mapped task's instances, as a grid cell shows them:
    while any is unfinished the busiest unfinished state, then failed before
    success before skipped."""
    present = set(task_states)
    if present and present <= FINISHED:
        return next(s for s in _SUMMARY_FINISHED if s in present)
    return next((s for s in _SUMMARY_ORDER if s in present), TaskState.NONE)
