"""airflow.sensors.external_task: waiting on another DAG (refused for now)."""

from __future__ import annotations

from airflow._refused import ExternalTaskMarker, ExternalTaskSensor  # noqa: F401

__all__ = ['ExternalTaskMarker', 'ExternalTaskSensor']
