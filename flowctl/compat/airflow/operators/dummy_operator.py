"""airflow.operators.dummy_operator (Airflow 1)"""

from __future__ import annotations

from flowctl.authoring.operators import EmptyOperator as DummyOperator  # noqa: F401

__all__ = ['DummyOperator']
