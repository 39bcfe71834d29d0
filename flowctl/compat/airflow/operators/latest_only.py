"""airflow.operators.latest_only"""

from __future__ import annotations

from flowctl.authoring.calendar import LatestOnlyOperator  # noqa: F401

__all__ = ['LatestOnlyOperator']
