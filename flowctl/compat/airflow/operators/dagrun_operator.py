"""airflow.operators.dagrun_operator (Airflow 1)"""

from __future__ import annotations

from airflow._refused import TriggerDagRunOperator  # noqa: F401

__all__ = ['TriggerDagRunOperator']
