"""airflow.models.dag: DAG, and the @dag decorator at its Airflow 2 home."""

from __future__ import annotations

from airflow.decorators import dag  # noqa: F401

from flowctl.authoring.dag import NOTSET
from flowctl.authoring.dag import AirflowDAG as DAG  # noqa: F401

__all__ = ['DAG', 'NOTSET', 'dag']
