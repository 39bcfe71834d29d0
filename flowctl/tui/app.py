"""`FlowctlApp(service, clock)`: the one factory the `tui` command and the
tests use, and `run_tui(service)`.

Live without blocking: a timer (every `poll_interval` s) reads the store's
commit counter (`store.seq()`, one tiny file) and only when it moved, or an
open screen needs more runs, or the DAG folder is due a look (every
`dag_reload_interval` s), starts one refresh in a worker thread. The worker
builds a `Snapshot` (unchanged run files come from the store's stat-keyed
cache) and hands it to the screens on the UI thread. A look at an unchanged
DAG folder is a `stat` per file (the loader re-imports only what changed),
so a new, changed or broken DAG file shows within two seconds, no key pressed.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from flowctl.clock import Clock, SystemClock
from flowctl.tui.controls import Controls
from flowctl.tui.data import SnapshotLoader
from flowctl.tui.screens.assets import AssetsScreen
from flowctl.tui.screens.base import FlowctlScreen
from flowctl.tui.screens.dag import DagScreen
from flowctl.tui.screens.errors import ErrorsScreen
from flowctl.tui.screens.main import MainScreen
from flowctl.tui.screens.modals import HelpScreen
from flowctl.tui.screens.task import TaskScreen
from flowctl.tui.text import clean
from flowctl.tui.views import Snapshot
from flowctl.tui.widgets.vim import HELP as VIM_HELP

NAVIGATION_KEYS = [
    *VIM_HELP,
    ("→ ← in the tree", "expand / collapse; Space toggles"),
    ("Enter", "open the DAG, run or task instance under the cursor"),
    ("Tab", "next pane (tree, table, grid, tabs)"),
    ("Ctrl+P", "command palette: every action by name"),
]


class FlowctlApp(Controls, App[int]):
    """The live terminal UI over one `Service`."""

    CSS_PATH = "flowctl.tcss"
    TITLE = "flowctl"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, service: Any, clock: Clock | None = None, *, poll_interval: float = 0.5,
                 dag_reload_interval: float = 1.0, status_interval: float = 2.0) -> None:
        super().__init__()
        self.service = service
        self.clock: Clock = clock or SystemClock()
        self.loader = SnapshotLoader(service, dag_reload_interval)
        self.snapshot: Snapshot | None = None
        self.poll_interval = poll_interval
        self.status_interval = status_interval
        self.backfills: list[tuple[str, subprocess.Popen, Path]] = []
        self._seq: int | None = None
        self._refreshing = False
        self._force = False
        self._reload_dags = False
        self._watched: Counter[str] = Counter()
        self._loaded_detail: frozenset[str] = frozenset()
        self._status_at = float("-inf")
        self.refreshes = 0  #: snapshots applied (tests and the bench read it)
        self._last_error: str | None = None

    def now(self) -> datetime:
        return self.clock.now()

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Notifications carry ids, paths and error text, never markup: `[Errno 2]` stays as it is,
        and an escape sequence in an error's text is dropped."""
        super().notify(clean(message), title=clean(title), severity=severity, timeout=timeout, markup=False)

    def get_default_screen(self) -> Screen:
        return MainScreen()

    def on_mount(self) -> None:
        self.set_interval(self.poll_interval, self._poll)
        self._poll()

    # -- live refresh -------------------------------------------------------------------------

    def watch_dag(self, dag_id: str) -> None:
        """An open screen wants `GRID_RUNS` of this DAG's runs."""
        self._watched[dag_id] += 1
        if dag_id not in self._loaded_detail:
            self.request_refresh()

    def unwatch_dag(self, dag_id: str) -> None:
        self._watched[dag_id] -= 1
        if self._watched[dag_id] <= 0:
            del self._watched[dag_id]

    def request_refresh(self, reload_dags: bool = False) -> None:
        self._force = True
        self._reload_dags = self._reload_dags or reload_dags
        self._status_at = float("-inf")
        self._poll()

    def _poll(self) -> None:
        self.reap_backfills()
        self._show_status()
        if self._refreshing:
            return
        try:
            seq = self.service.store.seq()
        except Exception:  # noqa: BLE001 - an unreadable counter: refresh anyway
            seq = -1
        detail = frozenset(self._watched)
        mono = time.monotonic()
        status_due = mono - self._status_at >= self.status_interval
        full = (self._force or self.snapshot is None or seq != self._seq or seq == -1
                or not detail <= self._loaded_detail or self.loader.dags_due())
        if not (full or status_due):
            return
        self._refreshing = True
        reload_dags, self._reload_dags = self._reload_dags, False
        self._force = False
        if status_due:
            self._status_at = mono
        self.run_worker(lambda: self._refresh(full, status_due, detail, reload_dags), thread=True,
                        group="refresh", exit_on_error=False)

    def _refresh(self, full: bool, status: bool, detail: frozenset[str], reload_dags: bool) -> None:
        """In a worker thread: read, then hand the snapshot to the UI thread."""
        try:
            previous = self.snapshot
            if full or previous is None:
                snap = self.loader.load(self.now(), detail=detail, reload_dags=reload_dags,
                                        with_scheduler=status, previous=previous)
                full = self.loader.changed
            else:
                snap, full = self.loader.recheck(previous)
            self.call_from_thread(self._apply, snap, detail, full)
        except Exception as exc:  # noqa: BLE001 - a damaged state file: say so, keep going
            self.call_from_thread(self._refresh_failed, exc)

    def _apply(self, snap: Snapshot, detail: frozenset[str], full: bool) -> None:
        self._refreshing = False
        self._last_error = None
        self.snapshot = snap
        self._seq = snap.seq
        self._loaded_detail = detail
        if full:
            self.refreshes += 1
            for screen in self.screen_stack:
                if isinstance(screen, FlowctlScreen) and screen.is_mounted:
                    screen.show_snapshot(snap)
        self._show_status()
        if self._force:
            self._poll()

    def _refresh_failed(self, exc: Exception) -> None:
        self._refreshing = False
        message = f"Could not read the state: {exc}"
        if message != self._last_error:  # say it once, not on every poll
            self._last_error = message
            self.notify(message, severity="error", timeout=15)

    def _show_status(self) -> None:
        """The header of the screen in view (a screen below catches up when it is back on top)."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, FlowctlScreen) and screen.is_mounted:
                screen.show_status()
                return

    # -- navigation -------------------------------------------------------------------------------

    def open_dag(self, dag_id: str, run_id: str | None = None) -> None:
        self.push_screen(DagScreen(dag_id, run_id))

    def open_task(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> None:
        screen = TaskScreen(dag_id, run_id, task_id)
        screen.map_index = map_index  # an instance of a mapped task; -1: the first, once known mapped
        self.push_screen(screen)

    def action_show_errors(self) -> None:
        if isinstance(self.screen, ErrorsScreen):
            return
        self.push_screen(ErrorsScreen())

    def action_show_assets(self) -> None:
        if isinstance(self.screen, AssetsScreen):
            return
        self.push_screen(AssetsScreen())

    def action_reload_dags(self) -> None:
        self.request_refresh(reload_dags=True)
        self.notify("Reloading the DAG folder…")

    def action_help(self) -> None:
        screen = self.screen
        keys = list(_keys_of(getattr(screen, "BINDINGS", [])))
        keys += [k for k in _keys_of(self.BINDINGS) if k not in keys]
        shown = {key for key, _ in keys}
        keys += [k for k in NAVIGATION_KEYS if k[0] not in shown]
        names = {"MainScreen": "the DAG list", "DagScreen": "a DAG (grid, graph, gantt, code)",
                 "TaskScreen": "a task instance and its log", "ErrorsScreen": "import errors",
                 "AssetsScreen": "assets"}
        self.push_screen(HelpScreen(keys, names.get(type(screen).__name__, "flowctl")))

    async def action_quit(self) -> None:
        self.exit(0)

    def action_help_quit(self) -> None:
        """Ctrl+C does not quit (in a text box it copies): say which keys do.
        Textual's own notice is markup, and notifications here are plain text."""
        keys = sorted((key for key, active in self.active_bindings.items()
                       if active.binding.action in ("quit", "app.quit")), key=len)
        if keys:
            self.notify(f"Press {' or '.join(keys)} to quit.", title="Do you want to quit?")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's commands (less its own "Keys", which `?` replaces), ours,
        then the screen's: each title once."""
        seen: set[str] = set()
        for command in self._commands(screen):
            if command.title not in seen:
                seen.add(command.title)
                yield command

    def _commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Keys":
                yield command
        yield SystemCommand("Keys", "Every key of this screen and what it does, and the grid's letters",
                            self.action_help)
        yield SystemCommand("Start a scheduler", "Run `flowctl scheduler --daemon` for this home",
                            self.action_start_scheduler)
        yield SystemCommand("Reload DAG files", "Look at the DAG folder again now", self.action_reload_dags)
        if not isinstance(screen, ErrorsScreen):
            yield SystemCommand("Import errors", "DAG files that failed to import, with tracebacks",
                                self.action_show_errors)
        if not isinstance(screen, AssetsScreen):
            yield SystemCommand("Assets", "What tasks update, which DAGs they schedule, and when",
                                self.action_show_assets)
        if isinstance(screen, FlowctlScreen):
            yield from screen.palette_commands()


def _keys_of(bindings: Iterable[Any]) -> Iterable[tuple[str, str]]:
    for b in bindings:
        if isinstance(b, Binding):
            key, desc, shown = b.key_display or b.key, b.description, b.key
        else:
            key, desc, shown = b[0], b[2] if len(b) > 2 else b[1], b[0]
        if not desc:
            continue
        names = {"question_mark": "?", "slash": "/", "left_square_bracket": "[", "right_square_bracket": "]",
                 "escape": "Esc"}
        display = ", ".join(names.get(k, k) for k in shown.split(",")) if key == shown else key
        yield display, desc


def run_tui(service: Any) -> int:
    """Run the TUI in this terminal until `q`; the exit code (0 on a normal quit)."""
    try:
        service.dagbag()  # import DAG files before any thread starts: forked imports are fastest
    except Exception:  # noqa: BLE001 - the TUI shows import problems itself
        pass
    app = FlowctlApp(service)
    app.run()
    return int(app.return_code or 0)
