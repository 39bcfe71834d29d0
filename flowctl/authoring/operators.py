"""Operators: what a task does. `BaseOperator` holds the arguments every task
takes and the edge operators; subclasses implement `execute(context)`.

`execute` runs inside the task's own process (see runtime/runner.py); its return
value becomes the XCom `return_value` and must be a JSON value.

As in Airflow, an operator's own arguments are filled from the DAG's (and its
task groups') `default_args` when not given: `default_args={"bash_command": ...}`
or `{"poke_interval": 30}` reach the operators that take them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from flowctl.authoring.dag import (
    DAG,
    NOTSET,
    DagParam,
    Dependable,
    Label,
    TaskGroup,
    as_tasks,
    caller_line,
    check_id,
    current_dag,
    current_group,
)
from flowctl.errors import DagDefinitionError, TaskFailed, TaskSkipped
from flowctl.masking import mask_doc

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

_AIRFLOW2_RULES = {"none_failed_or_skipped": "none_failed_min_one_success", "dummy": "always"}
"""Trigger rule names Airflow 2 still took (deprecated), and what they are now."""

_NOT_FILLED = frozenset({"self", "task_id", "dag", "task_group", "default_args", "params", "kwargs"})


def _defaults_for(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The default_args an operator being built gets: its DAG's, its groups', its own."""
    group = kwargs.get("task_group") or current_group()
    dag = kwargs.get("dag") or (group.dag if group is not None else None) or current_dag()
    if dag is None:
        return dict(kwargs.get("default_args") or {})
    merged = group.all_default_args() if group is not None and group.dag is dag else dict(dag.default_args)
    merged.update(kwargs.get("default_args") or {})
    return merged


