"""airflow.providers.standard.sensors.python"""

from __future__ import annotations

from flowctl.authoring.sensors import PokeReturnValue, PythonSensor  # noqa: F401

__all__ = ['PythonSensor', 'PokeReturnValue']
