"""airflow.sensors.bash"""

from __future__ import annotations

from flowctl.authoring.sensors import BashSensor  # noqa: F401

__all__ = ['BashSensor']
