"""Showing things to people: times in their zone, states in colour, tables,
the task graph. JSON output is made elsewhere (`cli.py`) from the same documents."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from flowctl.states import STATE_COLOURS

RUN_FIELDS = ("dag_id", "run_id", "run_type", "state", "logical_date", "data_interval_start",
              "data_interval_end", "start_date", "end_date", "conf")
TI_FIELDS = ("task_id", "state", "try_number", "start_date", "end_date", "duration")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def local_time(value: str | None, tz: str, with_seconds: bool = True) -> str:
    """An ISO time from the store, shown in the user's zone."""
    if not value:
        return "-"
    from flowctl.clock import zone

    dt = datetime.fromisoformat(value).astimezone(zone(tz))
    return dt.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    from flowctl.clock import human_duration

    return human_duration(seconds)


def state_text(state: str | None) -> str:
    state = state or "none"
    return f"[{STATE_COLOURS.get(state, 'white')}]{state}[/]"


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def table(*columns: str, title: str | None = None) -> Any:
    from rich import box
    from rich.table import Table

    t = Table(*columns, title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    return t


def graph_tree(spec: Any) -> Any:
    """The task graph as a tree from its roots; a task with several upstreams
    is drawn in full once and referred to after that. Task groups are shown
    in colour in the ids, and listed with their members below the graph."""
    from rich.tree import Tree

    schedule = spec.schedule_display or "manual only"
    root = Tree(f"[bold]{spec.dag_id}[/]  [dim]{schedule}, {len(spec.tasks)} tasks[/]")
    shown: set[str] = set()

    def name(tid: str) -> str:
        group = spec.tasks[tid].group_id
        if group and tid.startswith(group + "."):
            return f"[cyan]{group}.[/]{tid[len(group) + 1:]}"
        return tid

    def label(tid: str) -> str:
        task = spec.tasks[tid]
        ups = f"  [dim]<- {', '.join(task.upstream)}[/]" if len(task.upstream) > 1 else ""
        rule = f"  [yellow]{task.trigger_rule}[/]" if task.trigger_rule != "all_success" else ""
        return f"{name(tid)} [dim]({task.operator})[/]{rule}{ups}"

    def add(node: Any, tid: str) -> None:
        if tid in shown:
            node.add(f"[dim]{tid} (shown above)[/]")
            return
        shown.add(tid)
        child = node.add(label(tid))
        for down in spec.tasks[tid].downstream:
            add(child, down)

    for tid in spec.order:
        if not spec.tasks[tid].upstream:
            add(root, tid)
    groups: dict[str, list[str]] = {}
    for tid in spec.order:
        group = spec.tasks[tid].group_id
        while group:
            groups.setdefault(group, []).append(tid)
            group = group.rpartition(".")[0]
    if groups:
        node = root.add("[cyan]task groups[/]")
        for group in sorted(groups):
            node.add(f"[cyan]{group}[/]: {', '.join(groups[group])}")
    return root
