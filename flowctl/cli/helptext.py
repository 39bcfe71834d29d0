"""`--help` pages, drawn with a few rich primitives.

Typer's own rich help imports rich's Markdown (and markdown-it) on every
`--help`, a third of the start-up budget; this draws the same panels from the
commands' docstrings directly: the usage line, the help paragraphs with
`code` highlighted and the example set apart, then arguments, options and
commands, each group of commands in its own panel.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

COMMANDS_PANEL = "Commands"
_CODE = re.compile(r"`([^`]+)`")


def _text(paragraph: str, style: str = "") -> Any:
    """One paragraph as rich Text, `code` in bold (no markup parsing: brackets stay brackets)."""
    from rich.text import Text

    text = Text(style=style)
    pos = 0
    for match in _CODE.finditer(paragraph):
        text.append(paragraph[pos:match.start()])
        text.append(match.group(1), style="bold cyan")
        pos = match.end()
    text.append(paragraph[pos:])
    return text


def paragraphs(help_text: str | None) -> list[str]:
    """The docstring's paragraphs, each on one line."""
    text = inspect.cleandoc(help_text or "")
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def first_paragraph(command: Any) -> str:
    found = paragraphs(command.short_help or command.help)
    return found[0] if found else ""


def _panel(title: str, rows: list[tuple[Any, ...]], widths: tuple[int, ...]) -> Any:
    from rich import box
    from rich.panel import Panel
    from rich.table import Table

    grid = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0), expand=True)
    for i, _ in enumerate(widths):
        last = i == len(widths) - 1
        grid.add_column(no_wrap=not last, ratio=1 if last else None, style="bold cyan" if i == 0 else "")
    for row in rows:
        grid.add_row(*row)
    return Panel(grid, title=title, title_align="left", box=box.ROUNDED, border_style="dim")


def print_help(command: Any, ctx: Any) -> None:
    """Print a command's or group's help page on stdout."""
    from rich.console import Console
    from rich.padding import Padding

    out = Console(file=sys.stdout, highlight=False)
    out.print(Padding(_text(command.get_usage(ctx).strip(), style="bold"), (1, 1, 0, 1)))
    for para in paragraphs(command.help):
        if para.startswith("Example:"):
            line = _text("Example: ", style="dim")
            line.append_text(_text(para[len("Example:"):].strip()))
            out.print(Padding(line, (1, 1, 0, 1)))
        else:
            out.print(Padding(_text(para), (1, 1, 0, 1)))
    out.print()
    arguments, options = [], []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None or getattr(param, "hidden", False):
            continue
        names, help_text = record
        row = (names.strip(), _text(help_text or ""))
        (arguments if param.param_type_name == "argument" else options).append(row)
    if arguments:
        out.print(_panel("Arguments", arguments, (0, 1)))
    if options:
        out.print(_panel("Options", options, (0, 1)))
    if hasattr(command, "list_commands"):
        panels: dict[str, list[tuple[Any, ...]]] = {COMMANDS_PANEL: []}
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            panel = getattr(sub, "rich_help_panel", None) or COMMANDS_PANEL
            panels.setdefault(panel, []).append((name, _text(first_paragraph(sub))))
        for title, rows in panels.items():
            if rows:
                out.print(_panel(title, rows, (0, 1)))
