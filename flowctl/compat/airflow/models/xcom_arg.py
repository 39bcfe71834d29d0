"""airflow.models.xcom_arg"""

from __future__ import annotations

from flowctl.authoring.operators import XComArg  # noqa: F401

__all__ = ['XComArg']
