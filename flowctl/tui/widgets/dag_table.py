"""The main screen's table of DAGs, updated in place cell by cell."""

from __future__ import annotations

from textual.events import Resize

from flowctl.tui.views import COMPACT_COLUMNS, DAG_COLUMNS, DagRow, dag_cells, dag_layout
from flowctl.tui.widgets.lines import to_text
from flowctl.tui.widgets.vim import VimTable


class DagTable(VimTable):
    """One row per DAG: schedule, paused, the last run's state in words and
    its date, next run, running and failed task counts; compact columns
    when the table is narrow (`views.dag_layout`), and the DAG column stays
    while the rest scroll sideways. Enter opens the DAG."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, fixed_columns=1, **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, DagRow] = {}
        self._order: list[str] = []
        self._shown: list[DagRow] = []
        self._layout: tuple[bool, int] | None = None

    @property
    def columns_shown(self) -> tuple[str, ...]:
        return COMPACT_COLUMNS if self._layout and self._layout[0] else DAG_COLUMNS

    @property
    def selected_dag(self) -> str | None:
        if not self._order or self.cursor_row is None or not (0 <= self.cursor_row < len(self._order)):
            return None
        return self._order[self.cursor_row]

    def _room(self, rows: int) -> int:
        """The cells' width: the table's, less a vertical scrollbar if `rows`
        will need one (before the table is laid out, assume they will)."""
        width, height = self.size.width or self.app.size.width, self.size.height
        scrolls = not height or rows + 1 > height
        return width - (self.styles.scrollbar_size_vertical if scrolls else 0)

    def show(self, rows: list[DagRow]) -> None:
        self._shown = rows
        keep = self.selected_dag
        layout = dag_layout(rows, self._room(len(rows)))
        if layout != self._layout:  # new columns, or the ids cut elsewhere: draw it all again
            self._layout = layout
            self.clear(columns=True)
            for name in self.columns_shown:
                self.add_column(name, key=name)
            self._order = []
        compact, id_width = layout
        order = [r.dag_id for r in rows]
        if order != self._order:
            self.clear()
            for r in rows:
                self.add_row(*(to_text(c) for c in dag_cells(r, compact, id_width)), key=r.dag_id)
            self._order = order
            if keep in order:
                self.move_cursor(row=order.index(keep), animate=False)
        else:
            for r in rows:
                if self._rows.get(r.dag_id) == r:
                    continue
                for name, cell in zip(self.columns_shown, dag_cells(r, compact, id_width), strict=True):
                    self.update_cell(r.dag_id, name, to_text(cell))
        self._rows = {r.dag_id: r for r in rows}

    def on_resize(self, event: Resize) -> None:
        if self._layout is not None:
            self.show(self._shown)

    def select_dag(self, dag_id: str) -> None:
        if dag_id in self._order:
            self.move_cursor(row=self._order.index(dag_id), animate=False)
