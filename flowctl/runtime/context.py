"""The running task's context, for code that did not receive it as an argument."""

from __future__ import annotations

from typing import Any

_current: dict[str, Any] | None = None


def set_current_context(context: dict[str, Any] | None) -> None:
    global _current
    _current = context


def get_current_context() -> dict[str, Any]:
    """The template context of the task running in this process (Airflow's API)."""
    if _current is None:
        raise RuntimeError("get_current_context() works only while a task is running")
    return _current
