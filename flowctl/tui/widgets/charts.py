"""The graph and gantt views: Static text drawn from `views` lines."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Static

from flowctl.tui.charts import gantt_lines
from flowctl.tui.views import Line, RunInfo
from flowctl.tui.widgets.lines import lines_to_text


class GraphView(Static):
    def show(self, lines: list[Line]) -> None:
        self.update(lines_to_text(lines))


class GanttView(Static):
    """Bars scaled to the widget's width, redrawn when it is resized."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._args: tuple[RunInfo, datetime, str] | None = None

    def show(self, info: RunInfo | None, now: datetime, tz: str) -> None:
        self._args = (info, now, tz) if info is not None else None
        self._draw()

    def _draw(self) -> None:
        if self._args is None:
            self.update("no run selected")
            return
        info, now, tz = self._args
        width = self.size.width or (self.app.size.width - 4)
        self.update(lines_to_text(gantt_lines(info, now, tz, max(40, width))))

    def on_resize(self) -> None:
        self._draw()
