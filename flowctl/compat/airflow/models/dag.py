"""airflow.models.dag"""

from __future__ import annotations

from flowctl.authoring.dag import NOTSET
from flowctl.authoring.dag import AirflowDAG as DAG  # noqa: F401

__all__ = ['DAG', 'NOTSET']
