"""`@task`: TaskFlow. Calling a decorated function inside a DAG adds a task and
returns a reference to its value; passing that reference to another task call
makes the edge and hands the value over at run time.

    @task
    def extract() -> list[int]: ...

    @task(retries=2)
    def total(rows: list[int]) -> int: ...

    total(extract())          # extract >> total; `rows` is extract's return value
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flowctl.authoring.dag import current_dag
from flowctl.authoring.operators import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
    XComArg,
    _source_of,
)


class _DecoratedOperator(PythonOperator):
    """The operator behind a `@task` function; its code is the function's source."""

    @property
    def operator_name(self) -> str:
        return "@task"

    def code_text(self) -> str:
        return _source_of(self.python_callable)


class _DecoratedBranch(BranchPythonOperator):
    @property
    def operator_name(self) -> str:
        return "@task.branch"


class _DecoratedShortCircuit(ShortCircuitOperator):
    @property
    def operator_name(self) -> str:
        return "@task.short_circuit"


def _unique_task_id(base: str) -> str:
    """A second call of the same function gets `name__1`, as in Airflow."""
    dag = current_dag()
    if dag is None or base not in dag.tasks:
        return base
    n = 1
    while f"{base}__{n}" in dag.tasks:
        n += 1
    return f"{base}__{n}"


def _make_decorator(operator_class: type[PythonOperator]) -> Callable[..., Any]:
    def decorator(fn: Callable[..., Any] | None = None, **task_kwargs: Any) -> Any:
        def wrap(func: Callable[..., Any]) -> Callable[..., XComArg]:
            @functools.wraps(func)
            def call(*args: Any, **kwargs: Any) -> XComArg:
                task_id = task_kwargs.get("task_id") or func.__name__
                options = {k: v for k, v in task_kwargs.items() if k != "task_id"}
                op = operator_class(
                    task_id=_unique_task_id(task_id),
                    python_callable=func,
                    op_args=list(args),
                    op_kwargs=kwargs,
                    **options,
                )
                return XComArg(op)

            call.function = func  # type: ignore[attr-defined]
            return call

        return wrap(fn) if fn is not None else wrap

    return decorator


task: Any = _make_decorator(_DecoratedOperator)
task.branch = _make_decorator(_DecoratedBranch)
task.short_circuit = _make_decorator(_DecoratedShortCircuit)
