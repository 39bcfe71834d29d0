"""The main screen's table of DAGs, updated in place cell by cell."""

from __future__ import annotations

from flowctl.tui.views import DAG_COLUMNS, DagRow, dag_cells
from flowctl.tui.widgets.lines import to_text
from flowctl.tui.widgets.vim import VimTable


class DagTable(VimTable):
    """One row per DAG: schedule, paused, the last run's state in words and
    its date, recent runs as coloured letters, next run, running and failed
    task counts. Enter opens the DAG."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, DagRow] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        for name in DAG_COLUMNS:
            self.add_column(name, key=name)

    @property
    def selected_dag(self) -> str | None:
        if not self._order or self.cursor_row is None or not (0 <= self.cursor_row < len(self._order)):
            return None
        return self._order[self.cursor_row]

    def show(self, rows: list[DagRow]) -> None:
        order = [r.dag_id for r in rows]
        if order != self._order:
            keep = self.selected_dag
            self.clear()
            for r in rows:
                self.add_row(*(to_text(c) for c in dag_cells(r)), key=r.dag_id)
            self._order = order
            if keep in order:
                self.move_cursor(row=order.index(keep), animate=False)
        else:
            for r in rows:
                old = self._rows.get(r.dag_id)
                if old == r:
                    continue
                for name, cell in zip(DAG_COLUMNS, dag_cells(r), strict=True):
                    self.update_cell(r.dag_id, name, to_text(cell))
        self._rows = {r.dag_id: r for r in rows}

    def select_dag(self, dag_id: str) -> None:
        if dag_id in self._order:
            self.move_cursor(row=self._order.index(dag_id), animate=False)