def _filling_defaults(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap an operator's `__init__`: fill its parameters from default_args, and
    once the outermost `__init__` is done, make the edges its XComArg arguments imply."""
    signature = inspect.signature(init)
    names = [
        n for n, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in _NOT_FILLED
    ]

    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if names:
            defaults = _defaults_for(kwargs)
            if defaults:
                try:
                    given = signature.bind_partial(self, *args, **kwargs).arguments
                except TypeError:
                    given = kwargs
                for name in names:
                    if name not in given and name in defaults:
                        kwargs[name] = defaults[name]
        depth = self.__dict__.get("_init_depth", 0)
        self.__dict__["_init_depth"] = depth + 1
        try:
            init(self, *args, **kwargs)
        finally:
            self.__dict__["_init_depth"] = depth
        if depth == 0 and "task_id" in self.__dict__:
            link_references(self)

    wrapper._fills_defaults = True  # type: ignore[attr-defined]
    return wrapper


class BaseOperator(Dependable):
    """One task of a DAG. Arguments not given come from the DAG's
    `default_args`, then from Airflow's defaults."""

    template_fields: tuple[str, ...] = ()
    template_ext: tuple[str, ...] = ()
    template_fields_renderers: dict[str, str] = {}
    ui_color = "white"
    ui_fgcolor = "#000"
    shallow_copy_attrs: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_fills_defaults", False):
            cls.__init__ = _filling_defaults(init)  # type: ignore[method-assign]

    def __init__(self, task_id: str, dag: DAG | None = None, **kwargs: Any) -> None:
        from flowctl.authoring.airflow_args import TASK_IGNORED, TASK_METADATA
        from flowctl.authoring.params import resolve_params

        group: TaskGroup | None = kwargs.pop("task_group", None) or current_group()
        dag = dag or (group.dag if group is not None else None) or current_dag()
        if dag is None:
            raise DagDefinitionError(
                f"task {task_id!r} must be created inside a DAG (with DAG(...): or @dag)"
            )
        if group is not None and group.dag is not dag:
            group = None
        check_id("task_id", task_id, f"DAG {dag.dag_id!r}")
        self.group_id = group.full_id if group is not None else None
        self.task_id = group.child_id(task_id) if group is not None else task_id
        check_id("task_id", self.task_id, f"DAG {dag.dag_id!r}")
        self.dag = dag
        self.lineno = caller_line()
        defaults = group.all_default_args() if group is not None else dict(dag.default_args)
        defaults.update(kwargs.pop("default_args", None) or {})
        values, specs = resolve_params(kwargs.pop("params", None) or {}, f"task {self.task_id!r}")
        self.params = {**dag.params, **values}
        self.param_specs = {**dag.param_specs, **specs}
        settings = {**_BASE_DEFAULTS}
        settings.update({k: v for k, v in defaults.items() if k in _BASE_DEFAULTS})
        airflow: dict[str, Any] = {k: v for k, v in defaults.items() if k in TASK_IGNORED or k in TASK_METADATA}
        from_defaults = set(airflow)
        for key in list(kwargs):
            if key in _BASE_DEFAULTS:
                settings[key] = kwargs.pop(key)
            elif key in TASK_IGNORED or key in TASK_METADATA:
                airflow[key] = kwargs.pop(key)
                from_defaults.discard(key)
        if kwargs:
            raise DagDefinitionError(
                f"task {self.task_id!r}: unknown argument(s) {', '.join(sorted(kwargs))}"
            )
        for key, value in airflow.items():
            if key in TASK_IGNORED and value not in (None, False, "", [], (), {}):
                dag.warn(key, "default_args" if key in from_defaults else self.task_id)
        self.retries: int = int(settings["retries"])
        self.retry_delay: timedelta = _as_timedelta(settings["retry_delay"], "retry_delay")
        self.retry_exponential_backoff: bool = bool(settings["retry_exponential_backoff"])
        self.max_retry_delay = _as_timedelta(settings["max_retry_delay"], "max_retry_delay")
        self.execution_timeout = _as_timedelta(settings["execution_timeout"], "execution_timeout")
        rule = str(getattr(settings["trigger_rule"], "value", settings["trigger_rule"]))
        self.trigger_rule: str = _AIRFLOW2_RULES.get(rule, rule)
        self.depends_on_past: bool = bool(settings["depends_on_past"])
        self.priority_weight: int = int(settings["priority_weight"])
        self.pool = settings["pool"]
        self.on_failure_callback = settings["on_failure_callback"]
        self.on_success_callback = settings["on_success_callback"]
        self.on_retry_callback = settings["on_retry_callback"]
        self.owner = str(airflow.get("owner") or "airflow")
        email = airflow.get("email")
        self.email: list[str] = [email] if isinstance(email, str) else [str(e) for e in (email or [])]
        self.email_on_failure = bool(airflow.get("email_on_failure", True))
        self.email_on_retry = bool(airflow.get("email_on_retry", True))
        self.do_xcom_push = bool(airflow.get("do_xcom_push", True))
        if "multiple_outputs" in airflow or not hasattr(self, "multiple_outputs"):
            self.multiple_outputs = bool(airflow.get("multiple_outputs", False))
        self.doc_md = airflow.get("doc_md")
        self.doc = airflow.get("doc") or airflow.get("doc_rst") or airflow.get("doc_json") or airflow.get("doc_yaml")
        self.task_display_name = str(airflow.get("task_display_name") or task_id)
        self.start_date = airflow.get("start_date")
        self.end_date = airflow.get("end_date")
        self.on_execute_callback = airflow.get("on_execute_callback")
        self.on_skipped_callback = airflow.get("on_skipped_callback")
        self._pre_execute_hook = airflow.get("pre_execute")
        self._post_execute_hook = airflow.get("post_execute")
        self.pool_slots = int(airflow.get("pool_slots") or 1)
        self.max_active_tis_per_dag = airflow.get("max_active_tis_per_dag") or airflow.get("task_concurrency")
        self.queue = airflow.get("queue") or "default"
        self.outlets = _asset_list(airflow.get("outlets"), self.task_id, "outlets")
        self.inlets = _asset_list(airflow.get("inlets"), self.task_id, "inlets")
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()
        self.is_setup = False
        self.is_teardown = False
        self.on_failure_fail_dagrun = False
        _check_trigger_rule(self.task_id, self.trigger_rule)
        dag.add_task(self)
        while group is not None:  # a task in a nested group belongs to every enclosing group
            group.children.append(self)
            group = group.parent

    # -- setup and teardown (Airflow 2.7+) -------------------------------------

    def as_setup(self) -> BaseOperator:
        """Mark this task a setup: its teardowns run when it ran, and clearing a task
        in its scope clears it too."""
        self.is_setup = True
        return self

    def as_teardown(self, *, setups: Any = NOTSET, on_failure_fail_dagrun: Any = NOTSET) -> BaseOperator:
        """Mark this task a teardown of `setups` (each becomes a setup, upstream of it):
        it runs once its upstream tasks are done if a setup succeeded (trigger rule
        all_done_setup_success); its failure does not fail the run unless
        `on_failure_fail_dagrun`."""
        self.is_teardown = True
        self.trigger_rule = "all_done_setup_success"
        if on_failure_fail_dagrun is not NOTSET:
            self.on_failure_fail_dagrun = bool(on_failure_fail_dagrun)
        if setups is not NOTSET:
            for setup in as_tasks(setups):
                op = _operator_of(setup)
                op.as_setup()
                op >> self
        return self

    def __enter__(self) -> Any:
        from flowctl.authoring.setup_teardown import enter

        return enter(self)

    def __exit__(self, *exc: object) -> None:
        from flowctl.authoring.setup_teardown import leave

        leave()

    # -- Airflow's operator API ----------------------------------------------

    @classmethod
    def partial(cls, *args: Any, **kwargs: Any) -> Any:
        """`Operator.partial(task_id=..., **fixed).expand(name=[...])`: a mapped task."""
        from flowctl.authoring.mapping import OperatorPartial

        if args:
            raise DagDefinitionError(f"{cls.__name__}.partial() takes keyword arguments only")
        return OperatorPartial(cls, kwargs)

    @property
    def dag_id(self) -> str:
        return self.dag.dag_id

    @property
    def task_type(self) -> str:
        return type(self).__name__

    @property
    def upstream_list(self) -> list[BaseOperator]:
        return [self.dag.task_dict[t] for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[BaseOperator]:
        return [self.dag.task_dict[t] for t in sorted(self.downstream_task_ids)]

    def get_direct_relative_ids(self, upstream: bool = False) -> set[str]:
        return set(self.upstream_task_ids if upstream else self.downstream_task_ids)

    def pre_execute(self, context: dict[str, Any]) -> None:
        if self._pre_execute_hook is not None:
            self._pre_execute_hook(context)

    def post_execute(self, context: dict[str, Any], result: Any = None) -> None:
        if self._post_execute_hook is not None:
            self._post_execute_hook(context, result)

    def render_template(self, content: Any, context: dict[str, Any], jinja_env: Any = None) -> Any:
        """Render `content` (strings inside lists and dicts too) with the context, as Airflow's."""
        from flowctl.runtime.templating import render

        return render(content, context, env=jinja_env, task=self)

    @property
    def log(self) -> Any:
        import logging

        return logging.getLogger(f"airflow.task.operators.{type(self).__module__}.{type(self).__name__}")

    # -- edges -------------------------------------------------------------

    def set_downstream(self, other: Any, edge_modifier: Label | None = None) -> None:
        for down in as_tasks(other):
            if isinstance(down, Label):
                down.set_upstream(self)
            elif edge_modifier is not None:
                edge_modifier.set_upstream(self)
                edge_modifier.set_downstream(down)
            elif hasattr(down, "roots") and not isinstance(down, BaseOperator):
                for root in down.roots():
                    self._link(root)
            else:
                self._link(_operator_of(down))

    def set_upstream(self, other: Any, edge_modifier: Label | None = None) -> None:
        for up in as_tasks(other):
            if isinstance(up, Label):
                up.set_downstream(self)
            elif edge_modifier is not None:
                edge_modifier.set_upstream(up)
                edge_modifier.set_downstream(self)
            elif hasattr(up, "leaves") and not isinstance(up, BaseOperator):
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
        self.dag.edge_lines.setdefault((self.task_id, down.task_id), caller_line())

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

    def spec_extras(self) -> dict[str, Any]:
        """What the loader records besides the common arguments: the assets the
        task updates and reads, and what a cross-DAG task points at."""
        from flowctl.authoring.assets import aliases_in, assets_in

        return {
            "outlets": tuple(dict.fromkeys(a.uri for a in assets_in(self.outlets))),
            "outlet_aliases": tuple(dict.fromkeys(a.name for a in aliases_in(self.outlets))),
            "inlets": tuple(dict.fromkeys(a.uri for a in assets_in(self.inlets))),
            "external": self.external_spec(),
        }

    def external_spec(self) -> dict[str, Any] | None:
        """For a task that points at another DAG (authoring/crossdag.py): what it points at."""
        return None

    def fingerprint(self) -> str:
        text = f"{self.operator_name}\n{self.code_text()}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def execute(self, context: dict[str, Any]) -> Any:
        raise NotImplementedError


BaseOperator.__init__ = _filling_defaults(BaseOperator.__init__)  # type: ignore[method-assign]


class XComArg(Dependable):
    """A task's future value. Passing it to another task makes an edge and,
    at run time, the value is pulled from the store. In a string (an f-string,
    a template) it is Airflow's `{{ task_instance.xcom_pull(...) }}`."""

    def __init__(self, operator: BaseOperator, key: str = "return_value") -> None:
        self.operator = operator
        self.key = key

    def __getitem__(self, key: str) -> XComArg:
        return XComArg(self.operator, key)

    def __iter__(self) -> Any:
        raise TypeError("an XComArg is not iterable: its value exists only when the task runs")

    def __str__(self) -> str:
        return (
            "{{ task_instance.xcom_pull("
            f"task_ids='{self.operator.task_id}', dag_id='{self.operator.dag.dag_id}', key='{self.key}'"
            ") }}"
        )

    def resolve(self, context: dict[str, Any]) -> Any:
        return context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key)

    def set_downstream(self, other: Any, edge_modifier: Label | None = None) -> None:
        self.operator.set_downstream(other, edge_modifier)

    def set_upstream(self, other: Any, edge_modifier: Label | None = None) -> None:
        self.operator.set_upstream(other, edge_modifier)

    def map(self, f: Any) -> Any:
        """Each element of this value through `f`, for mapping over (Airflow's XComArg.map)."""
        from flowctl.authoring.mapping import MapInput

        return MapInput(self, f)

    def zip(self, *others: Any, **kwargs: Any) -> Any:
        """This value's elements zipped with others' (to the shortest, or the longest with `fillvalue`)."""
        from flowctl.authoring.mapping import ZipInput

        if kwargs.keys() - {"fillvalue"}:
            raise DagDefinitionError(f"zip() takes only fillvalue=, not {sorted(kwargs.keys() - {'fillvalue'})}")
        return ZipInput([self, *others], kwargs.get("fillvalue"), "fillvalue" in kwargs)

    def concat(self, *others: Any) -> Any:
        """This value's elements, then the others' (Airflow's XComArg.concat)."""
        from flowctl.authoring.mapping import ConcatInput

        return ConcatInput([self, *others])

    # setup and teardown, as Airflow's XComArg: they act on the task and return the reference
    def as_setup(self) -> XComArg:
        self.operator.as_setup()
        return self

    def as_teardown(self, *, setups: Any = NOTSET, on_failure_fail_dagrun: Any = NOTSET) -> XComArg:
        self.operator.as_teardown(setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)
        return self

    @property
    def is_setup(self) -> bool:
        return self.operator.is_setup

    @property
    def is_teardown(self) -> bool:
        return self.operator.is_teardown

    def __enter__(self) -> Any:
        return self.operator.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.operator.__exit__(*exc)

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
    elif hasattr(value, "resolve_with"):  # map/zip/concat of task values (authoring/mapping.py)
        yield from xcom_args_in(value.parts)
    elif isinstance(value, dict):
        for v in value.values():
            yield from xcom_args_in(v)
    elif isinstance(value, list | tuple | set):
        for v in value:
            yield from xcom_args_in(v)


def has_references(value: Any) -> bool:
    """Whether a value holds an XComArg or a DagParam, resolved when the task runs."""
    if isinstance(value, XComArg | DagParam) or hasattr(value, "resolve_with"):
        return True
    if isinstance(value, dict):
        return any(has_references(v) for v in value.values())
    if isinstance(value, list | tuple | set):
        return any(has_references(v) for v in value)
    return False


def _asset_list(value: Any, task_id: str, name: str) -> list[Any]:
    """`outlets` / `inlets`: assets and aliases (anything else Airflow's lineage
    took, such as a task's XComArg for inlets, is kept and not recorded)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple | set) else [value]


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
    # a template or an XComArg stands for the whole list: it is rendered or pulled when the try runs
    op.op_args = list(op_args or []) if op_args is None or isinstance(op_args, list | tuple) else op_args
    op.op_kwargs = dict(op_kwargs or {})


def link_references(op: BaseOperator) -> None:
    """A task's value passed as an argument or in a templated field (an XComArg)
    makes the edge from that task."""
    values = [getattr(op, name, None) for name in (*op.template_fields, "op_args", "op_kwargs")]
    for ref in xcom_args_in(values):
        if ref.operator is not op:
            ref.operator.set_downstream(op)


_signatures: dict[Any, inspect.Signature] = {}


def signature_of(fn: Callable[..., Any]) -> inspect.Signature:
    """`inspect.signature`, remembered (a fork server works it out once for every try)."""
    try:
        hit = _signatures.get(fn)
    except TypeError:  # an unhashable callable
        return inspect.signature(fn)
    if hit is None:
        hit = _signatures[fn] = inspect.signature(fn)
    return hit


def call_with_context(
    fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], context: dict[str, Any]
) -> Any:
    """Call `fn`, giving it context values for parameters of the same names,
    or the whole context through `**kwargs` (Airflow's convention). An async
    callable is run to completion."""
    sig = signature_of(fn)
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
    result = fn(*args, **call_kwargs)
    if inspect.isawaitable(result):
        import asyncio

        result = asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


class EmptyOperator(BaseOperator):
    """Does nothing; useful to join or fan out branches."""

    ui_color = "grey70"

    def execute(self, context: dict[str, Any]) -> None:
        return None


class PythonOperator(BaseOperator):
    """Calls `python_callable(*op_args, **op_kwargs)`; the callable receives context
    values for its parameters of the same names. Its return value is the XCom."""

    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def __init__(
        self,
        task_id: str,
        python_callable: Callable[..., Any],
        op_args: list[Any] | None = None,
        op_kwargs: dict[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: list[str] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        set_callable(self, task_id, python_callable, op_args, op_kwargs)
        self.templates_dict = templates_dict
        if templates_exts:
            self.template_ext = tuple(templates_exts)
        self.show_return_value_in_logs = show_return_value_in_logs
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        return _source_of(self.python_callable)

    def execute_callable(self, context: dict[str, Any]) -> Any:
        context["templates_dict"] = self.templates_dict  # (not a copy: the context makes its values when read)
        return call_with_context(self.python_callable, list(self.op_args), self.op_kwargs, context)

    def execute(self, context: dict[str, Any]) -> Any:
        value = self.execute_callable(context)
        if self.show_return_value_in_logs and value is not None:
            print(f"Done. Returned value was: {mask_doc(value)!r}", flush=True)  # secret-looking keys as ***
        return value


class BranchMixin:
    """What a branch does with its choice: the other direct downstream tasks are
    skipped. A task group id stands for its roots; None skips them all."""

    def do_branch(self, context: dict[str, Any], chosen: Any) -> Any:
        op: BaseOperator = self  # type: ignore[assignment]
        follow = {chosen} if isinstance(chosen, str) else set(chosen or [])
        expanded: set[str] = set()
        for tid in follow:
            members = [t for t in op.dag.task_dict.values() if t.group_id == tid or (t.group_id or "").startswith(f"{tid}.")]
            if tid not in op.dag.task_dict and members:
                ids = {t.task_id for t in members}
                expanded |= {t.task_id for t in members if not (t.upstream_task_ids & ids)}
            else:
                expanded.add(tid)
        unknown = expanded - op.downstream_task_ids
        if unknown:
            raise TaskFailed(
                f"branch returned {sorted(unknown)}, which are not downstream of {op.task_id!r}"
            )
        print(f"Branch: following {sorted(expanded) or 'nothing'}", flush=True)
        context["ti"].skip_downstream(sorted(op.downstream_task_ids - expanded))
        return chosen


class BranchPythonOperator(BranchMixin, PythonOperator):
    """Its callable returns the task id (or ids) to follow; the other direct
    downstream tasks are skipped."""

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, self.execute_callable(context))


class BaseBranchOperator(BranchMixin, BaseOperator):
    """Subclass and implement `choose_branch(context)` (Airflow's)."""

    def choose_branch(self, context: dict[str, Any]) -> Any:
        raise NotImplementedError

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, self.choose_branch(context))


class ShortCircuitMixin:
    """Skip downstream when the value is falsy: every task below
    (`ignore_downstream_trigger_rules=True`, the default) or only the direct
    downstream tasks, the rest then following their trigger rules."""

    ignore_downstream_trigger_rules = True

    def do_short_circuit(self, context: dict[str, Any], value: Any) -> Any:
        op: BaseOperator = self  # type: ignore[assignment]
        if not value:
            which = "all downstream tasks" if self.ignore_downstream_trigger_rules else "the direct downstream tasks"
            print(f"Condition result is {value!r}: skipping {which}", flush=True)
            context["ti"].skip_downstream(sorted(op.downstream_task_ids),
                                          all_below=self.ignore_downstream_trigger_rules)
        else:
            print(f"Condition result is {value!r}: proceeding with downstream tasks", flush=True)
        return value


class ShortCircuitOperator(ShortCircuitMixin, PythonOperator):
    """Skips downstream tasks when its callable returns a falsy value."""

    def __init__(self, task_id: str, python_callable: Callable[..., Any],
                 ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        self.ignore_downstream_trigger_rules = bool(ignore_downstream_trigger_rules)
        super().__init__(task_id=task_id, python_callable=python_callable, **kwargs)

    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_short_circuit(context, self.execute_callable(context))


def exit_codes(value: Any) -> tuple[int, ...]:
    """`skip_on_exit_code` as Airflow takes it (None, one code, or several) as a tuple."""
    if value is None:
        return ()
    return (value,) if isinstance(value, int) else tuple(value)


def airflow_env(context: dict[str, Any]) -> dict[str, str]:
    """The AIRFLOW_CTX_* variables Airflow gives a task's subprocesses."""
    ti = context.get("ti")
    run = context.get("dag_run")
    logical = context.get("logical_date")
    env = {
        "AIRFLOW_CTX_DAG_ID": str(getattr(ti, "dag_id", "") or ""),
        "AIRFLOW_CTX_TASK_ID": str(getattr(ti, "task_id", "") or ""),
        "AIRFLOW_CTX_DAG_RUN_ID": str(context.get("run_id") or ""),
        "AIRFLOW_CTX_TRY_NUMBER": str(getattr(ti, "try_number", "") or ""),
        "AIRFLOW_CTX_LOGICAL_DATE": logical.isoformat() if logical is not None else "",
        "AIRFLOW_CTX_EXECUTION_DATE": logical.isoformat() if logical is not None else "",
        "AIRFLOW_CTX_DAG_OWNER": str(getattr(context.get("dag"), "owner", "") or ""),
    }
    if run is not None and getattr(run, "run_type", None):
        env["AIRFLOW_CTX_DAG_RUN_TYPE"] = str(run.run_type)
    return env


class BashOperator(BaseOperator):
    """Runs `bash_command` in bash. Exit 0 is success, 99 skipped, anything else
    fails. The last line of stdout is the XCom `return_value`. A command ending
    in `.sh` or `.bash` is a template file, read and rendered (Airflow's rule)."""

    template_fields = ("bash_command", "env", "cwd")
    template_ext = (".sh", ".bash")
    ui_color = "lightblue"
    skip_exit_code = 99

    def __init__(
        self,
        task_id: str,
        bash_command: Any,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        cwd: str | None = None,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Iterable[int] | None = 99,
        output_processor: Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not has_references(bash_command) and (not isinstance(bash_command, str) or not bash_command.strip()):
            raise DagDefinitionError(f"task {task_id!r}: bash_command must be a non-empty string")
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.cwd = cwd
        self.output_encoding = output_encoding
        self.skip_on_exit_code = exit_codes(skip_on_exit_code)
        self.output_processor = output_processor
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        return str(self.bash_command)

    def execute(self, context: dict[str, Any]) -> Any:
        return run_bash(self, str(self.bash_command), context)


def run_bash(task: Any, command: str, context: dict[str, Any]) -> Any:
    """Run `command` in bash with the task's env and cwd; stdout and stderr go to
    the log (registered secrets redacted); the last stdout line is the result."""
    base = {**os.environ, **airflow_env(context)}
    if getattr(task, "env", None) is not None:
        env = {**base, **task.env} if task.append_env else {**airflow_env(context), **task.env}
    else:
        env = base
    env = {str(k): str(v) for k, v in env.items()}
    with bash_working_dir(task) as cwd:
        return _run_bash_in(task, command, env, cwd)


@contextlib.contextmanager
def bash_working_dir(task: Any) -> Iterator[str | None]:
    """Where a Bash task runs: its `cwd`; else, in a DAG made through the
    `airflow` layer, a fresh temporary directory removed after the try (Airflow's
    SubprocessHook); else, in a DAG made with flowctl's API, the directory
    flowctl was started from (its README tour writes `data/` there)."""
    cwd = getattr(task, "cwd", None)
    if cwd is not None or not getattr(getattr(task, "dag", None), "airflow_layer", False):
        yield cwd
        return
    with tempfile.TemporaryDirectory(prefix="airflowtmp") as tmp:
        yield tmp


def _run_bash_in(task: Any, command: str, env: dict[str, str], cwd: str | None) -> Any:
    import threading

    from flowctl import masking

    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.Popen(
        ["bash", "-c", command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None and proc.stderr is not None
    err_out = getattr(sys.stderr, "buffer", None)

    def copy_stderr() -> None:
        for raw in proc.stderr:  # type: ignore[union-attr]
            if err_out is not None:
                err_out.write(masking.redact_bytes(raw))
                err_out.flush()

    pump = threading.Thread(target=copy_stderr, daemon=True)
    pump.start()
    limit = getattr(task, "_xcom_limit", None)
    last = b""
    too_big = 0
    out = sys.stdout.buffer
    for raw in proc.stdout:
        out.write(masking.redact_bytes(raw))
        out.flush()
        line = raw.rstrip(b"\n")
        if line.strip():
            if limit is not None and len(line) > limit:
                last, too_big = b"", len(line)
            else:
                last, too_big = line, 0
    code = proc.wait()
    pump.join(timeout=5)
    codes = getattr(task, "skip_on_exit_code", (BashOperator.skip_exit_code,))
    if code in codes:
        raise TaskSkipped(f"Bash command returned exit code {code}. Skipping.")
    if code != 0:
        raise TaskFailed(f"Bash command failed. The command returned a non-zero exit code {code}.")
    if too_big and getattr(task, "do_xcom_push", True):
        from flowctl.runtime.runner import xcom_too_big

        raise TaskFailed(xcom_too_big("return_value", task.task_id, too_big + 2, limit))
    text = last.decode(getattr(task, "output_encoding", "utf-8"), errors="replace")
    processor = getattr(task, "output_processor", None)
    if processor is not None:
        return processor(text)
    return text or None
