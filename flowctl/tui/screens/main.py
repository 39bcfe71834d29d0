"""The main screen: the DAG tree beside the table of DAGs, the scheduler's
status, and a banner while DAG files fail to import."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import Resize
from textual.widgets import DataTable, Footer, Input, Static, Tree

from flowctl.tui.screens.base import COMMON_BINDINGS, FlowctlScreen
from flowctl.tui.views import Node, Snapshot, dag_rows, error_banner, node_children, tree_nodes
from flowctl.tui.widgets.dag_table import DagTable
from flowctl.tui.widgets.dag_tree import DagTree
from flowctl.tui.widgets.lines import plain
from flowctl.tui.widgets.status import ErrorBanner, StatusBar

NARROW = 110
"""Below this width the tree goes under the table instead of beside it."""


class MainScreen(FlowctlScreen):
    BINDINGS = [
        Binding("question_mark", "app.help", "Keys", key_display="?"),
        # priority: handled as it arrives, so the keys typed right after it land in the box
        Binding("slash", "filter", "Filter", key_display="/", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("t", "trigger", "Trigger"),
        Binding("p", "pause", "Pause/unpause"),
        Binding("b", "backfill", "Backfill"),
        Binding("c", "clear", "Clear", show=False),
        Binding("s", "mark_success", "Mark success", show=False),
        Binding("f,x", "mark_failed", "Mark failed", show=False),
        Binding("h", "pane(-1)", "Pane to the left", show=False),
        Binding("l", "pane(1)", "Pane to the right", show=False),
        Binding("e", "app.show_errors", "Import errors", show=False),
        Binding("a", "app.show_assets", "Assets", show=False),
        Binding("o", "group", "Group by tag/folder", show=False),
        *COMMON_BINDINGS,
    ]
    PALETTE = (
        ("trigger", "Trigger the selected DAG", "Queue a manual run (optional conf JSON)"),
        ("pause", "Pause or unpause the selected DAG", "A paused DAG gets no scheduled runs"),
        ("backfill", "Backfill the selected DAG", "Runs over a date range, in the background"),
        ("clear", "Clear the selected task instance or run", "Reset it so that it runs again"),
        ("mark_success", "Mark the selected task instance success", ""),
        ("mark_failed", "Mark the selected task instance failed", ""),
        ("open", "Open the selected DAG", "Grid, graph, gantt and code"),
        ("filter", "Filter DAGs", "By id, tag or file name"),
        ("group", "Group the tree by tag or by folder", ""),
    )

    def __init__(self) -> None:
        super().__init__(id="main")
        self.filter_text = ""
        self.group_by = "folder"
        self._focus_tree = True
        self._key_before_filter: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield ErrorBanner(id="banner")
        yield Input(placeholder="filter DAGs by id, tag or file (Esc clears)", id="filter")
        yield Static(id="nomatch")
        with Horizontal(id="body"):
            yield DagTree(id="tree")
            yield DagTable(id="dags")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#nomatch").display = False
        self.query_one(ErrorBanner).display = False
        self.set_focus(self.query_one(DagTree))
        snap = self.flowctl.snapshot
        if snap is not None:
            self.show_snapshot(snap)

    def on_resize(self, event: Resize) -> None:  # FlowctlScreen's runs too
        self.query_one("#body").set_class(event.size.width < NARROW, "-narrow")

    # -- refresh ----------------------------------------------------------------------

    def show_snapshot(self, snap: Snapshot) -> None:
        banner = error_banner(snap.errors)
        if not snap.dag_ids() and not banner:
            banner = f"No DAG files in {snap.dags_folder}: add one (R reloads now)"
        self.query_one(ErrorBanner).show(banner)
        self.query_one(ErrorBanner).set_class(not snap.errors, "-info")
        rows = dag_rows(snap, self.filter_text)
        self.query_one(DagTable).show(rows)
        self._say_no_match(bool(self.filter_text and snap.dag_ids() and not rows))
        tree = self.query_one(DagTree)
        tree.children_for = lambda node: node_children(snap, node)
        tree.show(tree_nodes(snap, self.group_by, self.filter_text, tree.expanded_keys()))
        self.selection_changed()

    def _say_no_match(self, none: bool) -> None:
        """A filter that leaves no DAG says so, rather than show empty panes."""
        note = self.query_one("#nomatch", Static)
        if none:
            note.update(plain(f"No DAG matches {self.filter_text!r} (by id, tag or file name): "
                              "Esc clears the filter."))
        note.display = none

    def _redraw(self) -> None:
        snap = self.flowctl.snapshot
        if snap is not None:
            self.show_snapshot(snap)

    # -- selection ------------------------------------------------------------------------

    def _node(self) -> Node | None:
        tree = self.query_one(DagTree)
        if self._focus_tree:
            return tree.selected
        return None

    def current_dag(self) -> str | None:
        node = self._node()
        if node is not None:
            return node.dag_id
        return self.query_one(DagTable).selected_dag

    def current_run(self) -> str | None:
        node = self._node()
        return node.run_id if node is not None else None

    def current_task(self) -> str | None:
        node = self._node()
        return node.task_id if node is not None else None

    @on(Tree.NodeHighlighted)
    def _tree_moved(self) -> None:
        self._focus_tree = True
        self.selection_changed()

    @on(DataTable.RowHighlighted, "#dags")
    def _table_moved(self) -> None:
        if self.query_one(DagTable).has_focus:
            self._focus_tree = False
            self.selection_changed()

    def on_descendant_focus(self) -> None:
        focused = self.focused
        if isinstance(focused, DagTree):
            self._focus_tree = True
        elif isinstance(focused, DagTable):
            self._focus_tree = False
        self.selection_changed(refresh=False)  # Textual refreshes the keys on a focus change

    # -- opening things -----------------------------------------------------------------

    @on(Tree.NodeSelected)
    def _tree_selected(self, event: Tree.NodeSelected[Node]) -> None:
        node = event.node.data
        if node is None:
            return
        if node.kind == "group":
            event.node.toggle()
        elif node.kind == "ti" and node.dag_id and node.run_id and node.task_id:
            self.flowctl.open_task(node.dag_id, node.run_id, node.task_id)
        elif node.dag_id:
            self.flowctl.open_dag(node.dag_id, node.run_id)

    @on(DataTable.RowSelected, "#dags")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.flowctl.open_dag(event.row_key.value)

    def action_open(self) -> None:
        dag = self._need_dag()
        if dag:
            self.flowctl.open_dag(dag, self.current_run())

    @on(ErrorBanner.Open)
    def _open_errors(self) -> None:
        self.flowctl.action_show_errors()

    def action_pane(self, step: int) -> None:
        """h / l: the tree, then the DAG table (in a narrow terminal: above, then below)."""
        panes = [self.query_one(DagTree), self.query_one(DagTable)]
        here = next((i for i, p in enumerate(panes) if p.has_focus), 0 if step > 0 else 1)
        self.set_focus(panes[min(max(here + step, 0), len(panes) - 1)])

    # -- filter and grouping ---------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:  # a `/` typed into the filter itself
            box.insert_text_at_cursor("/")
            return
        if not box.display:
            selected = self.query_one(DagTree).selected
            self._key_before_filter = selected.key if selected is not None else None
        box.display = True
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display or self.filter_text:
            box.value = ""
            box.display = False
            self.filter_text = ""
            self._redraw()
            tree = self.query_one(DagTree)
            self.set_focus(tree)
            if self._key_before_filter is not None:  # back where the filter found it
                tree.select_key(self._key_before_filter)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._redraw()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        if not self.filter_text:
            self.query_one("#filter", Input).display = False
        self.set_focus(self.query_one(DagTable))

    def action_group(self) -> None:
        self.group_by = "tag" if self.group_by == "folder" else "folder"
        tree = self.query_one(DagTree)
        tree.clear()
        tree._first = True
        self._redraw()
        self.notify(f"Tree grouped by {self.group_by}.")
