"""The graph and gantt views as text: pure layout, no Textual, no I/O.

`graph_lines` lays the tasks out by dependency level and routes the edges
with box-drawing characters; `gantt_lines` puts a run's tries on one time
axis. Both return `views` lines (lists of `(text, style)` segments).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.cells import cell_len

from flowctl.tui.text import cells, fit, pad
from flowctl.tui.views import (
    Line,
    RunInfo,
    Seg,
    fmt_duration,
    fmt_time,
    parse_time,
    state_cell,
    state_letter,
    state_style,
)

# -- the graph -------------------------------------------------------------------------------

_N, _E, _S, _W = 1, 2, 4, 8
_GLYPHS = {
    _E | _W: "─", _N | _S: "│", _E: "─", _W: "─", _N: "│", _S: "│",
    _E | _S: "┌", _W | _S: "┐", _N | _E: "└", _N | _W: "┘",
    _N | _E | _S: "├", _N | _W | _S: "┤", _E | _W | _S: "┬", _E | _W | _N: "┴",
    _N | _E | _S | _W: "┼",
}
EDGE_STYLE = "grey50"


def levels_of(order: Sequence[str], upstream: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """A task's level: 0 for a root, else one more than its deepest upstream."""
    level: dict[str, int] = {}

    def visit(tid: str, path: frozenset[str]) -> int:
        if tid in level:
            return level[tid]
        ups = [u for u in upstream.get(tid, ()) if u in upstream and u not in path]
        level[tid] = 0 if not ups else 1 + max(visit(u, path | {tid}) for u in ups)
        return level[tid]

    for tid in order:
        visit(tid, frozenset())
    return level


def graph_lines(order: Sequence[str], upstream: Mapping[str, Sequence[str]],
                states: Mapping[str, str]) -> list[Line]:
    """The tasks laid out left to right by dependency level, with edges.

    Each task is `[L] task_id` in its state's colour. An edge that skips
    levels runs through the levels between; between two columns each source
    has its own vertical lane, so lines cross (┼) instead of merging."""
    order = [t for t in order if t in upstream] + [t for t in upstream if t not in order]
    if not order:
        return [[("(no tasks)", "dim")]]
    level = levels_of(order, upstream)
    depth = max(level.values()) + 1
    # nodes per level, with dummies for long edges: ("t", id) or ("d", (src, dst, lvl))
    layers: list[list[Any]] = [[] for _ in range(depth)]
    succ: dict[Any, list[Any]] = {}
    pred: dict[Any, list[Any]] = {}
    for tid in order:
        layers[level[tid]].append(("t", tid))
    for tid in order:
        for u in upstream.get(tid, ()):
            if u not in level:
                continue
            prev: Any = ("t", u)
            for lv in range(level[u] + 1, level[tid]):
                dummy = ("d", (u, tid, lv))
                layers[lv].append(dummy)
                succ.setdefault(prev, []).append(dummy)
                pred.setdefault(dummy, []).append(prev)
                prev = dummy
            succ.setdefault(prev, []).append(("t", tid))
            pred.setdefault(("t", tid), []).append(prev)
    # order within levels by the mean row of predecessors; rows two apart
    row: dict[Any, int] = {}
    for i, node in enumerate(layers[0]):
        row[node] = 2 * i
    for lv in range(1, depth):
        def bary(node: Any) -> float:
            ps = [row[p] for p in pred.get(node, ()) if p in row]
            return sum(ps) / len(ps) if ps else 0.0
        ranked = sorted(enumerate(layers[lv]), key=lambda p: (bary(p[1]), p[0]))
        layers[lv] = [n for _, n in ranked]
        last = -2
        for node in layers[lv]:
            want = int(round(bary(node) / 2)) * 2
            row[node] = max(last + 2, want)
            last = row[node]
    height = max(row.values()) + 1

    def label(node: Any) -> str:
        return f"[{state_letter(states.get(node[1]))}] {node[1]}" if node[0] == "t" else ""

    widths = [max([cell_len(label(n)) for n in layer] + [1]) for layer in layers]
    lanes = [[n for n in layers[lv] if succ.get(n)] for lv in range(depth)]
    gaps = [3 + 2 * len(lanes[lv]) for lv in range(depth)]
    xs: list[int] = []
    x = 0
    for lv in range(depth):
        xs.append(x)
        x += widths[lv] + (gaps[lv] if lv < depth - 1 else 0)
    total = x
    bits = [[0] * total for _ in range(height)]
    text: list[list[Seg | None]] = [[None] * total for _ in range(height)]

    def hline(y: int, x0: int, x1: int) -> None:
        for xx in range(min(x0, x1), max(x0, x1) + 1):
            if xx > min(x0, x1):
                bits[y][xx] |= _W
            if xx < max(x0, x1):
                bits[y][xx] |= _E

    def vline(x0: int, y0: int, y1: int) -> None:
        for yy in range(min(y0, y1), max(y0, y1) + 1):
            if yy > min(y0, y1):
                bits[yy][x0] |= _N
            if yy < max(y0, y1):
                bits[yy][x0] |= _S

    for lv in range(depth):
        for node in layers[lv]:
            y, x0 = row[node], xs[lv]
            if node[0] == "t":
                name = label(node)
                style = state_style(states.get(node[1]))
                for i, ch in enumerate(cells(name)):  # a wide character takes two
                    text[y][x0 + i] = (ch, style)
            else:
                hline(y, x0, x0 + widths[lv] - 1)
        if lv == depth - 1:
            continue
        start = xs[lv] + widths[lv]
        for k, node in enumerate(lanes[lv]):
            lane = start + 1 + 2 * k
            y0 = row[node]
            x_from = xs[lv] + (cell_len(label(node)) if node[0] == "t" else widths[lv] - 1)
            hline(y0, x_from, lane)
            targets = succ[node]
            for t in targets:
                y1 = row[t]
                vline(lane, y0, y1)
                end = xs[lv + 1] - (1 if t[0] == "t" else 0)
                hline(y1, lane, end)
                if t[0] == "t":
                    text[y1][xs[lv + 1] - 1] = ("▶", EDGE_STYLE)
    lines: list[Line] = []
    for y in range(height):
        segs: Line = []
        for xx in range(total):
            cell = text[y][xx]
            if cell is None:
                b = bits[y][xx]
                cell = (_GLYPHS.get(b, " "), EDGE_STYLE) if b else (" ", "")
            if segs and segs[-1][1] == cell[1]:
                segs[-1] = (segs[-1][0] + cell[0], cell[1])
            else:
                segs.append(cell)
        while segs and not segs[-1][0].strip():
            segs.pop()
        lines.append(segs)
    return lines


