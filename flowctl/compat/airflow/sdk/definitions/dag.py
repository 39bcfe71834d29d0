"""airflow.sdk.definitions.dag"""

from __future__ import annotations

from airflow.decorators import dag  # noqa: F401

from flowctl.authoring.dag import AirflowDAG as DAG  # noqa: F401

__all__ = ['DAG', 'dag']
