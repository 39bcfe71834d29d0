"""airflow.providers.standard.operators.weekday"""

from __future__ import annotations

from flowctl.authoring.calendar import BranchDayOfWeekOperator  # noqa: F401

__all__ = ['BranchDayOfWeekOperator']
