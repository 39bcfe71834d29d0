"""Showing things to people: the one safe way to write output, times in the
user's zone and logical dates in the DAG's, states in colour, tables, the task
graph, JSON documents."""

from __future__ import annotations

import errno
import json
import os
import re
import sys
from datetime import datetime
from typing import Any

from flowctl.states import STATE_COLOURS

RUN_FIELDS = ("dag_id", "run_id", "run_type", "state", "logical_date", "data_interval_start",
              "data_interval_end", "start_date", "end_date", "conf")
TI_FIELDS = ("task_id", "state", "try_number", "start_date", "end_date", "duration")

# -- output that a closed pipe cannot stop -----------------------------------------------------------


class SafeStream:
    """sys.stdout or sys.stderr, such that output that cannot be written never
    stops the command's work: on a write the OS refuses (EPIPE: the reader went
    away, as `| head -1` does; ENOSPC: a redirect to a full disk; EIO) the
    stream's file descriptor is pointed at /dev/null, so this write, every
    later one and the interpreter's last flush at exit all succeed quietly,
    and the run, backfill or scheduler that was printing carries on. A reader
    that went away is no error; any other refusal is kept in `refused` (for
    the standard output, the command says so once it is done). Everything
    else (isatty, fileno, encoding) is the wrapped stream's."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.dropped = False  #: the output is gone (to /dev/null from now on)
        self.refused: OSError | None = None  #: why the output was lost, if not a reader gone

    def _lost(self, exc: OSError) -> None:
        if exc.errno not in (errno.EPIPE, errno.EINVAL) and self.refused is None:
            self.refused = exc
        self.dropped = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass
        try:  # drop what the buffer still holds for the output that is gone
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def write(self, text: str) -> int:
        if self.dropped:
            return len(text)
        try:
            return self._stream.write(text)
        except OSError as exc:
            self._lost(exc)
            return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.dropped:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            self._lost(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def reopen_closed_streams() -> None:
    """Point a standard stream the caller closed (`<&-`, `>&-`, `2>&-`) at
    /dev/null before anything else is opened: otherwise the next file, lock or
    socket takes its number and whatever later takes that number for a stream
    clobbers it (a task's stdin, a daemon's redirections: Bash tasks failed
    with EBADF and a lock could be lost). A closed stdin reads as empty (no
    terminal to confirm on), a closed stderr drops what it is told, and a
    closed stdout is output that could not be written (`refused_output`)."""

    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            closed.append(fd)
    if 0 in closed or sys.stdin is None:
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
    if 2 in closed or sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    if 1 in closed or sys.stdout is None:
        stream = SafeStream(open(1, "w", closefd=False))  # noqa: SIM115
        stream.refused = OSError(errno.EBADF, "the standard output is closed")
        stream.dropped = True
        sys.stdout = stream  # type: ignore[assignment]


def protect_output() -> None:
    """Route sys.stdout and sys.stderr through SafeStream (once, at start-up)."""
    if not isinstance(sys.stdout, SafeStream) and sys.stdout is not None:
        sys.stdout = SafeStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, SafeStream) and sys.stderr is not None:
        sys.stderr = SafeStream(sys.stderr)  # type: ignore[assignment]


def refused_output() -> OSError | None:
    """Why the command's standard output could not be written (not a reader
    that went away), once it has been flushed; None if it was written whole."""
    stream = sys.stdout
    if not isinstance(stream, SafeStream):
        return None
    stream.flush()
    return stream.refused


def write(text: str, err: bool = False, flush: bool = True) -> None:
    """The CLI's one way to write a line: never raises for a reader that went away."""
    stream = sys.stderr if err else sys.stdout
    if not isinstance(stream, SafeStream):
        stream = SafeStream(stream)
    stream.write(text)
    if flush:
        stream.flush()


def print_json(value: Any) -> None:
    write(json.dumps(value, indent=2, default=str) + "\n")


