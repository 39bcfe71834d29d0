"""airflow.sdk.bases.sensor"""

from __future__ import annotations

from flowctl.authoring.sensors import BaseSensorOperator, PokeReturnValue  # noqa: F401

__all__ = ['BaseSensorOperator', 'PokeReturnValue']
