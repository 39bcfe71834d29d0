"""airflow.providers.standard.operators.empty"""

from __future__ import annotations

from flowctl.authoring.operators import EmptyOperator  # noqa: F401

__all__ = ['EmptyOperator']
