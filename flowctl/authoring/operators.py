"""Operators: what a task does. `BaseOperator` holds the arguments every task
takes and the edge operators; subclasses implement `execute(context)`.

`execute` runs inside the task's own process (see `runner.py`); its return
value becomes the XCom `return_value` and must be a JSON value.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from flowctl.authoring.dag import DAG, Dependable, as_tasks, current_dag, current_group
from flowctl.errors import DagDefinitionError, TaskFailed, TaskSkipped

_BASE_DEFAULTS: dict[str, Any] = {
    "retries": 0,
    "retry_delay": timedelta(seconds=300),
    "retry_exponential_backoff": False,
    "max_retry_delay": None,
    "execution_timeout": None,
    "trigger_rule": "all_success",
    "depends_on_past": False,
    "priority_weight": 1,
    "pool": None,
    "on_failure_callback": None,
    "on_success_callback": None,
    "on_retry_callback": None,
}


_AIRFLOW_ONLY = frozenset(
    {"owner", "email", "email_on_failure", "email_on_retry", "queue", "sla", "weight_rule"}
)


class BaseOperator(Dependable):
    """One task of a DAG. Arguments not given come from the DAG's
    `default_args`, then from Airflow's defaults."""

    template_fields: tuple[str, ...] = ()
    ui_color = "white"

    def __init__(self, task_id: str, dag: DAG | None = None, **kwargs: Any) -> None:
        dag = dag or current_dag()
        if dag is None:
            raise DagDefinitionError(
                f"task {task_id!r} must be created inside a DAG (with DAG(...): or @dag)"
            )
        if not isinstance(task_id, str) or not task_id:
            raise DagDefinitionError(f"DAG {dag.dag_id!r}: task_id must be a non-empty string")
        group = current_group()
        self.group_id = group.full_id if group is not None else None
        self.task_id = group.child_id(task_id) if group is not None else task_id
        self.dag = dag
        self.doc_md = kwargs.pop("doc_md", None)
        self.params = {**dag.params, **(kwargs.pop("params", None) or {})}
        settings = {**_BASE_DEFAULTS}
        settings.update({k: v for k, v in dag.default_args.items() if k in _BASE_DEFAULTS})
        for key in list(kwargs):
            if key in _BASE_DEFAULTS:
                settings[key] = kwargs.pop(key)
        for key in _AIRFLOW_ONLY & set(kwargs):
            kwargs.pop(key)  # accepted so that Airflow DAG files move over unchanged
        if kwargs:
            raise DagDefinitionError(
                f"task {self.task_id!r}: unknown argument(s) {', '.join(sorted(kwargs))}"
            )
        self.retries: int = int(settings["retries"])
        self.retry_delay: timedelta = _as_timedelta(settings["retry_delay"], "retry_delay")
        self.retry_exponential_backoff: bool = bool(settings["retry_exponential_backoff"])
        self.max_retry_delay = _as_timedelta(settings["max_retry_delay"], "max_retry_delay")
        self.execution_timeout = _as_timedelta(settings["execution_timeout"], "execution_timeout")
        self.trigger_rule: str = str(getattr(settings["trigger_rule"], "value", settings["trigger_rule"]))
        self.depends_on_past: bool = bool(settings["depends_on_past"])
        self.priority_weight: int = int(settings["priority_weight"])
        self.pool = settings["pool"]
        self.on_failure_callback = settings["on_failure_callback"]
        self.on_success_callback = settings["on_success_callback"]
        self.on_retry_callback = settings["on_retry_callback"]
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        _check_trigger_rule(self.task_id, self.trigger_rule)
        dag.add_task(self)
        while group is not None:  # a task in a nested group belongs to every enclosing group
            group.children.append(self)
            group = group.parent

    # -- edges -------------------------------------------------------------

    def set_downstream(self, other: Any) -> None:
        for down in as_tasks(other):
            if hasattr(down, "roots") and not isinstance(down, BaseOperator):
                for root in down.roots():
                    self._link(root)
            else:
                self._link(_operator_of(down))

    def set_upstream(self, other: Any) -> None:
        for up in as_tasks(other):
            if hasattr(up, "leaves") and not isinstance(up, BaseOperator):
                for leaf in up.leaves():
                    leaf._link(self)
            else:
                _operator_of(up)._link(self)

    def _link(self, down: BaseOperator) -> None:
        if down.dag is not self.dag:
            raise DagDefinitionError(
                f"cannot link {self.task_id!r} to {down.task_id!r}: they are in different DAGs"
            )
        self.downstream_task_ids.add(down.task_id)
        down.upstream_task_ids.add(self.task_id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.task_id}>"

    @property
    def output(self) -> XComArg:
        """A reference to this task's return value, for passing to another task."""
        return XComArg(self)

    # -- what the loader records ------------------------------------------

    @property
    def operator_name(self) -> str:
        return type(self).__name__

    def code_text(self) -> str:
        """The text whose change means "this task's code changed" (`clear --changed`)."""
        return ""

    def fingerprint(self) -> str:
        text = f"{self.operator_name}\n{self.code_text()}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def execute(self, context: dict[str, Any]) -> Any:
        raise NotImplementedError


