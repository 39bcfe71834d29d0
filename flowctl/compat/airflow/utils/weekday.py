"""airflow.utils.weekday"""

from __future__ import annotations

from flowctl.authoring.calendar import WeekDay  # noqa: F401

__all__ = ['WeekDay']
