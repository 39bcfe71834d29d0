"""Dynamic task mapping: `.partial(...).expand(...)` and `.expand_kwargs(...)`.

A mapped task is one node of the DAG (a `MappedOperator`) that becomes one
task instance per element when it is about to run: the engine counts the
elements (literal lists are counted from the spec, an upstream task's value
from its committed XCom) and makes the instances; each instance's process
builds the real operator with its element's arguments (`unmap`).

    add_one.expand(x=[1, 2, 3])                        # three instances, x = 1, 2, 3
    BashOperator.partial(task_id="echo").expand(bash_command=["echo a", "echo b"])
    times_2.expand(num=get_nums())                     # as many as get_nums returns
    add_10.expand(num=times_2.expand(num=nums))        # mapping over a mapped task's results
    copy.expand_kwargs([{"src": "a", "dst": "b"}, ...])

Several mapped arguments give their cross product, as in Airflow. A task
downstream of a mapped task receives its results as a list, in map-index order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from flowctl.authoring.dag import current_dag, current_group
from flowctl.authoring.operators import BaseOperator, XComArg, _source_of, xcom_args_in
from flowctl.errors import DagDefinitionError

# arguments that make the node a task (BaseOperator's), not the operator's own
_NODE_ARGS = frozenset({
    "retries", "retry_delay", "retry_exponential_backoff", "max_retry_delay", "execution_timeout",
    "trigger_rule", "depends_on_past", "priority_weight", "pool", "on_failure_callback",
    "on_success_callback", "on_retry_callback", "dag", "task_group", "default_args", "params",
    "outlets", "inlets",
})


def _node_args(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split arguments into the task node's (BaseOperator) and the operator's own."""
    from flowctl.authoring.airflow_args import TASK_IGNORED, TASK_METADATA

    node, own = {}, {}
    for key, value in kwargs.items():
        if key in _NODE_ARGS or key in TASK_IGNORED or key in TASK_METADATA:
            node[key] = value
        else:
            own[key] = value
    return node, own


class MappedInput:
    """Task values combined before mapping: `.map(f)`, `.zip(...)`, `.concat(...)`.
    `parts` are the plain values inside (they make the edges); the count and
    the elements come from them when the mapped task expands and runs."""

    parts: list[Any]

    def spec_input(self) -> dict[str, Any]:
        raise NotImplementedError

    def resolve_with(self, pull: Callable[[Any], Any]) -> list[Any]:
        raise NotImplementedError

    def __iter__(self) -> Any:
        raise TypeError("a mapped input is not iterable: its value exists only when the task runs")


class MapInput(MappedInput):
    """`arg.map(f)`: each element through `f`, in the task's own process."""

    def __init__(self, arg: Any, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise DagDefinitionError(f"map() needs a function, not {type(fn).__name__}")
        self.parts, self.fn = [arg], fn

    def spec_input(self) -> dict[str, Any]:
        return {"map": _spec_input(self.parts[0])}

    def resolve_with(self, pull: Callable[[Any], Any]) -> list[Any]:
        return [self.fn(v) for v in _elements(self.parts[0], pull)]


class ZipInput(MappedInput):
    """`arg.zip(other, ...)`: tuples, to the shortest (or the longest, with `fillvalue`)."""

    def __init__(self, args: list[Any], fillvalue: Any, longest: bool) -> None:
        self.parts, self.fillvalue, self.longest = [_checked_input(a, "zip()") for a in args], fillvalue, longest

    def spec_input(self) -> dict[str, Any]:
        return {"zip": [_spec_input(p) for p in self.parts], "longest": self.longest}

    def resolve_with(self, pull: Callable[[Any], Any]) -> list[Any]:
        seqs = [_elements(p, pull) for p in self.parts]
        if self.longest:
            return list(itertools.zip_longest(*seqs, fillvalue=self.fillvalue))
        return list(zip(*seqs, strict=False))


class ConcatInput(MappedInput):
    """`arg.concat(other, ...)`: the elements of each, one after the other."""

    def __init__(self, args: list[Any]) -> None:
        self.parts = [_checked_input(a, "concat()") for a in args]

    def spec_input(self) -> dict[str, Any]:
        return {"concat": [_spec_input(p) for p in self.parts]}

    def resolve_with(self, pull: Callable[[Any], Any]) -> list[Any]:
        return [v for p in self.parts for v in _elements(p, pull)]


def _spec_input(value: Any) -> dict[str, Any]:
    """How the engine counts one mapped input (see `specs.mapped_count`)."""
    if isinstance(value, MappedInput):
        return value.spec_input()
    if isinstance(value, XComArg):
        return {"xcom": [value.operator.task_id, value.key]}
    return {"length": len(value)}


def _elements(value: Any, pull: Callable[[Any], Any]) -> list[Any]:
    """A mapped input's elements in this process: a dict's are its (key, value) pairs."""
    if isinstance(value, MappedInput):
        return value.resolve_with(pull)
    if isinstance(value, XComArg):
        value = pull(value)
    if isinstance(value, dict):
        return list(value.items())
    if value is None:
        return []
    return list(value)


def _checked_input(value: Any, what: str) -> Any:
    if isinstance(value, BaseOperator):
        value = value.output
    if isinstance(value, XComArg | MappedInput):
        return value
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list | tuple):
        return list(value)
    raise DagDefinitionError(f"{what}: can only expand over a list, a dict or a task's value (XComArg), "
                             f"not {type(value).__name__}")