class XComArg(Dependable):
    """A task's future value. Passing it to another task makes an edge and,
    at run time, the value is pulled from the store."""

    def __init__(self, operator: BaseOperator, key: str = "return_value") -> None:
        self.operator = operator
        self.key = key

    def __getitem__(self, key: str) -> XComArg:
        return XComArg(self.operator, key)

    def set_downstream(self, other: Any) -> None:
        self.operator.set_downstream(other)

    def set_upstream(self, other: Any) -> None:
        self.operator.set_upstream(other)

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, {self.key!r})"


def _operator_of(value: Any) -> BaseOperator:
    if isinstance(value, BaseOperator):
        return value
    if isinstance(value, XComArg):
        return value.operator
    raise DagDefinitionError(f"cannot make a dependency on {value!r}: not a task")


def xcom_args_in(value: Any) -> Iterable[XComArg]:
    """Every XComArg inside a (nested) argument value."""
    if isinstance(value, XComArg):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from xcom_args_in(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from xcom_args_in(v)


def _as_timedelta(value: Any, name: str) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    raise DagDefinitionError(f"{name} must be a timedelta or a number of seconds, not {value!r}")


def _check_trigger_rule(task_id: str, rule: str) -> None:
    from flowctl.trigger_rules import TriggerRule

    valid = {r.value for r in TriggerRule}
    if rule not in valid:
        raise DagDefinitionError(
            f"task {task_id!r}: unknown trigger_rule {rule!r} (one of {', '.join(sorted(valid))})"
        )


def _source_of(fn: Callable[..., Any]) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        return repr(code.co_code) if code is not None else repr(fn)


def set_callable(op: Any, task_id: str, fn: Any, op_args: list[Any] | None, op_kwargs: dict[str, Any] | None) -> None:
    """The callable and its arguments of a Python task or sensor."""
    if not callable(fn):
        raise DagDefinitionError(f"task {task_id!r}: python_callable must be callable")
    op.python_callable = fn
    op.op_args = list(op_args or [])
    op.op_kwargs = dict(op_kwargs or {})


def link_references(op: BaseOperator) -> None:
    """A task's value passed as an argument (an XComArg) makes the edge from that task."""
    for ref in xcom_args_in([op.op_args, op.op_kwargs]):
        ref.operator.set_downstream(op)


def call_with_context(
    fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], context: dict[str, Any]
) -> Any:
    """Call `fn`, giving it context values for parameters of the same names,
    or the whole context through `**kwargs` (Airflow's convention)."""
    sig = inspect.signature(fn)
    params = sig.parameters
    takes_var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    call_kwargs = dict(kwargs)
    positional = [
        p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ][len(args):]
    for p in positional + [p for p in params.values() if p.kind is p.KEYWORD_ONLY]:
        if p.name not in call_kwargs and p.name in context:
            call_kwargs[p.name] = context[p.name]
    if takes_var_kw:
        for key, value in context.items():
            call_kwargs.setdefault(key, value)
    return fn(*args, **call_kwargs)


