"""airflow.providers.standard.sensors.date_time"""

from __future__ import annotations

from flowctl.authoring.calendar import DateTimeSensor, DateTimeSensorAsync  # noqa: F401

__all__ = ['DateTimeSensor', 'DateTimeSensorAsync']
