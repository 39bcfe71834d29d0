"""airflow.utils.context: the task context type."""

from __future__ import annotations

from typing import Any

from flowctl.runtime.context import get_current_context  # noqa: F401

Context = dict[str, Any]

__all__ = ['Context', 'get_current_context']
