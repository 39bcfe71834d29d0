"""airflow.models.variable"""

from __future__ import annotations

from flowctl.variables import Variable  # noqa: F401

__all__ = ['Variable']
