"""airflow.decorators: @dag, @task (with its variants), @task_group."""

from __future__ import annotations

from flowctl.authoring.dag import AirflowDAG, make_dag_decorator
from flowctl.authoring.decorators import setup, task, task_group, teardown  # noqa: F401

dag = make_dag_decorator(AirflowDAG)


__all__ = ['dag', 'task', 'task_group', 'setup', 'teardown']
