"""The header line (scheduler status, DAG count, time) and the import-error banner."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from flowctl.tui.views import Line
from flowctl.tui.widgets.lines import lines_to_text, plain


class StatusBar(Static):
    """`etl │ ● scheduler pid 12, beat 2s ago │ ● run pid 40: etl │ 3 DAGs │ time zone`;
    wraps to a second line in a narrow terminal rather than cut what carries the runs out.

    Redrawn only when its text changes, and laid out again only when it needs
    another number of lines: the clock ticks every second, and a layout of the
    whole screen each time would cost every key press behind it."""

    _shown: tuple[str, int] = ("", 0)

    def show(self, line: Line) -> None:
        text = lines_to_text([line], wrap=True)
        width = max(1, self.size.width or self.app.size.width)
        rows = len(text.wrap(self.app.console, width))
        if (text.markup, rows) == self._shown:
            return
        relayout = rows != self._shown[1]
        self._shown = (text.markup, rows)
        self.update(text, layout=relayout)


class ErrorBanner(Static, can_focus=True):
    """Shown while DAG files fail to import; Enter or a click opens the errors."""

    BINDINGS = [Binding("enter", "open", "Read errors")]

    class Open(Message):
        """The user asked to read the import errors."""

    def show(self, text: str) -> None:
        self.update(plain(text))
        self.display = bool(text)

    def action_open(self) -> None:
        self.post_message(self.Open())

    def on_click(self) -> None:
        self.post_message(self.Open())
