"""`views` lines -> Rich Text, every segment cleaned of escape sequences."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text

from flowctl.tui.text import clean
from flowctl.tui.views import Seg


def to_text(line: Iterable[Seg]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for chunk, style in line:
        text.append(clean(chunk), style or None)
    return text


def lines_to_text(lines: Sequence[Iterable[Seg]], wrap: bool = False) -> Text:
    text = Text(no_wrap=not wrap, overflow="fold" if wrap else "ellipsis")
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        for chunk, style in line:
            text.append(clean(chunk), style or None)
    return text


def plain(value: object, style: str = "") -> Text:
    """Text from a task, a file or an error, drawn as it is: no markup, no escapes."""
    return Text(clean(str(value)), style=style)
