"""airflow.operators.dummy (Airflow 2's old name of EmptyOperator)"""

from __future__ import annotations

from flowctl.authoring.operators import EmptyOperator
from flowctl.authoring.operators import EmptyOperator as DummyOperator  # noqa: F401

__all__ = ['DummyOperator', 'EmptyOperator']
