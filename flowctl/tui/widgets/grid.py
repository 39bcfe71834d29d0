"""The grid: runs as columns, tasks as rows, each cell a task instance's
state letter in its colour. Updated cell by cell while the shape holds."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from flowctl.tui.text import fit
from flowctl.tui.views import GridModel, GridRow, GridRun, state_letter, state_style
from flowctl.tui.widgets.lines import plain
from flowctl.tui.widgets.vim import SIDEWAYS, VimTable

TASK_COLUMN = "__task__"
CELL_WIDTH = 5
LABEL_WIDTH = 30
"""The task column's widest, in terminal cells: a longer task id ends in `…`."""


def _cell(state: str | None) -> Text:
    text = Text("  ", no_wrap=True)
    if state is not None:
        text.append(state_letter(state), state_style(state))
    return text


class GridTable(VimTable):
    """j/k move between tasks, h/l between runs (the grid is its screen's only pane)."""

    BINDINGS = SIDEWAYS

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="cell", fixed_columns=1, header_height=2, **kwargs)  # type: ignore[arg-type]
        self.model: GridModel | None = None
        self._shape: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())

    def show(self, model: GridModel) -> None:
        shape = (tuple(r.key for r in model.rows), tuple(c.run_id for c in model.runs))
        old = self.model
        self.model = model
        if shape == self._shape and old is not None:
            for row in model.rows:
                if self._label(old, row) != self._label(model, row):
                    self.update_cell(row.key, TASK_COLUMN, self._label(model, row))
                for run in model.runs:
                    before, after = old.cell(row.key, run.run_id), model.cell(row.key, run.run_id)
                    if before != after:
                        self.update_cell(row.key, run.run_id, _cell(after[0] if after else None))
            return
        keep = self.selection()
        fresh = not self._shape[1]
        self._shape = shape
        self.clear(columns=True)
        width = max([cell_len(r.label) for r in model.rows] + [8])
        self.add_column(Text("task\n", style="bold"), key=TASK_COLUMN, width=min(width, LABEL_WIDTH))
        for run in model.runs:
            self.add_column(Text(f"{run.day}\n{run.time}", style="dim"), key=run.run_id, width=CELL_WIDTH)
        for row in model.rows:
            cells = [self._label(model, row)]
            for run in model.runs:
                hit = model.cell(row.key, run.run_id)
                cells.append(_cell(hit[0] if hit else None))
            self.add_row(*cells, key=row.key)
        if not model.runs:
            return
        if keep is not None and not fresh:
            row_key, run_id = keep[0].key, keep[1].run_id
        else:
            row_key, run_id = (model.rows[1].key if len(model.rows) > 1 else model.rows[0].key), model.runs[-1].run_id
        self.select(row_key, run_id)

    def on_resize(self) -> None:
        """The details under the grid grow or shrink with what the cursor is
        on, after the jump that moved it (G, page keys) scrolled: scroll
        again, so the cursor's row stays in view."""
        if self.row_count:
            self.move_cursor(row=self.cursor_row, column=self.cursor_column, animate=False)

    def _label(self, model: GridModel, row: GridRow) -> Text:
        if row.kind == "run":
            return Text("run", style="bold")
        if row.kind == "group":
            return plain(fit(row.label, LABEL_WIDTH), "bold cyan")
        return plain(fit(row.label, LABEL_WIDTH), "dim strike" if row.removed else "")

    def select(self, row_key: str, run_id: str | None) -> None:
        model = self.model
        if model is None or not model.runs:
            return
        rows = [r.key for r in model.rows]
        runs = [r.run_id for r in model.runs]
        r = rows.index(row_key) if row_key in rows else min(1, len(rows) - 1)
        c = runs.index(run_id) + 1 if run_id in runs else len(runs)
        self.move_cursor(row=r, column=c, animate=False)

    def selection(self) -> tuple[GridRow, GridRun] | None:
        """The grid row and run under the cursor (None on the task-name column)."""
        model = self.model
        if model is None or not model.runs:
            return None
        row, col = self.cursor_coordinate.row, self.cursor_coordinate.column
        if not (0 <= row < len(model.rows)):
            return None
        col = min(max(col, 1), len(model.runs))
        return model.rows[row], model.runs[col - 1]
