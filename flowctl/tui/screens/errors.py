"""DAG files that failed to import: each file, its one-line error and the traceback."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from flowctl.tui.screens.base import COMMON_BINDINGS, FlowctlScreen
from flowctl.tui.text import clean
from flowctl.tui.views import Snapshot
from flowctl.tui.widgets.status import StatusBar
from flowctl.tui.widgets.vim import VimVerticalScroll


class ErrorsScreen(FlowctlScreen):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("question_mark", "app.help", "Keys", key_display="?"),
                *COMMON_BINDINGS]

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with VimVerticalScroll(id="errors"):
            yield Static(id="errortext")
        yield Footer()

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#errors"))
        snap = self.flowctl.snapshot
        if snap is not None:
            self.show_snapshot(snap)

    def where(self) -> str:
        return "import errors"

    def show_snapshot(self, snap: Snapshot) -> None:
        """Each error, then how to fix it; once none is left, only that."""
        if not snap.errors:
            self.query_one("#errortext", Static).update(Text("No import errors: every DAG file loads.", "green"))
            return
        text = Text()
        for err in snap.errors:
            text.append(clean(f"{err.fileloc}\n"), "bold")
            text.append(clean(f"  {err.error}\n"), "red")
            if err.traceback:
                text.append(clean(err.traceback.rstrip() + "\n"), "dim")
            text.append("\n")
        text.append("Fix the file and save it: the DAG list follows within two seconds.", "dim")
        self.query_one("#errortext", Static).update(text)

    def action_back(self) -> None:
        self.app.pop_screen()
