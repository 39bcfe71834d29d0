"""airflow.providers.standard.sensors.filesystem"""

from __future__ import annotations

from flowctl.authoring.sensors import FileSensor  # noqa: F401

__all__ = ['FileSensor']
