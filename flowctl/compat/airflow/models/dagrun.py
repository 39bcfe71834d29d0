"""airflow.models.dagrun: the type of `dag_run` in the context."""

from __future__ import annotations

from flowctl.runtime.templating import DagRunInfo as DagRun  # noqa: F401

__all__ = ['DagRun']
