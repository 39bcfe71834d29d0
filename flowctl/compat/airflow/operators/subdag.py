"""airflow.operators.subdag: SubDAGs (refused; use TaskGroup)."""

from __future__ import annotations

from airflow._refused import SubDagOperator  # noqa: F401

__all__ = ['SubDagOperator']
