"""airflow.sensors.time_delta_sensor (Airflow 1)"""

from __future__ import annotations

from flowctl.authoring.sensors import TimeDeltaSensor  # noqa: F401

__all__ = ['TimeDeltaSensor']
