"""Text from DAG files, tasks and users, made safe to draw and fitted in cells.

A task's log, an error message, a Param's description or a file name can
hold escape sequences: drawn as they are, `ESC ] 0 ; title BEL` renames the
terminal and `ESC [ 2 J` wipes the screen under the TUI. `clean` drops
every escape sequence (colours included: the TUI draws its own) and shows
the other control characters as their Unicode pictures (a bell as `␇`),
keeping line ends and tabs, so a line of the file stays a line on screen.

Ids can hold wide characters (`步骤` takes four cells, not two): `fit` and
`pad` count terminal cells, as the terminal does, never characters.
"""

from __future__ import annotations

import re

from rich.cells import cell_len, get_character_cell_size, set_cell_size

ELLIPSIS = "…"

_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI: colours, cursor moves, erases
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]"  # two-character escapes: ESC c, ESC 7, ESC ( B
)

_PICTURES: dict[int, str | None] = {c: chr(0x2400 + c) for c in range(0x20) if chr(c) not in "\t\n"}
_PICTURES[0x7F] = "␡"
_PICTURES.update({c: None for c in range(0x80, 0xA0)})  # C1 controls: dropped


def clean(text: str) -> str:
    """`text` with no escape sequence and no control character but line ends
    and tabs: `\\r\\n` ends a line, other controls show as pictures (`␇`, `␍`)."""
    if text.isprintable():
        return text
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _ESCAPES.sub("", text).translate(_PICTURES)


def fit(text: str, width: int) -> str:
    """`text` cut to at most `width` terminal cells, an ellipsis where it was cut."""
    if cell_len(text) <= width:
        return text
    kept: list[str] = []
    used = 0
    for ch in text:
        size = get_character_cell_size(ch)
        if used + size > width - 1:
            break
        kept.append(ch)
        used += size
    return "".join(kept) + ELLIPSIS if width > 0 else ""


def pad(text: str, width: int) -> str:
    """`text` fitted to `width` cells and padded with spaces to fill them."""
    return set_cell_size(fit(text, width), width)


def cells(text: str) -> list[str]:
    """One string per terminal cell: a wide character, then "" for its second
    cell; a zero-width character joins the one before it."""
    out: list[str] = []
    for ch in text:
        size = get_character_cell_size(ch)
        if size == 0 and out:
            out[-1 if out[-1] else -2] += ch
        elif size:
            out += [ch] + [""] * (size - 1)
    return out
