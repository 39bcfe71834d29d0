"""airflow.providers.standard.sensors.time"""

from __future__ import annotations

from flowctl.authoring.calendar import TimeSensor, TimeSensorAsync  # noqa: F401

__all__ = ['TimeSensor', 'TimeSensorAsync']
