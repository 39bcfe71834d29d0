"""airflow.providers.standard.operators.trigger_dagrun: triggering another DAG (refused for now)."""

from __future__ import annotations

from airflow._refused import TriggerDagRunOperator  # noqa: F401

__all__ = ['TriggerDagRunOperator']
