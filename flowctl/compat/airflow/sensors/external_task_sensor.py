"""airflow.sensors.external_task_sensor (Airflow 1)"""

from __future__ import annotations

from airflow._refused import ExternalTaskMarker, ExternalTaskSensor  # noqa: F401

__all__ = ['ExternalTaskMarker', 'ExternalTaskSensor']
