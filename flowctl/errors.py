"""flowctl's exceptions. The CLI prints their message as one line and exits
with `exit_code`; anything else is a bug and shows a traceback with --debug."""

from __future__ import annotations


class FlowctlError(Exception):
    """An error the user can act on; its message is the whole story."""

    exit_code = 1


class UsageError(FlowctlError):
    """The command line itself is wrong (a malformed date, conf or option)."""

    exit_code = 2


class NotFound(FlowctlError):
    """Something named on the command line does not exist."""


class DagDefinitionError(FlowctlError):
    """A DAG file defines something that cannot run: a cycle, a duplicate id."""


class StoreCorrupt(FlowctlError):
    """A state file does not parse or has an unknown schema; it is never overwritten."""


class TaskFailed(Exception):
    """Raised inside a task to fail it with a message (no traceback in the log)."""


class TaskSkipped(Exception):
    """Raised inside a task to end it as skipped (Airflow's AirflowSkipException)."""
