"""airflow.sensors.external_task_sensor (Airflow 1)"""

from __future__ import annotations

from flowctl.authoring.crossdag import ExternalTaskMarker, ExternalTaskSensor  # noqa: F401

__all__ = ['ExternalTaskMarker', 'ExternalTaskSensor']