class OperatorPartial:
    """`Operator.partial(task_id=..., **fixed)`: waiting for `.expand(...)`."""

    def __init__(self, operator_class: type, kwargs: dict[str, Any]) -> None:
        if "task_id" not in kwargs:
            raise DagDefinitionError(f"{operator_class.__name__}.partial() needs a task_id")
        self.operator_class = operator_class
        self.kwargs = kwargs

    def expand(self, **mapped: Any) -> MappedOperator:
        if not mapped:
            raise DagDefinitionError(f"{self.kwargs['task_id']}: expand() needs at least one argument")
        return MappedOperator.make(self.operator_class, dict(self.kwargs), "expand",
                                   {k: _checked_input(v, f"task {self.kwargs['task_id']!r}") for k, v in mapped.items()})

    def expand_kwargs(self, value: Any) -> MappedOperator:
        return MappedOperator.make(self.operator_class, dict(self.kwargs), "expand_kwargs",
                                   _checked_input(value, f"task {self.kwargs['task_id']!r}"))


class MappedOperator(BaseOperator):
    """A task that runs once per element of its expand input."""

    ui_color = "#f0ede4"

    @classmethod
    def make(cls, operator_class: type, kwargs: dict[str, Any], kind: str, expand_input: Any,
             decorated: dict[str, Any] | None = None) -> MappedOperator:
        kwargs = dict(kwargs)
        task_id = kwargs.pop("task_id")
        template = kwargs.pop("map_index_template", None)
        node, own = _node_args(kwargs)
        return cls(task_id=task_id, operator_class=operator_class, partial_kwargs=own, expand_kind=kind,
                   expand_input=expand_input, map_index_template=template, decorated=decorated, **node)

    def __init__(self, task_id: str, operator_class: type, partial_kwargs: dict[str, Any], expand_kind: str,
                 expand_input: Any, map_index_template: str | None = None,
                 decorated: dict[str, Any] | None = None, **node: Any) -> None:
        self.operator_class = operator_class
        self.partial_kwargs = partial_kwargs
        self.expand_kind = expand_kind
        self.expand_input = expand_input
        self.map_index_template = map_index_template
        self.decorated = decorated  #: for @task: the op_kwargs the function's call gave
        super().__init__(task_id=task_id, **node)
        for ref in xcom_args_in([partial_kwargs, expand_input, decorated or {}]):
            if ref.operator is not self:
                ref.operator.set_downstream(self)

    @property
    def operator_name(self) -> str:
        if self.decorated is not None:
            return "@task (mapped)"
        return f"{self.operator_class.__name__} (mapped)"

    def code_text(self) -> str:
        fn = self.partial_kwargs.get("python_callable")
        text = _source_of(fn) if callable(fn) else ""
        return f"{self.operator_class.__name__}\n{text}\n{sorted(self.partial_kwargs)}"

    # -- what the engine needs: how many instances ------------------------------------------

    def expand_spec(self) -> dict[str, Any]:
        """For the spec: each mapped input, as a literal's length or the task and
        key whose value it is (the engine counts instances from these)."""
        if self.expand_kind == "expand_kwargs":
            return {"kind": "expand_kwargs", "inputs": [_spec_input(self.expand_input)]}
        return {"kind": "expand", "names": list(self.expand_input),
                "inputs": [_spec_input(v) for v in self.expand_input.values()]}

    # -- inside the task process: the real operator for one instance -------------------------

    def values_for(self, map_index: int, pull: Callable[[Any], Any]) -> dict[str, Any]:
        """The mapped arguments of instance `map_index`; `pull(xcomarg)` gives a
        task's value (a list, for a mapped task) as this process sees it."""
        seq = lambda value: _elements(value, pull)  # noqa: E731
        if self.expand_kind == "expand_kwargs":
            elements = seq(self.expand_input)
            if map_index >= len(elements):
                raise IndexError(f"there is no instance {map_index}: the expand input has {len(elements)} element(s)")
            chosen = elements[map_index]
            if not isinstance(chosen, dict):
                raise TypeError(f"expand_kwargs needs dicts, got {type(chosen).__name__} at index {map_index}")
            return dict(chosen)
        names = list(self.expand_input)
        seqs = [seq(self.expand_input[n]) for n in names]
        count = 1
        for s in seqs:
            count *= len(s)
        if map_index >= count:
            raise IndexError(f"there is no instance {map_index}: the expand input has {count} element(s)")
        values = next(itertools.islice(itertools.product(*seqs), map_index, None))
        return dict(zip(names, values, strict=True))

    def unmap(self, values: dict[str, Any]) -> Any:
        """The operator this instance runs, built with its element's arguments."""
        dag = self.dag
        kwargs = dict(self.partial_kwargs)
        if self.decorated is not None:
            kwargs["op_kwargs"] = {**self.decorated.get("op_kwargs", {}), **values}
            kwargs["op_args"] = list(self.decorated.get("op_args", []))
        else:
            kwargs.update(values)
        mine = dag.task_dict.pop(self.task_id)
        try:
            real = self.operator_class(task_id=self.task_id, dag=dag, **kwargs)
        finally:
            dag.task_dict[self.task_id] = mine
        real.group_id = self.group_id
        real.upstream_task_ids = set(self.upstream_task_ids)
        real.downstream_task_ids = set(self.downstream_task_ids)
        real.map_index_template = self.map_index_template
        real.outlets, real.inlets = self.outlets, self.inlets  # each instance updates the task's assets
        return real

    def execute(self, context: dict[str, Any]) -> Any:
        raise RuntimeError("a mapped task runs as its instances")


