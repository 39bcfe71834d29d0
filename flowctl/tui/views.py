"""What the TUI shows, as plain data: store state in, rows, cells and lines out.

Pure functions of a `Snapshot` (what `data.py` read from the store) and the
time: no Textual, no I/O, so every rule here is a unit test. A "line" is a
list of `(text, style)` segments; widgets turn them into Rich `Text`.

States are shown as a letter (or word) *and* a colour, so they read on a
monochrome terminal and to colour-blind users: see `STATE_LETTERS`. Where a
person reads a state (the DAG table's last run, a run's header, the tree) it
is a word; a run that no process carries out reads `waiting`, not `running`.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.cells import cell_len

from flowctl.masking import mask_doc
from flowctl.states import STATE_COLOURS
from flowctl.tui.text import fit

Seg = tuple[str, str]
Line = list[Seg]

#: One letter per state, the same in the tree, the DAG table, the grid, graph and gantt.
STATE_LETTERS: dict[str, str] = {
    "none": "-",
    "scheduled": "C",
    "queued": "Q",
    "running": "R",
    "success": "S",
    "failed": "F",
    "up_for_retry": "Y",
    "upstream_failed": "U",
    "skipped": "K",
    "up_for_reschedule": "W",
}

WAITING = "waiting"
"""How a queued or running run shows while no process carries it out (no
scheduler, its foreground `run` or `backfill` gone): a display state, never stored."""

ACTIVE_RUN_STATES = frozenset({"queued", "running"})

#: Letters of the states that are only shown, never stored.
DISPLAY_LETTERS: dict[str, str] = {WAITING: "w"}
DISPLAY_COLOURS: dict[str, str] = {WAITING: "slate_blue1"}

MAIN_RUNS = 10
"""Runs per DAG read for the main screen (the tree and the counts)."""
LAST_RUNS = 5
"""Runs per DAG shown as coloured letters in the tree."""
GRID_RUNS = 25
"""Runs read for an open DAG screen (the grid's columns)."""


# -- states ---------------------------------------------------------------------------


def state_letter(state: str | None) -> str:
    key = state or "none"
    return STATE_LETTERS.get(key) or DISPLAY_LETTERS.get(key, "?")


def state_style(state: str | None, bold: bool = True) -> str:
    key = state or "none"
    colour = STATE_COLOURS.get(key) or DISPLAY_COLOURS.get(key, "white")
    return f"bold {colour}" if bold else colour


def state_cell(state: str | None) -> Seg:
    """A grid cell: the state's letter in its colour."""
    return (state_letter(state), state_style(state))


def state_word(state: str | None) -> Seg:
    return (state or "none", state_style(state, bold=False))


def legend() -> Line:
    """`S success  F failed ... w waiting`: the key to the letters."""
    line: Line = []
    for state, letter in [*STATE_LETTERS.items(), *DISPLAY_LETTERS.items()]:
        line += [(letter, state_style(state)), (f" {state}  ", "dim")]
    return line


_GROUP_PRIORITY = ("failed", "upstream_failed", "up_for_retry", "running", "queued",
                   "up_for_reschedule", "scheduled", "none")


def aggregate_state(states: Iterable[str]) -> str:
    """One state for a task group in a run: the most urgent of its members'."""
    found = set(states)
    if not found:
        return "none"
    for state in _GROUP_PRIORITY:
        if state in found:
            return state
    return "success" if "success" in found else "skipped"


# -- time ----------------------------------------------------------------------------


def to_local(value: str | datetime | None, tz: str) -> datetime | None:
    if not value:
        return None
    from flowctl.clock import zone

    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return dt.astimezone(zone(tz))


def fmt_time(value: str | datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    dt = to_local(value, tz)
    return dt.strftime(fmt) if dt else "-"


def short_time(value: str | datetime | None, tz: str) -> str:
    return fmt_time(value, tz, "%m-%d %H:%M")


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def fmt_ago(value: str | datetime | None, now: datetime) -> str:
    dt = parse_time(value) if isinstance(value, str) else value
    if dt is None:
        return "never"
    secs = (now - dt).total_seconds()
    if secs < 0:
        return "just now"
    if secs < 90:
        return f"{secs:.0f}s ago"
    if secs < 90 * 60:
        return f"{secs / 60:.0f}m ago"
    if secs < 36 * 3600:
        return f"{secs / 3600:.0f}h ago"
    return f"{secs / 86400:.0f}d ago"


def fmt_duration(seconds: float | None) -> str:
    from flowctl.clock import human_duration

    return human_duration(seconds)


# -- the snapshot ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """One run as read from its file: the run, its task instances in the
    order of the DAG version it ran under, and that version."""

    dag_id: str
    run_id: str
    run: Mapping[str, Any]
    tis: tuple[Mapping[str, Any], ...]
    version: Mapping[str, Any] = field(default_factory=dict)
    #: who carries this queued or running run out ("scheduler pid 12", "run
    #: pid 40"), None when nobody does or the run is over (see `data.carrier_of`)
    carrier: str | None = None
    #: a mapped task's instances, by map index (its row in `tis` sums them up)
    instances: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return str(self.run.get("state") or "queued")

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_RUN_STATES

    @property
    def waiting(self) -> bool:
        """Queued or running, but no live process carries it out."""
        return self.active and self.carrier is None

    @property
    def shown_state(self) -> str:
        """The state a person reads: `waiting` for an active run nobody carries out."""
        return WAITING if self.waiting else self.state

    @property
    def logical_date(self) -> str | None:
        return self.run.get("logical_date") or logical_stamp(self.run_id)

    @property
    def run_type(self) -> str:
        return str(self.run.get("run_type") or self.run_id.split("__", 1)[0])

    def ti(self, task_id: str, map_index: int = -1) -> Mapping[str, Any] | None:
        """A task's instance; for a mapped task, its instance `map_index` (or, with -1, their sum)."""
        if map_index >= 0:
            found = self.instances.get(task_id, ())
            return found[map_index] if map_index < len(found) else None
        for ti in self.tis:
            if ti.get("task_id") == task_id:
                return ti
        return None

    def upstream(self) -> dict[str, tuple[str, ...]]:
        """task -> its upstream ids, as this run's DAG version had them."""
        tasks = self.version.get("tasks") or {}
        return {tid: tuple(t.get("upstream", ())) for tid, t in tasks.items()}


@dataclass(frozen=True)
class Snapshot:
    """Everything the screens show, read at one store version (`seq`)."""

    seq: int
    now: datetime
    tz: str
    dags: Mapping[str, Any]  #: dag_id -> DagSpec
    errors: tuple[Any, ...] = ()  #: ImportErrorRecord
    flags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    runs: Mapping[str, tuple[RunInfo, ...]] = field(default_factory=dict)  #: newest first
    run_counts: Mapping[str, int] = field(default_factory=dict)
    next_runs: Mapping[str, str | None] = field(default_factory=dict)
    scheduler: Mapping[str, Any] = field(default_factory=dict)
    dags_folder: str = ""

    def paused(self, dag_id: str) -> bool:
        return bool(self.flags.get(dag_id, {}).get("paused", False))

    def run(self, dag_id: str, run_id: str) -> RunInfo | None:
        for info in self.runs.get(dag_id, ()):
            if info.run_id == run_id:
                return info
        return None

    def dag_ids(self) -> list[str]:
        """Every DAG in the folder, and DAGs with runs whose file is gone."""
        return sorted(set(self.dags) | set(self.runs))


def logical_stamp(run_id: str) -> str:
    """The UTC ISO logical date inside a run id (`manual__2026-01-01T00:00:00+00:00`)."""
    return run_id.split("__", 1)[-1]


def newest_run_ids(run_ids: Iterable[str], n: int) -> list[str]:
    """The `n` newest run ids by logical date, newest first, without reading files.

    Run ids end in a UTC ISO time, so their text order is time order."""
    return sorted(run_ids, key=lambda r: (logical_stamp(r), r), reverse=True)[:n]


def upstream_first(order: Sequence[str], upstream: Mapping[str, Iterable[str]]) -> list[str]:
    """`order` rearranged as little as possible so that every task comes after
    its upstream tasks (a stable topological sort: ties keep `order`'s order).

    The DAG's own order already is one; a run's stored order, or one from an
    older flowctl, may not be. Upstream ids not in `order` are ignored; a
    cycle (impossible in a loaded DAG) leaves the rest in `order`'s order."""
    position = {tid: i for i, tid in enumerate(order)}
    waiting_on = {tid: {u for u in upstream.get(tid, ()) if u in position and u != tid} for tid in order}
    downstream: dict[str, list[str]] = {}
    for tid, ups in waiting_on.items():
        for u in ups:
            downstream.setdefault(u, []).append(tid)
    ready = [position[t] for t in order if not waiting_on[t]]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        tid = order[heapq.heappop(ready)]
        out.append(tid)
        for d in downstream.get(tid, ()):
            waiting_on[d].discard(tid)
            if not waiting_on[d]:
                heapq.heappush(ready, position[d])
    if len(out) < len(order):  # a cycle: keep the rest as given
        done = set(out)
        out += [t for t in order if t not in done]
    return out


# -- filtering and grouping ---------------------------------------------------------


def matches(spec: Any, dag_id: str, text: str) -> bool:
    """Every word of the filter appears in the DAG id, a tag or the file name."""
    words = text.lower().split()
    if not words:
        return True
    hay = [dag_id.lower()]
    if spec is not None:
        hay += [t.lower() for t in spec.tags]
        hay.append(os.path.basename(spec.fileloc).lower())
    return all(any(w in h for h in hay) for w in words)


def groups_of(spec: Any, dags_folder: str, group_by: str) -> list[str]:
    """The tree groups a DAG sits in: its folder (relative to the DAG folder),
    or each of its tags."""
    if spec is None:
        return ["(not in the DAG folder)"]
    if group_by == "tag":
        return list(spec.tags) or ["(no tag)"]
    folder = os.path.dirname(spec.fileloc)
    try:
        rel = os.path.relpath(folder, dags_folder) if dags_folder else folder
    except ValueError:
        rel = folder
    return ["/" if rel == "." else rel + "/"]


# -- the DAG table --------------------------------------------------------------------


@dataclass(frozen=True)
class DagRow:
    dag_id: str
    schedule: str
    paused: bool
    next_run: str
    running: int
    failed: int
    tags: tuple[str, ...] = ()
    broken: bool = False  #: runs exist but the DAG is not in the folder
    last_run: tuple[str, str] | None = None  #: (state as shown, MM-DD HH:MM) of the newest run
    zone: str = ""  #: the DAG's zone, when it is not yours (`schedule` ends with it)

    @property
    def bare_schedule(self) -> str:
        return self.schedule.removesuffix(f" ({self.zone})") if self.zone else self.schedule


DAG_COLUMNS = ("DAG", "schedule", "paused", "last run", "next run", "running", "failed")
"""The recent runs as letters are in the tree beside the table (and in the grid)."""
COMPACT_COLUMNS = ("DAG", "schedule", "last run", "next run", "tasks")
"""A narrow table's: no zone after the schedule, `paused` in place of the next
run (there is none while paused), and running and failed counts as `2R 1F`."""
DAG_ID_WIDTH = 40
"""The DAG column's and the tree's widest: a longer id is cut with an
ellipsis (the DAG's own screen shows it whole)."""
DAG_ID_ROOM = 20
"""The room the wide columns must leave the DAG column, else it goes compact."""
SCHEDULE_WIDTH = 12
"""A compact schedule's widest (`*/15 * * * *`)."""
CELL_PADDING = 2
"""A table cell's padding, both sides together."""


def dag_zone(snap: Snapshot, dag_id: str) -> str:
    """The zone a DAG's logical dates are shown in: its own, as the CLI shows
    them and as you type them back (the other times are in yours)."""
    spec = snap.dags.get(dag_id)
    return getattr(spec, "timezone", None) or snap.tz


def dag_rows(snap: Snapshot, text: str = "") -> list[DagRow]:
    rows = []
    for dag_id in snap.dag_ids():
        spec = snap.dags.get(dag_id)
        if not matches(spec, dag_id, text):
            continue
        runs = snap.runs.get(dag_id, ())
        recent = runs[:MAIN_RUNS]
        running = sum(1 for r in runs if r.state in ("queued", "running")
                      for ti in r.tis if ti.get("state") in ("running", "queued"))
        failed = sum(1 for r in recent for ti in r.tis if ti.get("state") == "failed")
        schedule = (spec.schedule_display or "manual") if spec is not None else "?"
        zone = ""
        if spec is not None and spec.timezone != snap.tz:  # its dates are in its zone: say which
            zone = spec.timezone
            schedule += f" ({zone})"
        nxt = snap.next_runs.get(dag_id)
        rows.append(DagRow(
            dag_id=dag_id,
            schedule=schedule,
            paused=snap.paused(dag_id),
            last_run=(runs[0].shown_state, short_time(runs[0].logical_date, dag_zone(snap, dag_id))) if runs else None,
            next_run=short_time(nxt, dag_zone(snap, dag_id)) if nxt else "-",
            running=running,
            failed=failed,
            tags=tuple(spec.tags) if spec is not None else (),
            broken=spec is None,
            zone=zone,
        ))
    return rows


def dag_cells(row: DagRow, compact: bool = False, id_width: int = DAG_ID_WIDTH) -> list[Line]:
    """The DAG table's cells, one line each, in `DAG_COLUMNS` order (or
    `COMPACT_COLUMNS`'), the id cut to `id_width` cells."""
    last: Line = [("never", "dim")]
    if row.last_run is not None:
        state, when = row.last_run
        last = [(state, state_style(state, bold=False)), (f" {when}", "")]
    name: Line = [(fit(row.dag_id, id_width), "bold red" if row.broken else "bold")]
    if compact:
        schedule = fit(row.bare_schedule, SCHEDULE_WIDTH)
        return [name, [(schedule, "dim" if schedule == "manual" else "")], last,
                [("paused", "bold yellow")] if row.paused else [(row.next_run, "")], task_counts(row)]
    return [
        name,
        [(row.schedule, "dim" if row.schedule == "manual" else "")],
        [("paused", "bold yellow")] if row.paused else [("no", "dim")],
        last,
        [(row.next_run, "yellow dim" if row.paused and row.next_run != "-" else "")],
        [(str(row.running), state_style("running"))] if row.running else [("0", "dim")],
        [(str(row.failed), state_style("failed"))] if row.failed else [("0", "dim")],
    ]


def task_counts(row: DagRow) -> Line:
    """`2R 1F`: running and failed task instances in state letters; `-` for none."""
    line: Line = []
    for n, state in ((row.running, "running"), (row.failed, "failed")):
        if n:
            line += [(" ", "")] if line else []
            line.append((f"{n}{state_letter(state)}", state_style(state)))
    return line or [("-", "dim")]


def dag_layout(rows: Sequence[DagRow], width: int) -> tuple[bool, int]:
    """(compact, the DAG column's width) for a table `width` cells wide: the
    wide columns while they leave the ids room, else the compact ones; ids
    never wider than `DAG_ID_WIDTH`. Below what the compact columns need, the
    table scrolls sideways (its DAG column stays)."""
    def room(compact: bool) -> int:
        """What the columns after the DAG column leave it."""
        headers = COMPACT_COLUMNS if compact else DAG_COLUMNS
        widths = [cell_len(h) for h in headers[1:]]
        for row in rows:
            cells = dag_cells(row, compact, 1)[1:]
            widths = [max(w, sum(cell_len(t) for t, _ in c)) for w, c in zip(widths, cells, strict=True)]
        return width - sum(widths) - CELL_PADDING * len(headers)

    longest = max([cell_len(r.dag_id) for r in rows] + [3])
    wide = room(False)
    if wide >= min(longest, DAG_ID_ROOM):
        return False, min(longest, DAG_ID_WIDTH, wide)
    return True, max(min(longest, DAG_ID_WIDTH, room(True)), min(longest, DAG_ID_ROOM // 2))


# -- the tree ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    key: str
    label: tuple[Seg, ...]
    kind: str  #: group, dag, run or ti
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    children: tuple[Node, ...] = ()  #: built only for expanded nodes (see `tree_nodes`)
    expandable: bool = False
    group: str = ""


TREE_RUNS = MAIN_RUNS


def tree_nodes(snap: Snapshot, group_by: str = "folder", text: str = "",
               expanded: Collection[str] | None = None) -> list[Node]:
    """Groups -> DAGs -> their recent runs -> task instances.

    A DAG's or run's children are built only when its key is in `expanded`
    (all of them when `expanded` is None): 50 DAGs with ten runs of ten
    tasks would be 5,000 nodes nobody looks at on each refresh."""
    grouped: dict[str, list[str]] = {}
    for dag_id in snap.dag_ids():
        spec = snap.dags.get(dag_id)
        if not matches(spec, dag_id, text):
            continue
        for g in groups_of(spec, snap.dags_folder, group_by):
            grouped.setdefault(g, []).append(dag_id)
    out = []
    for group in sorted(grouped):
        dags = tuple(_dag_node(snap, group, d, expanded) for d in grouped[group])
        n = len(dags)
        label = ((group, "bold cyan"), (f"  {n} DAG{'s' if n != 1 else ''}", "dim"))
        out.append(Node(key=f"g:{group}", label=label, kind="group", children=dags, expandable=bool(dags),
                        group=group))
    return out


def node_children(snap: Snapshot, node: Node) -> tuple[Node, ...]:
    """The children of a DAG or run node, built now (when it is expanded)."""
    if node.kind == "dag" and node.dag_id:
        return _dag_node(snap, node.group, node.dag_id, None, deep=False).children
    if node.kind == "run" and node.dag_id and node.run_id:
        info = snap.run(node.dag_id, node.run_id)
        if info is not None:
            return _run_node(snap, node.group, info, None).children
    return node.children


def _dag_node(snap: Snapshot, group: str, dag_id: str, expanded: Collection[str] | None,
              deep: bool = True) -> Node:
    runs = snap.runs.get(dag_id, ())[:TREE_RUNS]
    key = f"d:{group}:{dag_id}"
    label: Line = [(fit(dag_id, DAG_ID_WIDTH), "bold")]
    if snap.paused(dag_id):
        label.append(("  paused", "yellow"))
    if runs:
        label.append(("  ", ""))
        label += [state_cell(r.shown_state) for r in reversed(runs[:LAST_RUNS])]
    children: tuple[Node, ...] = ()
    if expanded is None or key in expanded:
        children = tuple(_run_node(snap, group, r, expanded if deep else ()) for r in runs)
    return Node(key=key, label=tuple(label), kind="dag", dag_id=dag_id, children=children,
                expandable=bool(runs), group=group)


def _run_node(snap: Snapshot, group: str, info: RunInfo, expanded: Collection[str] | None) -> Node:
    label = (state_cell(info.shown_state), (" " + short_time(info.logical_date, dag_zone(snap, info.dag_id)), ""),
             (f" {info.run_type}", "dim"), ("  ", ""), state_word(info.shown_state))
    prefix = f"{group}:{info.dag_id}:{info.run_id}"
    key = f"r:{prefix}"
    kids: tuple[Node, ...] = ()
    if expanded is None or key in expanded:
        kids = tuple(
            Node(key=f"t:{prefix}:{ti.get('task_id')}", kind="ti", dag_id=info.dag_id, run_id=info.run_id,
                 task_id=str(ti.get("task_id")), label=_ti_label(ti), group=group)
            for ti in _upstream_first_tis(info)
        )
    return Node(key=key, label=label, kind="run", dag_id=info.dag_id, run_id=info.run_id, children=kids,
                expandable=bool(info.tis), group=group)


def _upstream_first_tis(info: RunInfo) -> list[Mapping[str, Any]]:
    by_id = {str(ti.get("task_id")): ti for ti in info.tis}
    return [by_id[t] for t in upstream_first(list(by_id), info.upstream())]


def _ti_label(ti: Mapping[str, Any]) -> tuple[Seg, ...]:
    state = ti.get("state") or "none"
    tries = int(ti.get("try_number") or 0)
    segs: list[Seg] = [state_cell(state), (f" {ti.get('task_id')}", ""), ("  ", ""), state_word(state)]
    if tries > 1:
        segs.append((f"  try {tries}", "dim"))
    return tuple(segs)


# -- the grid -------------------------------------------------------------------------


@dataclass(frozen=True)
class GridRun:
    run_id: str
    state: str
    day: str  #: MM-DD of the logical date, in the DAG's zone
    time: str  #: HH:MM
    run_type: str


@dataclass(frozen=True)
class GridRow:
    key: str  #: the task id, or "group:<id>"
    label: str
    kind: str  #: task, group or run
    task_id: str | None = None
    removed: bool = False  #: no longer in the DAG file
    map_index: int = -1  #: a row of one instance of a mapped task (its task's row expanded)


@dataclass(frozen=True)
class GridModel:
    runs: tuple[GridRun, ...]  #: oldest to newest, left to right
    rows: tuple[GridRow, ...]
    cells: Mapping[tuple[str, str], tuple[str, int]]  #: (row key, run id) -> (state, try)

    def cell(self, row_key: str, run_id: str) -> tuple[str, int] | None:
        return self.cells.get((row_key, run_id))


RUN_ROW = "__run__"


def grid_model(spec: Any, runs: Sequence[RunInfo], tz: str, expanded: Collection[str] = ()) -> GridModel:
    """Runs as columns (oldest left), tasks as rows (the DAG's order, then
    tasks only past runs had), a first row of run states, and a row per task
    group showing its members' most urgent state. A mapped task in `expanded`
    has a row per instance under its own (`[0]`, `[1]`, ...)."""
    cols = tuple(GridRun(r.run_id, r.shown_state, fmt_time(r.logical_date, tz, "%m-%d"),
                         fmt_time(r.logical_date, tz, "%H:%M"), r.run_type) for r in reversed(runs))
    order: list[str] = []
    if spec is not None:
        order = upstream_first(list(spec.order), {t: spec.tasks[t].upstream for t in spec.order})
    known = set(order)
    removed: list[str] = []
    for r in runs:
        old = [str(t) for t in (r.version.get("order") or [ti.get("task_id") for ti in r.tis])]
        for tid in upstream_first(old, r.upstream()):
            if tid not in known:
                known.add(tid)
                removed.append(tid)
    groups: dict[str, str | None] = {}
    for tid in order:
        groups[tid] = spec.tasks[tid].group_id if spec is not None else None
    rows: list[GridRow] = [GridRow(RUN_ROW, "run", "run")]
    seen_groups: set[str] = set()

    def mapped(tid: str) -> str:
        """` [3]` after a mapped task: its instances in the newest run that expanded it."""
        if spec is None or tid not in spec.tasks or getattr(spec.tasks[tid], "mapped", None) is None:
            return ""
        count = next((len(r.instances[tid]) for r in runs if r.instances.get(tid)), None)
        return f" [{count}]" if count is not None else " [ ]"

    def instance_rows(tid: str, indent: str) -> None:
        """Under an expanded mapped task: one row per instance any shown run has."""
        if tid not in expanded or not mapped(tid):
            return
        count = max((len(r.instances.get(tid, ())) for r in runs), default=0)
        for i in range(count):
            rows.append(GridRow(f"{tid}[{i}]", f"{indent}  [{i}]", "task", tid, map_index=i))

    for tid in order:
        group = groups.get(tid)
        if group is None:
            rows.append(GridRow(tid, tid + mapped(tid) + task_role(spec, tid), "task", tid))
            instance_rows(tid, "")
            continue
        if group in seen_groups:
            continue
        seen_groups.add(group)
        rows.append(GridRow(f"group:{group}", f"▾ {group}", "group"))
        for member in order:
            if groups.get(member) == group:
                short = member[len(group) + 1:] if member.startswith(group + ".") else member
                rows.append(GridRow(member, f"  {short}{mapped(member)}{task_role(spec, member)}", "task", member))
                instance_rows(member, "  ")
    for tid in removed:
        rows.append(GridRow(tid, f"{tid} (removed)", "task", tid, removed=True))
    cells: dict[tuple[str, str], tuple[str, int]] = {}
    for r in runs:
        cells[(RUN_ROW, r.run_id)] = (r.shown_state, 0)
        by_group: dict[str, list[str]] = {}
        for ti in r.tis:
            tid = str(ti.get("task_id"))
            state = str(ti.get("state") or "none")
            cells[(tid, r.run_id)] = (state, int(ti.get("try_number") or 0))
            if groups.get(tid):
                by_group.setdefault(str(groups[tid]), []).append(state)
        for group, states in by_group.items():
            cells[(f"group:{group}", r.run_id)] = (aggregate_state(states), 0)
        for tid in expanded:
            for doc in r.instances.get(tid, ()):
                index = int(doc.get("map_index", -1))
                cells[(f"{tid}[{index}]", r.run_id)] = (str(doc.get("state") or "none"), int(doc.get("try_number") or 0))
    return GridModel(cols, tuple(rows), cells)


def task_role(spec: Any, task_id: str) -> str:
    """" (setup)" or " (teardown)" after a task's name; "" for the others."""
    task = spec.tasks.get(task_id) if spec is not None else None
    if task is None:
        return ""
    if getattr(task, "is_setup", False):
        return " (setup)"
    return " (teardown)" if getattr(task, "is_teardown", False) else ""


# -- task instance details ----------------------------------------------------------------


def ti_detail_lines(info: RunInfo, task_id: str, spec: Any, reason: str | None,
                    notes: Sequence[str], tz: str, now: datetime, map_index: int = -1) -> list[Line]:
    """State, tries, start, end, duration, operator and why (as `flowctl explain` says).
    For a mapped task: instance `map_index`'s, and a line counting the instances' states."""
    ti = info.ti(task_id, map_index) or {}
    state = str(ti.get("state") or "none")
    tries = int(ti.get("try_number") or 0)
    max_tries = ti.get("max_tries")
    start, end = ti.get("start_date"), ti.get("end_date")
    if ti.get("duration") is not None:
        took = fmt_duration(float(ti["duration"]))
    elif start and state == "running":
        took = fmt_duration((now - datetime.fromisoformat(start)).total_seconds()) + " so far"
    else:
        took = "-"
    operator = ti.get("operator") or (spec.tasks[task_id].operator if spec is not None and task_id in spec.tasks else "-")
    operator += task_role(spec, task_id).replace(" (", ", ").rstrip(")")
    label = "dim"
    lines: list[Line] = [
        [("task   ", label), (f"{info.dag_id}.{task_id}", "bold"), (f" ({operator})", label), ("  run ", label),
         (info.run_id, "")],
        [("state  ", label), state_cell(state), (" ", ""), state_word(state),
         ("  try ", label), (f"{tries}" + (f" of {max_tries}" if max_tries and tries <= max_tries else ""), ""),
         ("  start ", label), (fmt_time(start, tz), ""), ("  end ", label), (fmt_time(end, tz), ""),
         ("  took ", label), (took, "")],
        [("why    ", label), (reason or "…", "italic" if reason is None else "")],
    ]
    instances = info.instances.get(task_id, ())
    if instances:
        counts: dict[str, int] = {}
        for one in instances:
            counts[str(one.get("state") or "none")] = counts.get(str(one.get("state") or "none"), 0) + 1
        name = ti.get("rendered_map_index")
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        if map_index >= 0:
            line: Line = [("mapped ", label), (f"instance {map_index}" + (f" ({name})" if name else ""), "bold"),
                          (f" of {len(instances)}: ", ""), (summary, ""), ("  < > switch", label)]
        else:
            line = [("mapped ", label), (f"{len(instances)} instances: ", "bold"), (summary, "")]
        lines.insert(1, line)
    for note in notes:
        lines.append([("note   ", label), (note, "yellow")])
    return lines


def run_detail_line(info: RunInfo, tz: str, now: datetime | None = None) -> Line:
    """A run's header: id, state in words (`waiting` when nobody carries it
    out), who carries it out, logical date (in `tz`, the DAG's zone), how long
    it took (or so far)."""
    run = info.run
    started = run.get("start_date")
    ended = run.get("end_date")
    took = "-"
    if started and ended:
        took = fmt_duration((datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds())
    elif started and now is not None and info.active:
        took = fmt_duration((now - datetime.fromisoformat(started)).total_seconds()) + " so far"
    shown = info.shown_state
    line: Line = [("run ", "dim"), (info.run_id, "bold"), ("  ", ""), state_cell(shown), (" ", ""),
                  state_word(shown)]
    if info.waiting:
        line += [(f" ({info.state}; no process carries it out: S starts a scheduler)", "italic")]
    elif info.active and info.carrier:
        line += [("  by ", "dim"), (info.carrier, "")]
    line += [("  logical ", "dim"), (fmt_time(info.logical_date, tz, "%Y-%m-%d %H:%M"), ""), ("  took ", "dim"),
             (took, "")]
    if run.get("conf"):
        import json

        line += [("  conf ", "dim"), (fit(json.dumps(mask_doc(run["conf"])), 60), "")]  # secrets as ***
    return line


def log_bar(shown: int | None, latest: int, follow: bool, skipped_kb: int = 0,
            search: tuple[str, int, int] | None = None, width: int = 200) -> Line:
    """`log try 2 of 3  [ ] switch  following (f stops)  /error  match 4 of 9 (n N; Esc clears)`.

    `search` is (query, matches, current; -1 before the first `n`). In `width`
    cells the hints give way first, then what the search looks for: the
    match count always shows."""
    label = "dim"
    parts: list[tuple[int, Line]] = [(0, [("log ", label)])]  # (how soon it gives way, segments)
    if not shown:
        parts.append((0, [("no try yet", "")]))
    else:
        parts += [(0, [(f"try {shown} of {latest}", "bold")]), (3, [("  [ ] switch", label)])]
        if follow:
            parts += [(0, [("  following", "bold green")]), (2, [(" (f stops)", label)])]
        else:
            parts += [(0, [("  not following", "bold yellow")]), (2, [(" (f follows)", label)])]
        if skipped_kb:
            parts.append((1, [(f"  (the first {skipped_kb} KB are not shown)", "yellow")]))
    if search is not None:
        query, n, current = search
        parts.append((0, [("  /", label), (query, "bold")]))
        if not n:
            parts.append((0, [("  no match", "bold red")]))
        else:
            at = f"match {current + 1} of {n}" if current >= 0 else f"{n} match{'es' if n != 1 else ''}"
            parts += [(0, [(f"  {at}", "bold")]), (2, [(" (n N; Esc clears)", label)])]
    for level in (3, 2, 1):  # the last hint of a level gives way first
        for i in reversed(range(len(parts))):
            if parts[i][0] == level and _line_width([s for _, segs in parts for s in segs]) > width:
                del parts[i]
    line = [s for _, segs in parts for s in segs]
    over = _line_width(line) - width
    if over > 0 and search is not None:  # a long query: cut it, keep the count
        i = next(i for i, (text, _) in enumerate(line) if text == "  /") + 1
        line[i] = (fit(line[i][0], max(1, cell_len(line[i][0]) - over)), line[i][1])
    return line


def _line_width(line: Line) -> int:
    return sum(cell_len(text) for text, _ in line)


# -- affected sets for the confirmations -------------------------------------------------------


def plan_lines(plan: Sequence[Mapping[str, Any]], tz: str, limit: int = 200) -> list[Line]:
    """A clear plan, one task instance per line: what resets and why."""
    lines: list[Line] = []
    for item in plan[:limit]:
        state = str(item.get("state") or "none")
        index = item.get("map_index", -1)
        name = f"{item['task_id']}[{index}]" if isinstance(index, int) and index >= 0 else str(item["task_id"])
        lines.append([state_cell(state), (f" {name}", "bold"),
                      (f"  {short_time(logical_stamp(str(item['run_id'])), tz)}", ""),
                      (f"  {state}", state_style(state, bold=False)), (f"  try {item.get('try_number', 0)}", "dim"),
                      (f"  {item.get('why', '')}", "dim italic")])
    if len(plan) > limit:
        lines.append([(f"... and {len(plan) - limit} more", "dim")])
    return lines


def downstream_of(upstream: Mapping[str, Iterable[str]], task_id: str) -> list[str]:
    """Every task below `task_id` (its downstream closure), in no particular order."""
    down: dict[str, set[str]] = {}
    for tid, ups in upstream.items():
        for u in ups:
            down.setdefault(u, set()).add(tid)
    seen: set[str] = set()
    stack = [task_id]
    while stack:
        for nxt in down.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return sorted(seen)


def mark_targets(info: RunInfo, upstream: Mapping[str, Iterable[str]], task_id: str,
                 downstream: bool, map_index: int = -1) -> list[tuple[str, str]]:
    """(task id, current state) of what a mark would set: the task (its
    instance `map_index` alone, if given), and with `downstream` its
    descendants, in the run's task order."""
    chosen = {task_id, *(downstream_of(upstream, task_id) if downstream else ())}
    out = []
    for ti in info.tis:
        tid = ti.get("task_id")
        if tid not in chosen:
            continue
        if tid == task_id and map_index >= 0:
            one = info.ti(task_id, map_index) or {}
            out.append((f"{task_id}[{map_index}]", str(one.get("state") or "none")))
        else:
            out.append((str(tid), str(ti.get("state") or "none")))
    return out


# -- the header ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Carrier:
    """A process that carries runs out, as the header names it."""

    label: str  #: "scheduler pid 12", "run pid 40", "backfill pid 41"
    dag_ids: tuple[str, ...] = ()
    here: bool = False  #: a backfill this TUI started


def carriers(snap: Snapshot, backfills: Mapping[int, str] | None = None) -> tuple[list[Carrier], int]:
    """Who carries the active runs out, besides the scheduler (the header says
    that one already), and how many active runs nobody carries out.

    `backfills` are the backfills this TUI started (pid -> DAG id): they show
    from their start, before they own a run."""
    backfills = dict(backfills or {})
    by_label: dict[str, set[str]] = {}
    waiting = 0
    for dag_id, infos in snap.runs.items():
        for info in infos:
            if not info.active:
                continue
            if info.carrier is None:
                waiting += 1
            elif not info.carrier.startswith("scheduler"):
                by_label.setdefault(info.carrier, set()).add(dag_id)
    out: list[Carrier] = []
    for pid, dag_id in sorted(backfills.items()):
        label = f"backfill pid {pid}"
        dags = by_label.pop(label, set()) | {dag_id}
        for other in [k for k in by_label if k.endswith(f" pid {pid}")]:  # owned before its kind was known
            dags |= by_label.pop(other)
        out.append(Carrier(label, tuple(sorted(dags)), here=True))
    for label in sorted(by_label):
        out.append(Carrier(label, tuple(sorted(by_label[label]))))
    return out, waiting


def status_line(scheduler: Mapping[str, Any], now: datetime, tz: str, n_dags: int,
                n_errors: int, where: str = "", others: Sequence[Carrier] = (), waiting: int = 0,
                compact: bool = False) -> Line:
    """`etl │ ● scheduler pid 12, beat 2s ago │ ● run pid 40: etl │ 3 DAGs │ 2026-03-02 09:00:00 UTC`:
    which processes carry the runs out, and how many runs wait for one.
    `compact` (a narrow terminal) leaves out the hints and the date."""
    line: Line = [(" ", "")]
    if where:
        line += [(where, "bold"), (" │ ", "dim")]
    if scheduler.get("running"):
        line += [("● scheduler", "bold green"),
                 (f" pid {scheduler.get('pid')}, beat {fmt_ago(scheduler.get('heartbeat'), now)}", "")]
    elif scheduler:
        line += [("○ no scheduler", "bold yellow")]
        if not compact:
            line.append((" (S starts one)", "dim"))
    else:
        line += [("scheduler …", "dim")]
    for c in others:
        line += [(" │ ", "dim"), ("● " + c.label, "bold green")]
        if c.here:
            line.append((" (started here)", "dim"))
        if c.dag_ids:
            line.append((": " + ", ".join(c.dag_ids), ""))
    if waiting:
        line += [(" │ ", "dim"), (f"{waiting} run{'s' if waiting != 1 else ''} waiting", state_style(WAITING))]
    line += [(" │ ", "dim"), (f"{n_dags} DAG{'s' if n_dags != 1 else ''}", "")]
    if n_errors:
        line += [(" │ ", "dim"), (f"{n_errors} import error{'s' if n_errors != 1 else ''}", "bold red")]
    line += [(" │ ", "dim"), (fmt_time(now, tz, "%H:%M:%S" if compact else "%Y-%m-%d %H:%M:%S"), ""),
             (f" {tz}", "dim")]
    return line


def error_banner(errors: Sequence[Any]) -> str:
    if not errors:
        return ""
    n = len(errors)
    first = os.path.basename(errors[0].fileloc)
    more = f" and {n - 1} more" if n > 1 else ""
    return f"⚠ {n} DAG file{'s' if n != 1 else ''} failed to import ({first}{more}): press e to read"


# -- assets ------------------------------------------------------------------------------------


def asset_lines(rows: Sequence[Mapping[str, Any]], tz: str, now: datetime) -> list[tuple[str, str, str, str, str]]:
    """The assets view: (asset, updated by, schedules, last update, events) per asset,
    from `Service.assets()` rows; an asset nothing updated yet says so."""
    out = []
    for r in rows:
        name = r["uri"] if r.get("name") in (None, r["uri"]) else f"{r['uri']} ({r['name']})"
        last = f"{fmt_time(r.get('last_update'), tz)} ({fmt_ago(r.get('last_update'), now)})" \
            if r.get("last_update") else "never"
        out.append((name, ", ".join(r.get("producers") or []) or "-", ", ".join(r.get("consumers") or []) or "-",
                    last, str(r.get("events", 0))))
    return out
