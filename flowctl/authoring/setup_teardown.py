"""`with teardown_task:` / `with setup_task:` (Airflow's setup/teardown context):
the work tasks made inside the block go between the setup and the teardown.

    with outer_teardown(outer_setup()):   # outer_setup >> outer_teardown
        outer_work()                       # outer_setup >> outer_work >> outer_teardown

On leaving the block, the tasks made in it that are neither setups nor teardowns
are linked as Airflow links them: the setups before the roots among them (those
with no upstream task), the leaves (no downstream task) before the teardowns.
Nested blocks chain outer setup >> inner setup and inner teardown >> outer teardown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowctl.errors import DagDefinitionError


@dataclass
class _Frame:
    setups: list[Any]
    teardowns: list[Any]
    tasks: list[Any] = field(default_factory=list)


_frames: list[_Frame] = []


def enter(op: Any) -> Any:
    """Open a block around a setup or a teardown task."""
    if op.is_teardown:
        setups = [op.dag.task_dict[u] for u in sorted(op.upstream_task_ids) if op.dag.task_dict[u].is_setup]
        frame = _Frame(setups, [op])
    elif op.is_setup:
        teardowns = [op.dag.task_dict[d] for d in sorted(op.downstream_task_ids) if op.dag.task_dict[d].is_teardown]
        frame = _Frame([op], teardowns)
    else:
        raise DagDefinitionError(f"task {op.task_id!r}: only setup and teardown tasks can be used as context managers")
    _frames.append(frame)
    return op


def register(task: Any) -> None:
    """A task was made: it belongs to the innermost open block (setups and teardowns do not)."""
    if _frames and not task.is_setup and not task.is_teardown:
        _frames[-1].tasks.append(task)


def leave() -> None:
    frame = _frames.pop()
    work = [t for t in frame.tasks if not t.is_setup and not t.is_teardown]
    if work:
        roots = [t for t in work if not t.upstream_task_ids] or work[:1]
        leaves = [t for t in work if not t.downstream_task_ids] or work[-1:]
        for setup in frame.setups:
            for root in roots:
                setup >> root
        for teardown in frame.teardowns:
            for leaf in leaves:
                leaf >> teardown
    if _frames:
        outer = _frames[-1]
        for outer_setup in outer.setups:
            for inner_setup in frame.setups:
                if outer_setup is not inner_setup:
                    outer_setup >> inner_setup
        for outer_teardown in outer.teardowns:
            for inner_teardown in frame.teardowns:
                if outer_teardown is not inner_teardown:
                    inner_teardown >> outer_teardown
