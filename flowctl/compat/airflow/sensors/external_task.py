"""airflow.sensors.external_task: waiting on, and clearing across, other DAGs."""

from __future__ import annotations

from flowctl.authoring.crossdag import ExternalTaskMarker, ExternalTaskSensor  # noqa: F401

__all__ = ['ExternalTaskMarker', 'ExternalTaskSensor']
