"""airflow.utils.task_group"""

from __future__ import annotations

from flowctl.authoring.dag import TaskGroup  # noqa: F401

__all__ = ['TaskGroup']
