"""`@task` (TaskFlow) and `@task_group`. Calling a decorated function inside a
DAG adds a task and returns a reference to its value; passing that reference
to another task call makes the edge and hands the value over at run time.

    @task
    def extract() -> list[int]: ...

    @task(retries=2)
    def total(rows: list[int]) -> int: ...

    total(extract())          # extract >> total; `rows` is extract's return value

Variants, as Airflow's: `@task.branch`, `@task.short_circuit`, `@task.bash`
(the function returns the command), `@task.sensor` (the function is the
poke), `@task.virtualenv`, `@task.external_python` and their branch forms.
`fn.override(task_id=..., retries=...)` gives the same task with other arguments.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from flowctl.authoring.dag import TaskGroup, current_dag, current_group
from flowctl.authoring.operators import (
    BaseOperator,
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
    XComArg,
    _source_of,
    call_with_context,
    exit_codes,
    run_bash,
)
from flowctl.errors import DagDefinitionError


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


class _DecoratedBash(PythonOperator):
    """`@task.bash`: the function, called with its arguments and the context,
    returns the command; the command is rendered as a template and run as a
    BashOperator runs it."""

    template_fields = ("templates_dict", "op_args", "op_kwargs", "env", "cwd")

    def __init__(self, task_id: str, python_callable: Callable[..., Any], env: dict[str, str] | None = None,
                 append_env: bool = False, cwd: str | None = None, skip_on_exit_code: Any = 99,
                 output_encoding: str = "utf-8", **kwargs: Any) -> None:
        self.env = env
        self.append_env = append_env
        self.cwd = cwd
        self.output_encoding = output_encoding
        self.skip_on_exit_code = exit_codes(skip_on_exit_code)
        super().__init__(task_id=task_id, python_callable=python_callable, **kwargs)

    @property
    def operator_name(self) -> str:
        return "@task.bash"

    def execute(self, context: dict[str, Any]) -> Any:
        merged = {**context, **self.op_kwargs}
        command = call_with_context(self.python_callable, self.op_args, self.op_kwargs, merged)
        if not isinstance(command, str) or not command.strip():
            raise TypeError("The returned value from the TaskFlow callable must be a non-empty string.")
        self.bash_command = self.render_template(command, context)
        return run_bash(self, self.bash_command, context)


def _unique_task_id(base: str, group: TaskGroup | None) -> str:
    """A second call of the same function gets `name__1`, as in Airflow."""
    dag = group.dag if group is not None else current_dag()

    def full(tid: str) -> str:
        return group.child_id(tid) if group is not None else tid

    if dag is None or full(base) not in dag.task_dict:
        return base
    n = 1
    while full(f"{base}__{n}") in dag.task_dict:
        n += 1
    return f"{base}__{n}"


def _returns_mapping(fn: Callable[..., Any]) -> bool:
    """Airflow infers `multiple_outputs` from a dict return annotation."""
    try:
        import typing

        annotation = typing.get_type_hints(fn).get("return", inspect.Signature.empty)
    except Exception:  # noqa: BLE001 - an annotation that does not evaluate
        annotation = inspect.signature(fn).return_annotation
        if isinstance(annotation, str):
            return annotation.replace(" ", "").lower().startswith(("dict[", "dict", "mapping", "typing.dict"))
    origin = getattr(annotation, "__origin__", annotation)
    return inspect.isclass(origin) and issubclass(origin, Mapping)


class TaskDecorator:
    """A decorated function: calling it adds a task; `.override()` changes its arguments."""

    def __init__(self, function: Callable[..., Any], operator_class: type[BaseOperator], kwargs: dict[str, Any]) -> None:
        if not callable(function):
            raise DagDefinitionError(f"@task needs a function, not {function!r}")
        self.function = function
        self.operator_class = operator_class
        self.kwargs = kwargs
        self.is_setup = False
        self.is_teardown = False
        self.on_failure_fail_dagrun = False
        functools.update_wrapper(self, function)  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        options = dict(self.kwargs)
        base = options.pop("task_id", None) or self.function.__name__
        group = options.get("task_group") or current_group()
        if "multiple_outputs" not in options and self.operator_class is _DecoratedOperator:
            options["multiple_outputs"] = _returns_mapping(self.function)
        op = self.operator_class(
            task_id=_unique_task_id(base, group),
            python_callable=self.function,
            op_args=list(args),
            op_kwargs=kwargs,
            **options,
        )
        if self.is_setup:
            op.as_setup()
        if self.is_teardown:
            op.as_teardown(on_failure_fail_dagrun=self.on_failure_fail_dagrun)
        return XComArg(op)

    def override(self, **kwargs: Any) -> TaskDecorator:
        twin = TaskDecorator(self.function, self.operator_class, {**self.kwargs, **kwargs})
        twin.is_setup, twin.is_teardown = self.is_setup, self.is_teardown
        twin.on_failure_fail_dagrun = self.on_failure_fail_dagrun
        return twin

    def expand(self, *args: Any, **kwargs: Any) -> Any:
        """`f.expand(x=[1, 2, 3])`: one instance of the task per element (see authoring/mapping.py)."""
        from flowctl.authoring.mapping import expand_decorated

        if args:
            raise DagDefinitionError(f"@task {self.function.__name__}: expand() takes keyword arguments only")
        return expand_decorated(self, {}, "expand", kwargs)

    def expand_kwargs(self, value: Any) -> Any:
        from flowctl.authoring.mapping import expand_decorated

        return expand_decorated(self, {}, "expand_kwargs", value)

    def partial(self, *args: Any, **kwargs: Any) -> Any:
        from flowctl.authoring.mapping import DecoratedPartial

        if args:
            raise DagDefinitionError(f"@task {self.function.__name__}: partial() takes keyword arguments only")
        return DecoratedPartial(self, kwargs)

    def __repr__(self) -> str:
        return f"<@task {self.function.__name__}>"


def make_decorator(operator_class: type[BaseOperator]) -> Callable[..., Any]:
    def decorator(python_callable: Callable[..., Any] | None = None, **task_kwargs: Any) -> Any:
        if python_callable is not None and not callable(python_callable):
            raise DagDefinitionError(f"@task: {python_callable!r} is not a function")

        def wrap(func: Callable[..., Any]) -> TaskDecorator:
            return TaskDecorator(func, operator_class, task_kwargs)

        return wrap(python_callable) if python_callable is not None else wrap

    return decorator


_PROVIDER_DECORATORS = {
    "docker": "docker",
    "kubernetes": "cncf-kubernetes",
    "kubernetes_cmd": "cncf-kubernetes",
    "pyspark": "apache-spark",
    "snowpark": "snowflake",
    "databricks_sql": "databricks",
    "sql": "common-sql",
}


class _Task:
    """`task`: the decorator, with its variants as attributes."""

    def __call__(self, python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
        return make_decorator(_DecoratedOperator)(python_callable, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        factories = _variants()
        if name in factories:
            return make_decorator(factories[name]())
        provider = _PROVIDER_DECORATORS.get(name)
        if provider is not None:
            raise DagDefinitionError(
                f"@task.{name} needs the Airflow provider package apache-airflow-providers-{provider}, "
                "which flowctl does not ship (flowctl runs core and standard-provider DAG code)"
            )
        raise AttributeError(f"task has no variant {name!r}")


def _variants() -> dict[str, Callable[[], type[BaseOperator]]]:
    def envs(name: str) -> Callable[[], type[BaseOperator]]:
        def load() -> type[BaseOperator]:
            from flowctl.authoring import python_envs

            return getattr(python_envs, name)

        return load

    def sensor() -> type[BaseOperator]:
        from flowctl.authoring.sensors import DecoratedSensor

        return DecoratedSensor

    return {
        "python": lambda: _DecoratedOperator,
        "branch": lambda: _DecoratedBranch,
        "short_circuit": lambda: _DecoratedShortCircuit,
        "bash": lambda: _DecoratedBash,
        "sensor": sensor,
        "virtualenv": envs("DecoratedVirtualenv"),
        "external_python": envs("DecoratedExternalPython"),
        "branch_virtualenv": envs("DecoratedBranchVirtualenv"),
        "branch_external_python": envs("DecoratedBranchExternalPython"),
    }


task: Any = _Task()


def setup(python_callable: Any) -> TaskDecorator:
    """`@setup` (Airflow's): a `@task` (or `@task.bash`, ...) whose tasks are setups."""
    decorated = python_callable if isinstance(python_callable, TaskDecorator) else task(python_callable)
    if not isinstance(decorated, TaskDecorator):
        raise DagDefinitionError(f"@setup needs a function or a @task, not {python_callable!r}")
    decorated.is_setup = True
    return decorated


def teardown(python_callable: Any = None, *, on_failure_fail_dagrun: bool = False) -> Any:
    """`@teardown` or `@teardown(on_failure_fail_dagrun=True)` (Airflow's): a `@task`
    whose tasks are teardowns (they run when their setup ran; their failure does not
    fail the run unless `on_failure_fail_dagrun`)."""

    def wrap(fn: Any) -> TaskDecorator:
        decorated = fn if isinstance(fn, TaskDecorator) else task(fn)
        if not isinstance(decorated, TaskDecorator):
            raise DagDefinitionError(f"@teardown needs a function or a @task, not {fn!r}")
        decorated.is_teardown = True
        decorated.on_failure_fail_dagrun = bool(on_failure_fail_dagrun)
        return decorated

    return wrap(python_callable) if python_callable is not None else wrap


class TaskGroupDecorator:
    """`@task_group`: calling the function builds a TaskGroup around what it creates."""

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self.function = function
        self.kwargs = kwargs
        functools.update_wrapper(self, function)  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        options = dict(self.kwargs)
        group_id = options.pop("group_id", None) or self.function.__name__
        if "tooltip" not in options and self.function.__doc__:
            options["tooltip"] = inspect.cleandoc(self.function.__doc__)
        with TaskGroup(group_id, add_suffix_on_collision=True, **options) as group:
            value = self.function(*args, **kwargs)
        return value if value is not None else group

    def override(self, **kwargs: Any) -> TaskGroupDecorator:
        return TaskGroupDecorator(self.function, {**self.kwargs, **kwargs})

    def expand(self, *args: Any, **kwargs: Any) -> Any:
        raise DagDefinitionError(f"@task_group {self.function.__name__}: mapped task groups are not supported yet")

    partial = expand_kwargs = expand


def task_group(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """`@task_group` or `@task_group(group_id=..., tooltip=..., default_args=...)`."""
    if python_callable is not None and not isinstance(python_callable, str):
        return TaskGroupDecorator(python_callable, kwargs)
    if isinstance(python_callable, str):
        kwargs["group_id"] = python_callable

    def wrap(fn: Callable[..., Any]) -> TaskGroupDecorator:
        return TaskGroupDecorator(fn, kwargs)

    return wrap
