"""Vim-style movement for every list, table, tree and scrolling pane.

`j`/`k` down and up, `g`/`G` first and last, `Ctrl+D`/`Ctrl+U` half a page
down and up; where a widget is two-dimensional (the grid, a log, a drawn
view) `h`/`l` go left and right. Between the main screen's panes `h`/`l`
are the screen's own keys (see `MainScreen`). The arrows, Home/End and
PageUp/PageDown keep working as before.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import ScrollableContainer, VerticalScroll
from textual.widgets import DataTable, Tree

VERTICAL = [
    Binding("j", "vim('down')", "Down", show=False),
    Binding("k", "vim('up')", "Up", show=False),
    Binding("g", "vim('top')", "First", show=False),
    Binding("G", "vim('bottom')", "Last", show=False),
    Binding("ctrl+d", "vim('half_down')", "Half a page down", show=False),
    Binding("ctrl+u", "vim('half_up')", "Half a page up", show=False),
]
SIDEWAYS = [
    Binding("h", "vim('left')", "Left", show=False),
    Binding("l", "vim('right')", "Right", show=False),
]

#: What `?` lists for these keys.
HELP = [
    ("j k  ↓ ↑", "down / up (a row, a node, a line)"),
    ("g G", "the first / the last"),
    ("Ctrl+D Ctrl+U", "half a page down / up"),
    ("h l  ← →", "pane to the left / right (grid: older / newer run; log: sideways)"),
]


def _half(widget: object) -> int:
    region = getattr(widget, "scrollable_content_region", None)
    height = region.height if region is not None else 0
    return max(1, height // 2)


class VimTable(DataTable):
    """A DataTable whose cursor also moves with j/k, g/G, Ctrl+D/Ctrl+U."""

    BINDINGS = VERTICAL

    def action_vim(self, move: str) -> None:
        if move == "down":
            self.action_cursor_down()
        elif move == "up":
            self.action_cursor_up()
        elif move == "left":
            self.action_cursor_left()
        elif move == "right":
            self.action_cursor_right()
        elif self.cursor_type == "none":  # a table with no cursor scrolls
            scroll_pane(self, move)
        elif move == "top":
            self.action_scroll_top()
        elif move == "bottom":
            self.action_scroll_bottom()
        elif move in ("half_down", "half_up"):
            step = _half(self) * (1 if move == "half_down" else -1)
            row = min(max(self.cursor_row + step, 0), max(self.row_count - 1, 0))
            self.move_cursor(row=row, animate=False)


class VimTree(Tree):
    """A Tree whose cursor also moves with j/k, g/G, Ctrl+D/Ctrl+U."""

    BINDINGS = VERTICAL

    def action_vim(self, move: str) -> None:
        if move == "down":
            self.action_cursor_down()
        elif move == "up":
            self.action_cursor_up()
        elif move == "top":
            self.action_scroll_home()
        elif move == "bottom":
            self.action_scroll_end()
        elif move in ("half_down", "half_up"):
            step = _half(self) * (1 if move == "half_down" else -1)
            self.cursor_line = min(max(max(self.cursor_line, 0) + step, 0), self.last_line)
            self.scroll_to_line(self.cursor_line, animate=False)


def scroll_pane(widget: object, move: str) -> None:
    """Scroll a pane with no cursor (a log, a drawn view, the code)."""
    w = widget  # ScrollableContainer, ScrollView and Log share these methods
    if move == "down":
        w.scroll_relative(y=1, animate=False)  # type: ignore[attr-defined]
    elif move == "up":
        w.scroll_relative(y=-1, animate=False)  # type: ignore[attr-defined]
    elif move == "top":
        w.scroll_home(animate=False)  # type: ignore[attr-defined]
    elif move == "bottom":
        w.scroll_end(animate=False)  # type: ignore[attr-defined]
    elif move == "half_down":
        w.scroll_relative(y=_half(w), animate=False)  # type: ignore[attr-defined]
    elif move == "half_up":
        w.scroll_relative(y=-_half(w), animate=False)  # type: ignore[attr-defined]
    elif move == "left":
        w.scroll_relative(x=-4, animate=False)  # type: ignore[attr-defined]
    elif move == "right":
        w.scroll_relative(x=4, animate=False)  # type: ignore[attr-defined]


class VimScroll(ScrollableContainer):
    """A scrolling pane (graph, gantt, code) moved with j/k/h/l, g/G, Ctrl+D/Ctrl+U."""

    BINDINGS = [*VERTICAL, *SIDEWAYS]

    def action_vim(self, move: str) -> None:
        scroll_pane(self, move)


class VimVerticalScroll(VerticalScroll):
    """A vertical scrolling pane (the import errors) moved with j/k, g/G, Ctrl+D/Ctrl+U."""

    BINDINGS = VERTICAL

    def action_vim(self, move: str) -> None:
        scroll_pane(self, move)
