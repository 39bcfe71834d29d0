"""airflow.sensors.python_sensor (Airflow 1)"""

from __future__ import annotations

from flowctl.authoring.sensors import PythonSensor  # noqa: F401

__all__ = ['PythonSensor']
