"""airflow.sdk.api.datamodels._generated: the enums DAG files import from it."""

from __future__ import annotations

from airflow.utils.state import DagRunState, TaskInstanceState  # noqa: F401
from airflow.utils.trigger_rule import TriggerRule  # noqa: F401
from airflow.utils.types import DagRunType  # noqa: F401

__all__ = ['TriggerRule', 'DagRunState', 'TaskInstanceState', 'DagRunType']
