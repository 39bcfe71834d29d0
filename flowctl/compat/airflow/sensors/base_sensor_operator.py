"""airflow.sensors.base_sensor_operator (Airflow 1)"""

from __future__ import annotations

from flowctl.authoring.sensors import BaseSensorOperator  # noqa: F401

__all__ = ['BaseSensorOperator']
