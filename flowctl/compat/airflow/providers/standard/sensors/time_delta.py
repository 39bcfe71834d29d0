"""airflow.providers.standard.sensors.time_delta"""

from __future__ import annotations

from flowctl.authoring.sensors import TimeDeltaSensor, TimeDeltaSensorAsync  # noqa: F401

__all__ = ['TimeDeltaSensor', 'TimeDeltaSensorAsync']