class EmptyOperator(BaseOperator):
    """Does nothing; useful to join or fan out branches."""

    ui_color = "grey70"

    def execute(self, context: dict[str, Any]) -> None:
        return None


class PythonOperator(BaseOperator):
    """Calls `python_callable(*op_args, **op_kwargs)`; the callable receives context
    values for its parameters of the same names. Its return value is the XCom."""

    template_fields = ("op_args", "op_kwargs", "templates_dict")

    def __init__(
        self,
        task_id: str,
        python_callable: Callable[..., Any],
        op_args: list[Any] | None = None,
        op_kwargs: dict[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        set_callable(self, task_id, python_callable, op_args, op_kwargs)
        self.templates_dict = templates_dict
        super().__init__(task_id=task_id, **kwargs)
        link_references(self)

    def code_text(self) -> str:
        return _source_of(self.python_callable)

    def execute(self, context: dict[str, Any]) -> Any:
        context = {**context, "templates_dict": self.templates_dict}
        return call_with_context(self.python_callable, self.op_args, self.op_kwargs, context)


class BranchPythonOperator(PythonOperator):
    """Its callable returns the task id (or ids) to follow; the other direct
    downstream tasks are skipped."""

    def execute(self, context: dict[str, Any]) -> Any:
        chosen = super().execute(context)
        follow = {chosen} if isinstance(chosen, str) else set(chosen or [])
        unknown = follow - self.downstream_task_ids
        if unknown:
            raise TaskFailed(
                f"branch returned {sorted(unknown)}, which are not downstream of {self.task_id!r}"
            )
        context["ti"].skip_downstream(sorted(self.downstream_task_ids - follow))
        return chosen


class ShortCircuitOperator(PythonOperator):
    """Skips every downstream task when its callable returns a falsy value."""

    def execute(self, context: dict[str, Any]) -> Any:
        value = super().execute(context)
        if not value:
            print(f"short-circuit: {value!r} is falsy; skipping downstream tasks")
            context["ti"].skip_downstream(sorted(self.downstream_task_ids), all_below=True)
        return value


class BashOperator(BaseOperator):
    """Runs `bash_command` in bash. Exit 0 is success, 99 skipped, anything else
    fails. The last line of stdout is the XCom `return_value`."""

    template_fields = ("bash_command", "env")
    ui_color = "lightblue"
    skip_exit_code = 99

    def __init__(
        self,
        task_id: str,
        bash_command: str,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        cwd: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(bash_command, str) or not bash_command.strip():
            raise DagDefinitionError(f"task {task_id!r}: bash_command must be a non-empty string")
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.cwd = cwd
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        return self.bash_command

    def execute(self, context: dict[str, Any]) -> Any:
        env = None
        if self.env is not None:
            env = {**os.environ, **self.env} if self.append_env else dict(self.env)
        sys.stdout.flush()
        proc = subprocess.Popen(
            ["bash", "-c", self.bash_command],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.cwd,
        )
        last = ""
        assert proc.stdout is not None
        out = sys.stdout.buffer
        for raw in proc.stdout:
            out.write(raw)
            out.flush()
            line = raw.decode(errors="replace").rstrip("\n")
            if line.strip():
                last = line
        code = proc.wait()
        if code == self.skip_exit_code:
            raise TaskSkipped(f"bash exited with {code}: skipped")
        if code != 0:
            raise TaskFailed(f"bash command failed with exit code {code}")
        return last or None