# -- the gantt chart ---------------------------------------------------------------------------


GANTT_NAME = 28
"""The gantt's task column at its widest, in cells."""
GANTT_TOOK = (11, 16)
"""The gantt's last column, narrowest and widest: how long the try took
(`1h02m05s`), or the state of a task that has not run (`upstream_failed`)."""
GANTT_BAR = 10
"""The narrowest time axis."""


def gantt_lines(info: RunInfo, now: datetime, tz: str, width: int) -> list[Line]:
    """The run's task instances as bars on one time axis: earlier tries ▒,
    the latest █, a running one up to now. One line per task, none wider
    than `width` cells (from 29 on): the names give way before the axis does."""
    spans: list[tuple[str, str, list[tuple[datetime, datetime, bool]], str]] = []
    t0: datetime | None = None
    t1: datetime | None = None
    for ti in info.tis:
        tid = str(ti.get("task_id"))
        state = str(ti.get("state") or "none")
        bars: list[tuple[datetime, datetime, bool]] = []
        current = int(ti.get("try_number") or 0)
        for tr in ti.get("tries") or []:
            s, e = parse_time(tr.get("start_date")), parse_time(tr.get("end_date"))
            if s and e:
                latest = state not in ("none", "scheduled", "queued", "running") and tr.get("try_number") == current
                bars.append((s, e, latest))
        s = parse_time(ti.get("start_date"))
        if state == "running" and s is not None:
            bars.append((s, max(now, s), True))
        took = fmt_duration(float(ti["duration"])) if ti.get("duration") is not None else (
            fmt_duration((bars[-1][1] - bars[-1][0]).total_seconds()) if bars and state == "running" else "")
        for b in bars:
            t0 = b[0] if t0 is None or b[0] < t0 else t0
            t1 = b[1] if t1 is None or b[1] > t1 else t1
        spans.append((tid, state, bars, took))
    took_w = min(GANTT_TOOK[1], max([GANTT_TOOK[0]] + [len(took or state) + 1 for _, state, _, took in spans]))
    room = max(4, width - 3 - took_w - 1 - GANTT_BAR)
    name_len = min(GANTT_NAME, room, max([cell_len(s[0]) for s in spans] + [4]))
    name_w = name_len + 3  # letter, space, name, space
    bar_w = max(GANTT_BAR, width - name_w - took_w - 1)
    if t0 is None or t1 is None:
        return [[("no task of this run has started yet", "dim")]] + [
            [state_cell(st), (" " + fit(tid, width - 2), "")] for tid, st, _, _ in spans]
    span = max((t1 - t0).total_seconds(), 1e-6)
    left = fmt_time(t0, tz, "%H:%M:%S")
    right = fmt_time(t1, tz, "%H:%M:%S")
    axis = left + " " * max(1, bar_w - len(left) - len(right)) + right
    lines: list[Line] = [
        [(" " * name_w, ""), (axis if len(axis) <= bar_w else left.ljust(bar_w), "dim"),
         (fit(f" {fmt_duration(span)}", took_w).rjust(took_w), "dim")],
        [(" " * name_w, ""), ("├" + "─" * (bar_w - 2) + "┤", EDGE_STYLE)],
    ]
    for tid, state, bars, took in spans:
        cells = [" "] * bar_w
        styles = [""] * bar_w
        for s, e, latest in bars:
            a = int((s - t0).total_seconds() / span * bar_w)
            b = math.ceil((e - t0).total_seconds() / span * bar_w)
            a = min(max(a, 0), bar_w - 1)
            b = min(max(b, a + 1), bar_w)
            for i in range(a, b):
                cells[i] = "█" if latest else "▒"
                styles[i] = state_style(state, bold=False) if latest else state_style("up_for_retry", bold=False)
        segs: Line = [state_cell(state), (" " + pad(tid, name_len) + " ", "")]
        for ch, st in zip(cells, styles, strict=True):
            if segs and segs[-1][1] == st and len(segs) > 2:
                segs[-1] = (segs[-1][0] + ch, st)
            else:
                segs.append((ch, st))
        segs.append((fit(took or state, took_w - 1).rjust(took_w), "dim"))
        lines.append(segs)
    return lines