def is_terminal(err: bool = False) -> bool:
    stream = sys.stderr if err else sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 task`, `2 tasks`; `plural(3, "try", "tries")`."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def local_time(value: str | None, tz: str, with_seconds: bool = True) -> str:
    """An ISO time from the store, shown in zone `tz` (no microseconds)."""
    if not value:
        return "-"
    from flowctl.clock import zone

    dt = datetime.fromisoformat(value).astimezone(zone(tz))
    return dt.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def logical_date(value: str | None, tz: str) -> str:
    """A logical date as people type it back: `2026-11-20 00:00`, in the DAG's
    zone `tz` (so `tasks states DAG "2026-11-20 00:00"` finds the run). A wall
    time the zone has twice (the hour repeated when DST ends) carries its
    offset, `2026-10-25 02:00 +01:00`, which reads back as exactly that hour."""
    if not value:
        return "-"
    from flowctl.clock import zone

    dt = datetime.fromisoformat(value).astimezone(zone(tz))
    shown = dt.strftime("%Y-%m-%d %H:%M")
    if dt.replace(fold=1 - dt.fold).utcoffset() != dt.utcoffset():
        minutes = int(dt.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
        shown += f" {'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return shown


def zone_note(zones: list[str], local: str) -> str:
    """What a header says about the zone of the dates under it: nothing when
    they are in the local zone, ` (Europe/Amsterdam)` when all are in another
    one; when they differ (`several_zones`), a zone column names each."""
    distinct = {_zone_name(z) for z in zones}
    if len(distinct) != 1 or distinct == {_zone_name(local)}:
        return ""
    return f" ({zones[0]})"


_UTC_NAMES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu", "GMT",
              "Etc/GMT", "+00:00", "-00:00", "Z"}


def _zone_name(name: str) -> str:
    return "UTC" if name in _UTC_NAMES else name


def several_zones(zones: list[str]) -> bool:
    """Whether the dates of a table are in more than one zone (it then gets a zone column)."""
    return len({_zone_name(z) for z in zones}) > 1


_ISO_TIME = re.compile(r"(?<![_\w])\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")


def human_times(text: str, tz: str) -> str:
    """ISO timestamps inside a message, as people read them: in `tz`, to the
    second. Run ids (`manual__2026-...`) are left as they are: they are names."""

    def one(match: re.Match[str]) -> str:
        stamp = match.group(0)
        try:
            dt = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return stamp
        if dt.tzinfo is None:
            return dt.strftime("%Y-%m-%d %H:%M:%S")
        return local_time(dt.isoformat(), tz)

    return _ISO_TIME.sub(one, text)


def duration(seconds: float | None) -> str:
    from flowctl.clock import human_duration

    return human_duration(seconds)


def state_text(state: str | None) -> Any:
    """A state in its colour (rich Text)."""
    from rich.text import Text

    state = state or "none"
    return Text(state, style=STATE_COLOURS.get(state, "white"))


#: Width of output that is not a terminal: wide enough that no value is cut or wrapped.
PIPE_WIDTH = 100_000


def console(stderr: bool = False) -> Any:
    """A rich console; when it writes to a file or a pipe, lines are never cut
    or wrapped (a run id must come out whole, for grep and copy). Strings are
    printed as they are, never read as markup: an error that says `[core]` keeps
    it. Colour comes from rich Text (`styled`)."""
    from rich.console import Console

    if is_terminal(stderr):
        return Console(stderr=stderr, highlight=False, soft_wrap=False, markup=False)
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=PIPE_WIDTH, markup=False)


def styled(*parts: Any) -> Any:
    """rich Text from plain strings and (text, style) pairs: `styled(("failed", "red"), ": ", error)`."""
    from rich.text import Text

    return Text.assemble(*parts)


def table(*columns: str, title: str | None = None) -> Any:
    """A plain table; on a terminal the caller may let columns give way
    (`give_way`), elsewhere every value is shown whole, one row per line."""
    from rich import box
    from rich.table import Table

    piped = not is_terminal()
    t = Table(*columns, title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False,
              show_edge=not piped)
    if piped:
        for column in t.columns:
            column.no_wrap = True
            column.overflow = "ignore"
    return t


def give_way(t: Any, widths: dict[str, int], narrow: dict[str, int], last: str | None = None) -> None:
    """On a terminal: one line per row, cut with an ellipsis where it must be.
    The column `last` gives way first (to its start), the columns in `narrow`
    (header -> most width) next, the others keep `widths` at least. Output
    that is not a terminal is left whole."""
    if not is_terminal():
        return
    for column in t.columns:
        header = str(column.header)
        column.no_wrap = header != last  # rich shrinks a wrapping column first; the ellipsis keeps it one line
        column.min_width = widths.get(header)
        column.overflow = "ellipsis"
        if header in narrow:
            column.max_width = narrow[header]
            column.min_width = min(narrow[header], 12)


def graph_tree(spec: Any) -> Any:
    """The task graph as a tree from its roots; a task with several upstreams
    is drawn in full once and referred to after that. Task groups are shown
    in colour in the ids, and listed with their members below the graph."""
    from rich.tree import Tree

    schedule = spec.schedule_display or "manual only"
    root = Tree(styled((spec.dag_id, "bold"), "  ", (f"{schedule}, {plural(len(spec.tasks), 'task')}", "dim")))
    shown: set[str] = set()

    def name(tid: str) -> Any:
        group = spec.tasks[tid].group_id
        if group and tid.startswith(group + "."):
            return styled((f"{group}.", "cyan"), tid[len(group) + 1:])
        return styled(tid)

    def label(tid: str) -> Any:
        task = spec.tasks[tid]
        ups = ("  <- " + ", ".join(task.upstream), "dim") if len(task.upstream) > 1 else ""
        rule = (f"  {task.trigger_rule}", "yellow") if task.trigger_rule != "all_success" else ""
        return styled(name(tid), " ", (f"({task.operator})", "dim"), rule, ups)

    # depth first with a stack of its own (a chain of thousands of tasks is that deep)
    todo = [(root, tid) for tid in reversed(spec.order) if not spec.tasks[tid].upstream]
    while todo:
        node, tid = todo.pop()
        if tid in shown:
            node.add(styled((f"{tid} (shown above)", "dim")))
            continue
        shown.add(tid)
        child = node.add(label(tid))
        todo.extend((child, down) for down in reversed(spec.tasks[tid].downstream))
    groups: dict[str, list[str]] = {}
    for tid in spec.order:
        group = spec.tasks[tid].group_id
        while group:
            groups.setdefault(group, []).append(tid)
            group = group.rpartition(".")[0]
    if groups:
        node = root.add(styled(("task groups", "cyan")))
        for group in sorted(groups):
            node.add(styled((group, "cyan"), ": " + ", ".join(groups[group])))
    return root
