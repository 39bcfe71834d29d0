"""What every full screen shares: the header, the control keys, and the
selection the controls act on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from textual.app import SystemCommand
from textual.binding import Binding
from textual.events import Resize
from textual.screen import Screen

from flowctl.tui.views import Snapshot, carriers, status_line

if TYPE_CHECKING:
    from flowctl.tui.app import FlowctlApp


NARROW_HEADER = 100
"""Below this width the header leaves out its hints and the date."""
SHORT = 30
"""Below this height screens leave out hint lines (class `-short`)."""


class FlowctlScreen(Screen):
    """A screen that shows a snapshot. Subclasses say what is selected."""

    #: (action, palette title, palette help) for the command palette
    PALETTE: tuple[tuple[str, str, str], ...] = ()
    #: actions that need a selected task instance
    TASK_ACTIONS = frozenset({"clear", "mark_success", "mark_failed", "open_task"})

    @property
    def flowctl(self) -> FlowctlApp:
        return self.app  # type: ignore[return-value]

    # -- selection --------------------------------------------------------------

    def current_dag(self) -> str | None:
        return None

    def current_run(self) -> str | None:
        return None

    def current_task(self) -> str | None:
        return None

    def current_map_index(self) -> int:
        """The instance of a mapped task the cursor is on; -1: the task as a whole."""
        return -1

    def where(self) -> str:
        return ""

    # -- refresh ------------------------------------------------------------------

    def show_snapshot(self, snap: Snapshot) -> None:
        """Redraw from a new snapshot (called on the UI thread)."""

    def show_status(self) -> None:
        app = self.flowctl
        snap = app.snapshot
        if snap is None:
            return
        try:
            bar = self.query_one("StatusBar")
        except Exception:  # noqa: BLE001 - a screen without a header
            return
        others, waiting = carriers(snap, {proc.pid: dag_id for dag_id, proc, _ in app.backfills})
        bar.show(status_line(snap.scheduler, app.now(), snap.tz, len(snap.dags), len(snap.errors),  # type: ignore[attr-defined]
                             self.where(), others, waiting, compact=self.size.width < NARROW_HEADER))

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.height < SHORT, "-short")
        self.show_status()

    def on_screen_resume(self) -> None:
        snap = self.flowctl.snapshot
        if snap is not None:
            self.show_snapshot(snap)
            self.show_status()

    # -- controls ---------------------------------------------------------------------

    def action_trigger(self) -> None:
        dag = self._need_dag()
        if dag:
            self.flowctl.start_trigger(dag)

    def action_pause(self) -> None:
        dag = self._need_dag()
        if dag:
            self.flowctl.start_pause(dag)

    def action_backfill(self) -> None:
        dag = self._need_dag()
        if dag:
            self.flowctl.start_backfill(dag)

    def action_clear(self) -> None:
        dag, run, task = self.current_dag(), self.current_run(), self.current_task()
        if dag and run:
            self.flowctl.start_clear(dag, run, task, self.current_map_index() if task else -1)
        else:
            self.notify("Select a task instance (or a run) to clear first.", severity="warning")

    def action_mark_success(self) -> None:
        self._mark("success")

    def action_mark_failed(self) -> None:
        self._mark("failed")

    def _mark(self, state: str) -> None:
        dag, run, task = self.current_dag(), self.current_run(), self.current_task()
        if dag and run and task:
            self.flowctl.start_mark(dag, run, task, state, self.current_map_index())
        else:
            self.notify(f"Select a task instance to mark {state} first.", severity="warning")

    def _need_dag(self) -> str | None:
        dag = self.current_dag()
        if dag is None:
            self.notify("Select a DAG first.", severity="warning")
        return dag

    def palette_commands(self) -> Iterator[SystemCommand]:
        from functools import partial

        for action, title, help_text in self.PALETTE:
            yield SystemCommand(title, help_text, partial(self.run_action, action))

    _selection_kind: tuple[bool, bool] | None = None

    def selection_changed(self, refresh: bool = True) -> None:
        """Refresh the footer's keys only when what they act on changed kind
        (a task instance or a run selected, or not): redrawing the footer on
        every cursor move costs each key press a footer rebuild. A focus
        change refreshes them anyway (`refresh=False` then)."""
        try:
            kind = (bool(self.current_task()), bool(self.current_run()))
        except Exception:  # noqa: BLE001 - asked before the widgets exist
            return
        if kind != self._selection_kind:
            self._selection_kind = kind
            if refresh:
                self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.TASK_ACTIONS and hasattr(self, f"action_{action}"):
            try:
                selected = self.current_task() or (action == "clear" and self.current_run())
            except Exception:  # noqa: BLE001 - asked before the widgets exist
                return None
            return True if selected else None
        return True


COMMON_BINDINGS: list[Any] = [
    Binding("S", "app.start_scheduler", "Start scheduler", show=False),
    Binding("R", "app.reload_dags", "Reload DAGs", show=False),
]
