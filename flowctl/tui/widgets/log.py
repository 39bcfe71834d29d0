"""A task try's log: vim movement, search with highlighted matches, and follow.

Search is plain text, case-insensitive unless the query has a capital
letter (vim's smartcase). Every match is highlighted, the current one
brighter; `next_match`/`previous_match` move between them and wrap.
Following keeps the view at the end as lines arrive; moving up stops it
(as `less +F`), and the screen says so. What a try wrote is cleaned before
it is kept (`text.clean`): its escape sequences never reach the terminal,
and search finds what is shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.text import Text
from textual.events import MouseScrollUp
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Log

from flowctl.tui.text import clean
from flowctl.tui.widgets.vim import SIDEWAYS, VERTICAL, scroll_pane

MATCH_STYLE = "#000000 on #ffd75f"
CURRENT_STYLE = "bold underline #000000 on #ff5f00"


class _Matches(Highlighter):
    """Highlights the log's search matches in the line being rendered."""

    def __init__(self, log: SearchLog) -> None:
        self.log = log

    def highlight(self, text: Text) -> None:
        log = self.log
        if log.pattern is None:
            return
        current = log.matches[log.current] if 0 <= log.current < len(log.matches) else None
        for k, m in enumerate(log.pattern.finditer(text.plain)):
            here = current == (log.rendering_line, k)
            text.stylize(CURRENT_STYLE if here else MATCH_STYLE, m.start(), m.end())


class SearchLog(Log):
    BINDINGS = [*VERTICAL, *SIDEWAYS]

    class FollowChanged(Message):
        """Following stopped (the user moved up) or started."""

        def __init__(self, follow: bool) -> None:
            super().__init__()
            self.follow = follow

    def __init__(self, **kwargs: object) -> None:
        super().__init__(highlight=True, auto_scroll=False, **kwargs)  # type: ignore[arg-type]
        self.highlighter = _Matches(self)
        self.follow = True
        self.query_text = ""
        self.pattern: re.Pattern[str] | None = None
        self.matches: list[tuple[int, int]] = []  #: (line, n-th match in that line)
        self.current = -1
        self.rendering_line = -1

    # -- following ------------------------------------------------------------------

    def set_follow(self, follow: bool) -> None:
        if follow != self.follow:
            self.follow = follow
            self.post_message(self.FollowChanged(follow))
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    _bulk = False

    def append(self, text: str) -> None:
        """Add what the try wrote since the last read; stay at the end while following.

        One repaint for the whole text: `Log.write` refreshes each line it
        adds, which costs a 200 KB tail of a log most of a second."""
        self._bulk = True
        try:
            self.write(text, scroll_end=self.follow)
        finally:
            self._bulk = False
        if self.pattern is not None:
            self._find()
        self._repaint()

    def write(self, data: str, scroll_end: bool | None = None) -> SearchLog:
        return super().write(clean(data), scroll_end)

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> SearchLog:
        return super().write_lines([clean(line) for line in lines], scroll_end)

    def refresh_lines(self, y_start: int, line_count: int = 1) -> None:
        if not self._bulk:
            super().refresh_lines(y_start, line_count)

    def on_resize(self) -> None:
        if self.follow:  # the details above grew or shrank: keep the end in view
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def _moved_up(self) -> None:
        if self.follow:
            self.set_follow(False)

    def action_vim(self, move: str) -> None:
        if move in ("up", "top", "half_up"):
            self._moved_up()
        scroll_pane(self, move)

    def action_scroll_up(self) -> None:
        self._moved_up()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._moved_up()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self._moved_up()
        super().action_scroll_home()

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self._moved_up()

    # -- search ----------------------------------------------------------------------

    def search(self, query: str) -> int:
        """Highlight every match of `query`; the number of matches."""
        self.query_text = query
        self.current = -1
        if not query:
            self.pattern = None
            self.matches = []
        else:
            flags = 0 if any(c.isupper() for c in query) else re.IGNORECASE
            self.pattern = re.compile(re.escape(query), flags)
            self._find()
        self._repaint()
        return len(self.matches)

    def _find(self) -> None:
        assert self.pattern is not None
        current = self.matches[self.current] if 0 <= self.current < len(self.matches) else None
        finditer = self.pattern.finditer
        self.matches = [(y, k) for y, line in enumerate(self.lines) for k, _ in enumerate(finditer(line))]
        self.current = self.matches.index(current) if current in self.matches else -1

    def next_match(self, step: int = 1) -> int | None:
        """Go to the next (`step` 1) or previous (-1) match, wrapping; its index."""
        if not self.matches:
            return None
        if self.current < 0:  # the first match in or after the view (or before it, going back)
            top = int(self.scroll_y)
            after = [i for i, (y, _) in enumerate(self.matches) if y >= top]
            if step > 0:
                self.current = after[0] if after else 0
            else:
                before = [i for i, (y, _) in enumerate(self.matches) if y < top + self.size.height]
                self.current = before[-1] if before else len(self.matches) - 1
        else:
            self.current = (self.current + step) % len(self.matches)
        self._moved_up()
        line = self.matches[self.current][0]
        self.scroll_to(x=self._match_x(self.current), y=max(0, line - self.size.height // 2), animate=False,
                       immediate=True)
        self._repaint()
        return self.current

    def _match_x(self, index: int) -> float:
        """Where to scroll sideways so that match `index` is in view: where the
        view is if it already shows it whole, else a little left of it."""
        assert self.pattern is not None
        y, k = self.matches[index]
        text = self.lines[y]
        found = next(m for i, m in enumerate(self.pattern.finditer(text)) if i == k)
        start = cell_len(text[:found.start()].expandtabs())
        end = cell_len(text[:found.end()].expandtabs())
        x, width = int(self.scroll_x), self.scrollable_content_region.width
        if x <= start and end <= x + width:
            return x
        return max(0, start - 4)

    def _repaint(self) -> None:
        self.notify_style_update()  # drops the rendered-line cache
        self.refresh()

    def render_line(self, y: int) -> Strip:
        self.rendering_line = int(self.scroll_offset.y) + y
        return super().render_line(y)
