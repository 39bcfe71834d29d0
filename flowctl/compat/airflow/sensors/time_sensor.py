"""airflow.sensors.time_sensor"""

from __future__ import annotations

from flowctl.authoring.calendar import TimeSensor, TimeSensorAsync  # noqa: F401

__all__ = ['TimeSensor', 'TimeSensorAsync']
