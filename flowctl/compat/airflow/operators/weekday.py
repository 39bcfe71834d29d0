"""airflow.operators.weekday"""

from __future__ import annotations

from flowctl.authoring.calendar import BranchDayOfWeekOperator, WeekDay  # noqa: F401

__all__ = ['BranchDayOfWeekOperator', 'WeekDay']
