"""airflow.providers.standard.operators.datetime"""

from __future__ import annotations

from flowctl.authoring.calendar import BranchDateTimeOperator  # noqa: F401

__all__ = ['BranchDateTimeOperator']
