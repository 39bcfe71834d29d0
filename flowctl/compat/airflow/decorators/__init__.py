"""airflow.decorators: @dag, @task (with its variants), @task_group."""

from __future__ import annotations

from typing import Any

from flowctl.authoring.dag import AirflowDAG, make_dag_decorator
from flowctl.authoring.decorators import task, task_group  # noqa: F401

dag = make_dag_decorator(AirflowDAG)


def setup(*args: Any, **kwargs: Any) -> Any:
    from airflow._refused import refuse

    refuse("@setup", "setup and teardown tasks are not supported yet")


def teardown(*args: Any, **kwargs: Any) -> Any:
    from airflow._refused import refuse

    refuse("@teardown", "setup and teardown tasks are not supported yet")

__all__ = ['dag', 'task', 'task_group', 'setup', 'teardown']
