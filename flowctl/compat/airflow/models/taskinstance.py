"""airflow.models.taskinstance"""

from __future__ import annotations

from flowctl.runtime.runner import TaskInstanceHandle as TaskInstance  # noqa: F401

__all__ = ['TaskInstance']
