"""Assets: what tasks update (outlets), which DAGs they schedule, and when each
was last updated. Read off the UI thread (`Service.assets`) whenever the store moves."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from flowctl.tui.screens.base import COMMON_BINDINGS, FlowctlScreen
from flowctl.tui.views import Snapshot, asset_lines
from flowctl.tui.widgets.lines import plain
from flowctl.tui.widgets.status import StatusBar


class AssetsScreen(FlowctlScreen):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("question_mark", "app.help", "Keys", key_display="?"),
                Binding("enter", "open", "Open a consumer DAG", show=False), *COMMON_BINDINGS]

    def __init__(self) -> None:
        super().__init__(id="assets")
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield DataTable(id="assettable", cursor_type="row", zebra_stripes=True)
        yield Static(id="assetnote")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#assettable", DataTable)
        table.add_columns("asset", "updated by (outlets)", "schedules", "last update", "events")
        self.set_focus(table)
        self.load()

    def where(self) -> str:
        return "assets"

    def show_snapshot(self, snap: Snapshot) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="assets")
    def load(self) -> None:
        try:
            rows = self.flowctl.service.assets()
        except Exception as exc:  # noqa: BLE001 - a damaged asset journal: say so, keep the screen
            self.app.call_from_thread(self.notify, f"Could not read the assets: {exc}", severity="error")
            return
        self.app.call_from_thread(self.show_rows, rows)

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        table = self.query_one("#assettable", DataTable)
        where = table.cursor_row
        table.clear()
        for row, cells in zip(rows, asset_lines(rows, self.flowctl.service.settings.default_timezone,
                                                self.flowctl.now()), strict=True):
            table.add_row(*(plain(cell) for cell in cells), key=row["uri"])
        if rows:
            table.move_cursor(row=min(where, len(rows) - 1))
        note = "No assets: no task has outlets and no DAG is scheduled on assets." if not rows else \
            "Enter opens the first DAG scheduled on the asset under the cursor."
        self.query_one("#assetnote", Static).update(note)

    def current_dag(self) -> str | None:
        table = self.query_one("#assettable", DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        row = self.rows[table.cursor_row]
        return next(iter(row.get("consumers") or []), None)

    def action_open(self) -> None:
        dag = self.current_dag()
        if dag:
            self.flowctl.open_dag(dag)
        else:
            self.notify("No DAG is scheduled on this asset.", severity="warning")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_back(self) -> None:
        self.app.pop_screen()
