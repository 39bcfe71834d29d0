"""One DAG: Grid, Graph, Gantt and Code views (keys 1-4), with the selected
task instance's details and the controls."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from flowctl.tui.charts import graph_lines
from flowctl.tui.screens.base import COMMON_BINDINGS, FlowctlScreen
from flowctl.tui.views import (
    RUN_ROW,
    Line,
    RunInfo,
    Snapshot,
    dag_zone,
    grid_model,
    legend,
    run_detail_line,
    short_time,
    ti_detail_lines,
)
from flowctl.tui.widgets.charts import GanttView, GraphView
from flowctl.tui.widgets.grid import GridTable
from flowctl.tui.widgets.lines import lines_to_text, to_text
from flowctl.tui.widgets.status import StatusBar
from flowctl.tui.widgets.vim import VimScroll

VIEWS = ("grid", "graph", "gantt", "code")


class DagScreen(FlowctlScreen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("question_mark", "app.help", "Keys", key_display="?"),
        Binding("1", "view('grid')", "Grid"),
        Binding("2", "view('graph')", "Graph"),
        Binding("3", "view('gantt')", "Gantt"),
        Binding("4", "view('code')", "Code"),
        Binding("enter", "nav('enter')", "Open the log (or the run's gantt)", key_display="Enter"),
        Binding("space", "instances", "A mapped task's instances, a row each (again: fold)", key_display="Space",
                show=False),
        Binding("c", "clear", "Clear"),
        Binding("s", "mark_success", "Success"),
        Binding("f,x", "mark_failed", "Failed"),
        Binding("t", "trigger", "Trigger"),
        Binding("left_square_bracket", "step_run(-1)", "Older run", key_display="[", show=False),
        Binding("right_square_bracket", "step_run(1)", "Newer run", key_display="]", show=False),
        Binding("p", "pause", "Pause/unpause", show=False),
        Binding("b", "backfill", "Backfill", show=False),
        # keys that arrive before a view's widget has taken the focus (a
        # focus change lands after keys already queued) still reach it
        *(Binding(k, f"nav('{k}')", show=False) for k in ("up", "down", "left", "right", "j", "k", "h", "l")),
        *COMMON_BINDINGS,
    ]
    PALETTE = (
        ("view('grid')", "Grid view", "Runs as columns, tasks as rows"),
        ("view('graph')", "Graph view", "Tasks by dependency level, coloured by the selected run"),
        ("view('gantt')", "Gantt view", "The selected run's task instances on a time axis"),
        ("view('code')", "Code view", "The DAG file"),
        ("open_task", "Open the selected task instance", "Its details and log"),
        ("trigger", "Trigger this DAG", "Queue a manual run (optional conf JSON)"),
        ("clear", "Clear the selected task instance", "With upstream, downstream or only-failed options"),
        ("mark_success", "Mark the selected task instance success", ""),
        ("mark_failed", "Mark the selected task instance failed", ""),
        ("pause", "Pause or unpause this DAG", ""),
        ("backfill", "Backfill this DAG", "Runs over a date range, in the background"),
    )

    def __init__(self, dag_id: str, run_id: str | None = None) -> None:
        super().__init__()
        self.dag_id = dag_id
        self.run_id = run_id
        self.view = "grid"
        self._explained: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._explain_seq = -1
        self._ticket = 0
        self._source_for: str | None = None
        self.expanded: set[str] = set()  #: mapped tasks shown with a row per instance

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="daginfo")
        yield Static(id="runline", classes="runline")
        with TabbedContent(initial="grid", id="views"):
            with TabPane("1 Grid", id="grid"):
                yield GridTable(id="gridtable")
                yield Static(id="details")
            with TabPane("2 Graph", id="graph"):
                with VimScroll(classes="canvas"):
                    yield GraphView(id="graphview")
                yield Static(lines_to_text([legend()], wrap=True), classes="legend")
            with TabPane("3 Gantt", id="gantt"):
                with VimScroll(classes="canvas"):
                    yield GanttView(id="ganttview")
            with TabPane("4 Code", id="code"):
                with VimScroll(classes="canvas"):
                    yield Static(id="source")
        yield Footer()

    def on_mount(self) -> None:
        self.flowctl.watch_dag(self.dag_id)
        self.set_focus(self.query_one(GridTable))
        self.set_interval(1.0, self._tick)
        snap = self.flowctl.snapshot
        if snap is not None:
            self.show_snapshot(snap)

    def on_unmount(self) -> None:
        self.flowctl.unwatch_dag(self.dag_id)

    def where(self) -> str:
        return self.dag_id

    # -- selection ------------------------------------------------------------------------

    def current_dag(self) -> str | None:
        return self.dag_id

    def current_run(self) -> str | None:
        return self.run_id

    def current_task(self) -> str | None:
        sel = self.query_one(GridTable).selection() if self.view == "grid" else None
        if sel is None:
            return None
        row, _ = sel
        return row.task_id if row.kind == "task" else None

    def current_map_index(self) -> int:
        sel = self.query_one(GridTable).selection() if self.view == "grid" else None
        return sel[0].map_index if sel is not None and sel[0].kind == "task" else -1

    def _runs(self) -> tuple[RunInfo, ...]:
        snap = self.flowctl.snapshot
        return snap.runs.get(self.dag_id, ()) if snap is not None else ()

    def selected_info(self) -> RunInfo | None:
        runs = self._runs()
        for info in runs:
            if info.run_id == self.run_id:
                return info
        return runs[0] if runs else None

    # -- refresh --------------------------------------------------------------------------

    def show_snapshot(self, snap: Snapshot) -> None:
        spec = snap.dags.get(self.dag_id)
        runs = snap.runs.get(self.dag_id, ())
        self.query_one("#daginfo", Static).update(to_text(self._info_line(snap, spec)))
        grid = self.query_one(GridTable)
        grid.show(grid_model(spec, runs, dag_zone(snap, self.dag_id), self.expanded))
        if self.run_id is not None:
            sel = grid.selection()
            if sel is None or sel[1].run_id != self.run_id:
                row_key = sel[0].key if sel else ""
                grid.select(row_key, self.run_id)
        self._sync_selection()
        self._draw_view()
        if snap.seq != self._explain_seq:
            self._explain_seq = snap.seq
            self._explained.clear()
            self._explain_selected()

    def _info_line(self, snap: Snapshot, spec: Any) -> Line:
        if spec is None:
            return [(self.dag_id, "bold red"), ("  not in the DAG folder (import error or removed); its runs are shown", "red")]
        nxt = snap.next_runs.get(self.dag_id)
        line: Line = [(self.dag_id, "bold"), ("  ", ""), (spec.schedule_display or "manual only", "cyan"),
                      (f" ({spec.timezone})", "dim")]
        line += [("  paused", "bold yellow")] if snap.paused(self.dag_id) else [("  active", "green")]
        line += [("  next ", "dim"), (short_time(nxt, dag_zone(snap, self.dag_id)) if nxt else "-", ""),
                 ("  runs ", "dim"), (str(snap.run_counts.get(self.dag_id, 0)), ""),
                 ("  tasks ", "dim"), (str(len(spec.tasks)), "")]
        if spec.description:
            line += [("  ", ""), (spec.description, "italic dim")]
        return line

    def _sync_selection(self) -> None:
        sel = self.query_one(GridTable).selection()
        if sel is not None:
            self.run_id = sel[1].run_id
        self._show_details()
        self._show_runline()
        self.selection_changed()

    def _show_details(self) -> None:
        snap = self.flowctl.snapshot
        details = self.query_one("#details", Static)
        sel = self.query_one(GridTable).selection()
        if snap is None or sel is None:
            details.update(lines_to_text([[("No runs yet: t triggers one.", "dim")], legend()], wrap=True))
            return
        row, run = sel
        info = snap.run(self.dag_id, run.run_id)
        if info is None:
            return
        spec = snap.dags.get(self.dag_id)
        if row.kind == "task" and row.task_id:
            ex = self._explained.get((run.run_id, row.task_id))
            reason = None
            notes: list[str] = []
            if ex is not None:
                notes = list(ex.get("notes", []))
                reason = next((t["reason"] for t in ex.get("tasks", []) if t["task_id"] == row.task_id
                               and t.get("map_index", -1) == row.map_index), None)
                reason = reason or ex.get("error")
            lines = ti_detail_lines(info, row.task_id, spec, reason, notes, snap.tz, self.flowctl.now(), row.map_index)
            if not self.has_class("-short"):
                if row.map_index >= 0:
                    hint = (f"Enter opens this instance · c, s, f act on {row.task_id}[{row.map_index}] alone "
                            f"(on the row of {row.task_id}: on all of its instances)")
                else:
                    fold = ""
                    if getattr(spec.tasks.get(row.task_id) if spec else None, "mapped", None):
                        fold = "Space: a row per instance · "
                    hint = f"{fold}Enter opens the log · c clear · s success · f failed · ? keys"
                lines.append([(hint, "dim")])
        else:
            lines = []
            ex = self._explained.get((run.run_id, None))
            for note in (ex or {}).get("notes", []):
                lines.append([("note ", "dim"), (note, "yellow")])
            if not self.has_class("-short"):
                lines.append([("c clears the whole run · Enter shows its gantt", "dim")])
            lines.append(legend())
        details.update(lines_to_text(lines, wrap=True))

    def _tick(self) -> None:
        """Once a second, while the selected run is going on: "took X so far" moves on."""
        info = self.selected_info()
        if info is not None and info.active:
            self._show_details()
            self._show_runline()
            if self.view == "gantt":
                self._draw_view()

    def _show_runline(self) -> None:
        snap = self.flowctl.snapshot
        if snap is not None:
            self.query_one("#runline", Static).update(self._run_line(self.selected_info(), snap))

    def _draw_view(self) -> None:
        snap = self.flowctl.snapshot
        if snap is None:
            return
        info = self.selected_info()
        spec = snap.dags.get(self.dag_id)
        self._show_runline()
        if self.view == "graph":
            if info is not None:
                up = info.upstream() or ({t: spec.tasks[t].upstream for t in spec.order} if spec else {})
                order = list(info.version.get("order") or (spec.order if spec else []))
                states = {str(ti.get("task_id")): str(ti.get("state") or "none") for ti in info.tis}
            elif spec is not None:
                up = {t: spec.tasks[t].upstream for t in spec.order}
                order, states = list(spec.order), {}
            else:
                up, order, states = {}, [], {}
            self.query_one(GraphView).show(graph_lines(order, up, states))
        elif self.view == "gantt":
            self.query_one(GanttView).show(info, self.flowctl.now(), snap.tz)
        elif self.view == "code" and spec is not None and self._source_for != spec.fileloc:
            self._source_for = spec.fileloc
            self._load_source(spec)

    def _run_line(self, info: RunInfo | None, snap: Snapshot) -> Any:
        """The selected run's header: its state in words, who carries it out, how long."""
        if info is None:
            return to_text([("no runs yet: t triggers one", "dim")])
        return lines_to_text([run_detail_line(info, dag_zone(snap, info.dag_id), self.flowctl.now())
                              + [("   [ ] older/newer run", "dim")]],
                             wrap=True)

    @work(thread=True, exit_on_error=False, group="source")
    def _load_source(self, spec: Any) -> None:
        from rich.cells import cell_len
        from rich.syntax import Syntax

        from flowctl.tui.data import dag_source
        from flowctl.tui.text import clean

        code = clean(dag_source(spec))
        width = max((cell_len(line) for line in code.splitlines()), default=0) + 8  # scroll, do not cut
        syntax = Syntax(code, "python", line_numbers=True, word_wrap=False, theme="ansi_dark", code_width=width)
        self.app.call_from_thread(self.query_one("#source", Static).update, syntax)

    # -- explain ------------------------------------------------------------------------------

    def _explain_selected(self) -> None:
        sel = self.query_one(GridTable).selection()
        if sel is None:
            return
        row, run = sel
        task = row.task_id if row.kind == "task" else None
        if (run.run_id, task) in self._explained:
            return
        self._ticket += 1
        self._explain(self._ticket, run.run_id, task)

    @work(thread=True, exit_on_error=False, group="explain")
    def _explain(self, ticket: int, run_id: str, task_id: str | None) -> None:
        try:
            result = self.flowctl.service.explain(self.dag_id, run_id, task_id, now=self.flowctl.now())
        except Exception as exc:  # noqa: BLE001 - shown as the reason
            result = {"notes": [], "tasks": [], "error": f"cannot explain: {exc}"}
        self.app.call_from_thread(self._explained_done, ticket, run_id, task_id, result)

    def _explained_done(self, ticket: int, run_id: str, task_id: str | None, result: dict[str, Any]) -> None:
        self._explained[(run_id, task_id)] = result
        if ticket == self._ticket:
            self._show_details()

    # -- events ----------------------------------------------------------------------------------

    @on(DataTable.CellHighlighted, "#gridtable")
    def _moved(self) -> None:
        self._sync_selection()
        self._explain_selected()

    @on(DataTable.CellSelected, "#gridtable")
    def _selected(self) -> None:
        sel = self.query_one(GridTable).selection()
        if sel is None:
            return
        row, run = sel
        if row.kind == "task" and row.task_id:
            self.flowctl.open_task(self.dag_id, run.run_id, row.task_id, row.map_index)
        elif row.key == RUN_ROW:
            self.action_view("gantt")

    @on(TabbedContent.TabActivated)
    def _tab(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id or "grid"
        if pane in VIEWS:
            self.view = pane
            self._draw_view()
            self.selection_changed()

    # -- actions -----------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_view(self, name: str) -> None:
        self.query_one(TabbedContent).active = name
        self.view = name
        self._draw_view()
        self._focus_view()
        self.selection_changed()

    def _focus_view(self) -> None:
        # deferred (the tab switch lands first); keys that come before it
        # reach the view through the `nav` bindings
        if self.view == "grid":
            self.query_one(GridTable).focus()
        else:
            self.query_one(f"#{self.view} .canvas").focus()

    def action_nav(self, key: str) -> None:
        """An arrow or Enter that reached the screen: give it to the view."""
        self._focus_view()
        if self.view == "grid":
            grid = self.query_one(GridTable)
            actions = {"up": grid.action_cursor_up, "down": grid.action_cursor_down,
                       "left": grid.action_cursor_left, "right": grid.action_cursor_right,
                       "enter": grid.action_select_cursor}
        else:
            canvas = self.query_one(f"#{self.view} .canvas", VimScroll)
            actions = {"up": canvas.action_scroll_up, "down": canvas.action_scroll_down,
                       "left": canvas.action_scroll_left, "right": canvas.action_scroll_right}
        key = {"j": "down", "k": "up", "h": "left", "l": "right"}.get(key, key)
        action = actions.get(key)
        if action is not None:
            action()

    def action_instances(self) -> None:
        """Space on a mapped task: a row per instance under it, or folded again."""
        grid = self.query_one(GridTable)
        sel = grid.selection()
        snap = self.flowctl.snapshot
        spec = snap.dags.get(self.dag_id) if snap is not None else None
        task = sel[0].task_id if sel is not None and sel[0].kind == "task" else None
        if task is None or spec is None or getattr(spec.tasks.get(task), "mapped", None) is None:
            self.notify("Only a mapped task has instances to show.", severity="warning")
            return
        self.expanded ^= {task}
        grid.show(grid_model(spec, snap.runs.get(self.dag_id, ()), dag_zone(snap, self.dag_id), self.expanded))
        grid.select(task, sel[1].run_id)
        self._sync_selection()

    def action_open_task(self) -> None:
        task = self.current_task()
        if task and self.run_id:
            self.flowctl.open_task(self.dag_id, self.run_id, task)
        else:
            self.notify("Select a task instance in the grid first.", severity="warning")

    def action_step_run(self, step: int) -> None:
        runs = list(reversed(self._runs()))  # oldest first, as the grid's columns
        ids = [r.run_id for r in runs]
        if not ids:
            return
        i = ids.index(self.run_id) if self.run_id in ids else len(ids) - 1
        i = min(max(i + step, 0), len(ids) - 1)
        self.run_id = ids[i]
        grid = self.query_one(GridTable)
        sel = grid.selection()
        grid.select(sel[0].key if sel else "", self.run_id)
        self._sync_selection()
        self._draw_view()
