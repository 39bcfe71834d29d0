"""The authoring model: DAG, edges between tasks, `chain`, `TaskGroup`. No I/O.

A DAG file builds these objects when it is imported; the loader turns them
into `DagSpec` values (plain data) that the scheduler works with, so the
scheduler never runs user code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flowctl.errors import DagDefinitionError

if TYPE_CHECKING:
    from flowctl.authoring.operators import BaseOperator

_dag_stack: list[DAG] = []
_group_stack: list[TaskGroup] = []
_created: list[DAG] = []
"""Every DAG created since the loader last called `collect_created()`."""


def current_dag() -> DAG | None:
    return _dag_stack[-1] if _dag_stack else None


def current_group() -> TaskGroup | None:
    return _group_stack[-1] if _group_stack else None


def collect_created() -> list[DAG]:
    """Hand over (and forget) the DAGs created since the last call."""
    dags = list(_created)
    _created.clear()
    return dags


class DAG:
    """A set of tasks with dependencies and the metadata of when to run them.

    Usable as a context manager (`with DAG(...) as dag:`), or built by `@dag`.
    Arguments mirror Airflow's, so a simple Airflow DAG moves over by
    changing its imports.
    """

    def __init__(
        self,
        dag_id: str,
        schedule: str | timedelta | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        catchup: bool = False,
        max_active_runs: int = 16,
        max_active_tasks: int = 16,
        default_args: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        description: str | None = None,
        doc_md: str | None = None,
        on_failure_callback: Callable | None = None,
        on_success_callback: Callable | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            names = ", ".join(sorted(unknown))
            raise DagDefinitionError(f"DAG {dag_id!r}: unknown argument(s) {names}")
        if not isinstance(dag_id, str) or not dag_id or not _is_identifier(dag_id):
            raise DagDefinitionError(
                f"DAG id {dag_id!r} must be letters, digits, '_', '-' or '.'"
            )
        if schedule is not None and not isinstance(schedule, str | timedelta):
            raise DagDefinitionError(
                f"DAG {dag_id!r}: schedule must be a cron string, a preset, a timedelta or None"
            )
        if schedule is not None and start_date is None:
            raise DagDefinitionError(f"DAG {dag_id!r}: a schedule needs a start_date")
        self.dag_id = dag_id
        self.schedule = schedule
        self.start_date = start_date
        self.end_date = end_date
        self.catchup = catchup
        self.max_active_runs = max_active_runs
        self.max_active_tasks = max_active_tasks
        self.default_args = dict(default_args or {})
        self.params = dict(params or {})
        self.tags = list(tags or [])
        self.description = description
        self.doc_md = doc_md
        self.on_failure_callback = on_failure_callback
        self.on_success_callback = on_success_callback
        self.fileloc: str | None = None
        self.tasks: dict[str, BaseOperator] = {}
        _created.append(self)

    def __enter__(self) -> DAG:
        _dag_stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _dag_stack.pop()

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id}>"

    def add_task(self, op: BaseOperator) -> None:
        if op.task_id in self.tasks:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r}: duplicate task id {op.task_id!r}"
            )
        self.tasks[op.task_id] = op

    def get_task(self, task_id: str) -> BaseOperator:
        return self.tasks[task_id]

    @property
    def task_ids(self) -> list[str]:
        return list(self.tasks)

    def topological_order(self) -> list[str]:
        """Task ids with every upstream before its downstream; a cycle is an error
        that names it, e.g. `extract -> load -> extract`."""
        order: list[str] = []
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        path: list[str] = []

        def visit(tid: str) -> None:
            if state.get(tid) == 2:
                return
            if state.get(tid) == 1:
                cycle = path[path.index(tid):] + [tid]
                raise DagDefinitionError(
                    f"DAG {self.dag_id!r} has a cycle: {' -> '.join(cycle)}"
                )
            state[tid] = 1
            path.append(tid)
            for down in sorted(self.tasks[tid].downstream_task_ids):
                visit(down)
            path.pop()
            state[tid] = 2
            order.append(tid)

        for tid in self.tasks:
            visit(tid)
        order.reverse()
        return order

    def validate(self) -> None:
        """Raise if the DAG cannot be run: a cycle, or an edge to an unknown task."""
        for op in self.tasks.values():
            for other in op.upstream_task_ids | op.downstream_task_ids:
                if other not in self.tasks:
                    raise DagDefinitionError(
                        f"DAG {self.dag_id!r}: task {op.task_id!r} is linked to "
                        f"{other!r}, which is not in this DAG"
                    )
        self.topological_order()


def _is_identifier(name: str) -> bool:
    return all(c.isalnum() or c in "_-." for c in name)


class Dependable:
    """`a >> b`, `a << b` and their reflections (lists on either side), for
    anything that has `set_upstream` and `set_downstream`."""

    def set_upstream(self, other: Any) -> None:
        raise NotImplementedError

    def set_downstream(self, other: Any) -> None:
        raise NotImplementedError

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return self


class TaskGroup(Dependable):
    """Groups tasks under a prefix (`group.task`); edges to a group reach its
    roots, edges from a group leave from its leaves."""

    def __init__(self, group_id: str, prefix_group_id: bool = True, tooltip: str = "") -> None:
        self.group_id = group_id
        self.prefix_group_id = prefix_group_id
        self.tooltip = tooltip
        self.parent = current_group()
        self.children: list[BaseOperator] = []
        self.dag = current_dag()
        if self.dag is None:
            raise DagDefinitionError(f"TaskGroup {group_id!r} must be created inside a DAG")

    @property
    def full_id(self) -> str:
        if self.parent is not None and self.parent.prefix_group_id:
            return f"{self.parent.full_id}.{self.group_id}"
        return self.group_id

    def child_id(self, task_id: str) -> str:
        return f"{self.full_id}.{task_id}" if self.prefix_group_id else task_id

    def __enter__(self) -> TaskGroup:
        _group_stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _group_stack.pop()

    def roots(self) -> list[BaseOperator]:
        ids = {t.task_id for t in self.children}
        return [t for t in self.children if not (t.upstream_task_ids & ids)]

    def leaves(self) -> list[BaseOperator]:
        ids = {t.task_id for t in self.children}
        return [t for t in self.children if not (t.downstream_task_ids & ids)]

    def set_downstream(self, other: Any) -> None:
        for leaf in self.leaves():
            leaf.set_downstream(other)

    def set_upstream(self, other: Any) -> None:
        for root in self.roots():
            root.set_upstream(other)


def chain(*elements: Any) -> None:
    """Link the elements in order: `chain(a, b, c)` is `a >> b >> c`.

    Adjacent lists of equal length are linked pairwise (`chain([a, b], [c, d])`
    is `a >> c` and `b >> d`), as in Airflow; a list next to a single task
    links every member to it.
    """
    for up, down in zip(elements, elements[1:], strict=False):
        if isinstance(up, list | tuple) and isinstance(down, list | tuple):
            if len(up) != len(down):
                raise DagDefinitionError(
                    f"chain: adjacent lists must have the same length ({len(up)} and {len(down)})"
                )
            for u, d in zip(up, down, strict=True):
                u.set_downstream(d)
        elif isinstance(up, list | tuple):
            for u in up:
                u.set_downstream(down)
        else:
            up.set_downstream(down)


def as_tasks(value: Any) -> list[Any]:
    """A task, a group, an XCom reference, or a list of them -> a flat list."""
    if isinstance(value, list | tuple | set):
        return [x for v in value for x in as_tasks(v)]
    return [value]


def dag(*dag_args: Any, **dag_kwargs: Any) -> Callable[..., Callable[..., DAG]]:
    """`@dag(schedule=...)` on a function: calling the function builds the DAG,
    named after the function unless `dag_id` is given."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., DAG]:
        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any) -> DAG:
            kw = dict(dag_kwargs)
            kw.setdefault("dag_id", fn.__name__)
            if fn.__doc__ and "doc_md" not in kw:
                kw["doc_md"] = fn.__doc__
            with DAG(*dag_args, **kw) as built:
                fn(*args, **kwargs)
            return built

        return build

    return decorate
