"""airflow.sensors.weekday"""

from __future__ import annotations

from flowctl.authoring.calendar import DayOfWeekSensor  # noqa: F401

__all__ = ['DayOfWeekSensor']