def expand_decorated(decorator: Any, partial_kwargs: dict[str, Any], kind: str, mapped: Any) -> Any:
    """`@task` ... `.expand(...)` / `.expand_kwargs(...)`: the mapped node, as an XComArg."""
    options = dict(decorator.kwargs)
    base = options.pop("task_id", None) or decorator.function.__name__
    group = options.get("task_group") or current_group()
    if current_dag() is None and group is None:
        raise DagDefinitionError(f"@task {decorator.function.__name__}: expand() must be called inside a DAG")
    from flowctl.authoring.decorators import _unique_task_id

    template = options.pop("map_index_template", None)
    node, own = _node_args(options)
    own.pop("op_kwargs", None)
    if kind == "expand":
        mapped = {k: _checked_input(v, f"@task {decorator.function.__name__}") for k, v in mapped.items()}
    else:
        mapped = _checked_input(mapped, f"@task {decorator.function.__name__}")
    op = MappedOperator(
        task_id=_unique_task_id(base, group), operator_class=decorator.operator_class,
        partial_kwargs={"python_callable": decorator.function, **own}, expand_kind=kind, expand_input=mapped,
        map_index_template=template, decorated={"op_kwargs": dict(partial_kwargs), "op_args": []}, **node)
    return XComArg(op)


class DecoratedPartial:
    """`@task` ... `.partial(fixed=...)`: waiting for `.expand(...)`."""

    def __init__(self, decorator: Any, kwargs: dict[str, Any]) -> None:
        self.decorator = decorator
        self.kwargs = kwargs

    def expand(self, **mapped: Any) -> Any:
        return expand_decorated(self.decorator, self.kwargs, "expand", mapped)

    def expand_kwargs(self, value: Any) -> Any:
        return expand_decorated(self.decorator, self.kwargs, "expand_kwargs", value)

