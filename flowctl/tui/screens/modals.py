"""Confirmations and dialogs. Each shows what it will change before it does:
the clear plan, the task instances a mark sets, the intervals a backfill
covers. They return values; the app calls the service."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from flowctl.tui.text import clean
from flowctl.tui.views import (
    Line,
    RunInfo,
    legend,
    mark_targets,
    plan_lines,
    state_cell,
    state_word,
)
from flowctl.tui.widgets.lines import lines_to_text, plain
from flowctl.tui.widgets.vim import VimTable


class Dialog(ModalScreen):
    """A centred box: a title, a body, and buttons."""

    DEFAULT_CLASSES = "dialog"
    CANCEL_VALUE: Any = None

    def buttons(self, ok: str, variant: str = "primary", cancel: str = "Cancel [n / Esc]") -> Horizontal:
        return Horizontal(
            Button(Content(ok), variant=variant, id="ok"),  # type: ignore[arg-type]
            Button(Content(cancel), id="cancel"),
            classes="buttons",
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(self.CANCEL_VALUE)


class ConfirmScreen(Dialog):
    """Yes or no, with the affected set listed."""

    CANCEL_VALUE = False

    BINDINGS = [
        Binding("y", "ok", "Yes"),
        Binding("n,escape", "cancel", "No"),
    ]

    def __init__(self, title: str, body: Sequence[Line], ok: str = "Yes [y]", danger: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.body = list(body)
        self.ok_label = ok
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(self.title_text), id="title")
            with VerticalScroll(id="body"):
                yield Static(lines_to_text(self.body, wrap=True))
            yield self.buttons(self.ok_label, "error" if self.danger else "primary")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#ok", Button))

    @on(Button.Pressed, "#ok")
    def action_ok(self) -> None:
        self.dismiss(True)



#: The clear dialog's toggles: id -> (key, what it adds)
TOGGLES = {
    "upstream": ("u", "upstream"),
    "downstream": ("d", "downstream"),
    "only_failed": ("o", "only failed"),
}


def toggle_label(name: str, on: bool) -> Content:
    """`[u] upstream: off`: the key and the state in words, not only the box's
    colour (plain text: `[u]` is not markup)."""
    key, text = TOGGLES[name]
    return Content(f"[{key}] {text}: {'ON' if on else 'off'}")


class ClearScreen(Dialog):
    """Clear with upstream / downstream / only-failed options; the plan is
    recomputed (by the service, in a worker) whenever an option changes and
    is what gets applied."""

    BINDINGS = [
        Binding("y", "ok", "Clear"),
        Binding("u", "toggle('upstream')", "Upstream"),
        Binding("d", "toggle('downstream')", "Downstream"),
        Binding("o", "toggle('only_failed')", "Only failed"),
        Binding("n,escape", "cancel", "Cancel"),
    ]

    def __init__(self, dag_id: str, run_id: str, task_id: str | None, tz: str,
                 plan_fn: Callable[..., list[dict[str, Any]]], map_index: int = -1) -> None:
        super().__init__()
        self.dag_id, self.run_id, self.task_id, self.tz = dag_id, run_id, task_id, tz
        self.map_index = map_index  #: one instance of a mapped task; -1: the task whole
        self.plan_fn = plan_fn
        self.plan: list[dict[str, Any]] | None = None
        self._asked = 0

    def compose(self) -> ComposeResult:
        instance = f"[{self.map_index}]" if self.task_id and self.map_index >= 0 else ""
        what = f"{self.dag_id}.{self.task_id}{instance}" if self.task_id else f"every task of {self.dag_id}"
        with Vertical(id="dialog"):
            yield Label(plain(f"Clear {what} in {self.run_id}?"), id="title")
            with Horizontal(classes="options"):
                for name in TOGGLES:
                    yield Checkbox(toggle_label(name, False), id=name)
            yield Static("These task instances go back to no state and run again:", classes="hint")
            with VerticalScroll(id="body"):
                yield Static("working out the set…", id="plan")
            yield self.buttons("Clear [y]", "warning")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#ok", Button))
        self._replan()

    def action_toggle(self, name: str) -> None:
        box = self.query_one(f"#{name}", Checkbox)
        box.value = not box.value

    @on(Checkbox.Changed)
    def _changed(self, event: Checkbox.Changed) -> None:
        event.checkbox.label = toggle_label(str(event.checkbox.id), event.value)
        self._replan()

    def options(self) -> dict[str, bool]:
        return {name: self.query_one(f"#{name}", Checkbox).value for name in TOGGLES}

    def _replan(self) -> None:
        self.plan = None
        self._asked += 1
        self._compute(self._asked, self.options())

    @work(thread=True, exit_on_error=False)
    def _compute(self, ticket: int, options: dict[str, bool]) -> None:
        import re

        try:
            regex = f"^{re.escape(self.task_id)}$" if self.task_id else None
            plan = self.plan_fn(self.dag_id, run_id=self.run_id, task_regex=regex,
                                map_index=self.map_index if self.task_id else -1, **options)
            error = None
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            plan, error = [], str(exc)
        self.app.call_from_thread(self._show_plan, ticket, plan, error)

    def _show_plan(self, ticket: int, plan: list[dict[str, Any]], error: str | None) -> None:
        if ticket != self._asked:
            return
        self.plan = plan
        body = self.query_one("#plan", Static)
        if error:
            body.update(plain(error, "red"))
        elif not plan:
            body.update("Nothing to clear with these options.")
        else:
            n = len(plan)
            lines = [[(f"{n} task instance{'s' if n != 1 else ''}:", "bold")], *plan_lines(plan, self.tz)]
            body.update(lines_to_text(lines))

    @on(Button.Pressed, "#ok")
    def action_ok(self) -> None:
        if self.plan is None:
            self.notify("Still working out the set; try again in a moment.")
            return
        if not self.plan:
            self.dismiss(None)
            return
        self.dismiss(self.plan)


class MarkScreen(Dialog):
    """Mark a task instance success or failed (optionally its downstream)."""

    BINDINGS = [
        Binding("y", "ok", "Mark"),
        Binding("d", "toggle", "Downstream"),
        Binding("n,escape", "cancel", "Cancel"),
    ]

    def __init__(self, info: RunInfo, upstream: dict[str, tuple[str, ...]], task_id: str, state: str,
                 map_index: int = -1) -> None:
        super().__init__()
        self.info, self.upstream, self.task_id, self.state = info, upstream, task_id, state
        self.map_index = map_index  #: one instance of a mapped task; -1: the task whole

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            instance = f"[{self.map_index}]" if self.map_index >= 0 else ""
            yield Label(plain(f"Mark {self.info.dag_id}.{self.task_id}{instance} {self.state} in {self.info.run_id}?"),
                        id="title")
            with Horizontal(classes="options"):
                yield Checkbox(toggle_label("downstream", False), id="downstream")
            with VerticalScroll(id="body"):
                yield Static(id="targets")
            yield self.buttons(f"Mark {self.state} [y]", "success" if self.state == "success" else "error")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#ok", Button))
        self._show()

    def action_toggle(self) -> None:
        box = self.query_one("#downstream", Checkbox)
        box.value = not box.value

    @on(Checkbox.Changed)
    def _show(self) -> None:
        box = self.query_one("#downstream", Checkbox)
        box.label = toggle_label("downstream", box.value)
        down = box.value
        targets = mark_targets(self.info, self.upstream, self.task_id, down, self.map_index)
        lines: list[Line] = [[("These task instances become ", "bold"), state_word(self.state), (":", "bold")]]
        for tid, state in targets:
            lines.append([state_cell(state), (f" {tid}", "bold"), ("  now ", "dim"), state_word(state)])
        if self.state == "success":
            lines.append([("Their upstream_failed descendants are reset so they run.", "dim italic")])
        self.query_one("#targets", Static).update(lines_to_text(lines))

    @on(Button.Pressed, "#ok")
    def action_ok(self) -> None:
        self.dismiss({"downstream": self.query_one("#downstream", Checkbox).value})


class TriggerScreen(Dialog):
    """A manual run: the DAG's params as a form (defaults filled in, each with its
    description), an optional conf JSON and a logical date. A value a Param's
    schema refuses is shown as the error, and nothing is queued."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, dag_id: str, tasks: Sequence[str], params: dict[str, Any], tz: str,
                 parse_date: Callable[[str, str], datetime], form: Sequence[dict[str, Any]] = (),
                 check: Callable[[dict[str, Any]], str | None] | None = None,
                 date_note: Callable[[str, datetime, str], str | None] | None = None) -> None:
        super().__init__()
        self.dag_id, self.tasks, self.params, self.tz = dag_id, list(tasks), params, tz
        self.parse_date = parse_date
        self.date_note = date_note  #: what to say of a time the zone skips or repeats
        self.form = list(form)
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(f"Trigger a manual run of {self.dag_id}"), id="title")
            shown = ", ".join(self.tasks[:8]) + (" …" if len(self.tasks) > 8 else "")
            n = len(self.tasks)
            yield Static(plain(f"Queues a run of {n} task{'s' if n != 1 else ''} ({shown}); "
                               "a scheduler carries it out."),
                         classes="hint")
            if self.form:
                with VerticalScroll(id="body", classes="params"):
                    for i, row in enumerate(self.form):
                        yield Label(plain(param_label(row)))
                        yield Input(param_text(row.get("default")) if row.get("has_default", True) else "",
                                    placeholder="required" if not row.get("has_default", True) else "",
                                    id=f"param-{i}")
            yield Label("conf (JSON object, optional" + ("; it overrides the fields above)" if self.form else ")"))
            yield Input(placeholder=json.dumps(self.params)[:60] if self.params and not self.form
                        else '{"key": "value"}', id="conf")
            yield Label(f"logical date (optional; default now; zone {self.tz})")
            yield Input(placeholder="2026-01-01 or 2026-01-01T06:00", id="date")
            yield Static("", id="error")
            yield self.buttons("Trigger [Enter]", cancel="Cancel [Esc]")

    def on_mount(self) -> None:
        """The first field takes the keys, the form shown from its top: scrolled
        to the field, a short terminal would hide its label and the hint above."""
        self.set_focus(self.query_one("#param-0" if self.form else "#conf", Input), scroll_visible=False)

    def form_conf(self) -> dict[str, Any]:
        """The form's values that differ from their defaults (the rest are the defaults)."""
        conf: dict[str, Any] = {}
        for i, row in enumerate(self.form):
            text = self.query_one(f"#param-{i}", Input).value
            default = row.get("default")
            if row.get("has_default", True) and text == param_text(default):
                continue
            if not text and not row.get("has_default", True):
                continue
            conf[row["name"]] = param_value(text, row.get("schema") or {}, default)
        return conf

    def refuse(self, problem: str) -> None:
        """Say what is wrong under the fields, scrolled into view (a short
        terminal shows only some of the fields at a time)."""
        error = self.query_one("#error", Static)
        error.update(plain(problem, "red"))
        self.call_after_refresh(error.scroll_visible)

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def action_ok(self) -> None:
        conf_text = self.query_one("#conf", Input).value.strip()
        date_text = self.query_one("#date", Input).value.strip()
        try:
            extra = json.loads(conf_text) if conf_text else {}
        except ValueError as exc:
            self.refuse(f"conf is not valid JSON: {exc}")
            return
        if not isinstance(extra, dict):
            self.refuse('conf must be a JSON object, like {"limit": 10}')
            return
        conf = {**self.form_conf(), **extra}
        if self.check is not None:
            problem = self.check(conf)
            if problem:
                self.refuse(problem)
                return
        when = None
        note = None
        if date_text:
            try:
                when = self.parse_date(date_text, self.tz)
            except Exception as exc:  # noqa: BLE001 - a UsageError from the service
                self.refuse(str(exc))
                return
            note = self.date_note(date_text, when, self.tz) if self.date_note is not None else None
        self.dismiss({"conf": conf or None, "logical_date": when, "note": note})


def param_label(row: dict[str, Any]) -> str:
    """`limit (integer, 1..100): rows to read`."""
    schema = row.get("schema") or {}
    kind = schema.get("type")
    kind = "/".join(kind) if isinstance(kind, list) else kind
    bits = [str(kind)] if kind else []
    if "enum" in schema:
        bits.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    if "minimum" in schema or "maximum" in schema:
        bits.append(f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    title = schema.get("title") or row["name"]
    head = f"{title} ({', '.join(bits)})" if bits else str(title)
    if title != row["name"]:
        head += f" [{row['name']}]"
    return f"{head}: {row['description']}" if row.get("description") else head


def param_text(value: Any) -> str:
    """A value as the form shows it: a string as it is (less escape sequences),
    anything else as JSON."""
    if value is None:
        return ""
    return clean(value) if isinstance(value, str) else json.dumps(value)


def param_value(text: str, schema: dict[str, Any], default: Any) -> Any:
    """What the user typed, as the value: a string param takes the text as it is;
    others read it as JSON (falling back to the text)."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if "string" in kinds and not (set(kinds) - {"string", "null"}) or (not kinds and isinstance(default, str)):
        return None if not text and "null" in kinds else text
    try:
        return json.loads(text)
    except ValueError:
        return text


class BackfillScreen(Dialog):
    """A backfill over a date range; shows the intervals it covers."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, dag_id: str, tz: str, start: str, end: str,
                 preview: Callable[[str, str], tuple[list[Line], str | None]]) -> None:
        super().__init__()
        self.dag_id, self.tz, self.start, self.end = dag_id, tz, start, end
        self.preview = preview
        self.ok_to_go = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(f"Backfill {self.dag_id}"), id="title")
            yield Static(plain(f"Runs every data interval whose logical date lies in [start, end] (zone {self.tz}); "
                               "intervals that already have a run are left alone. It runs in the background; "
                               "its progress goes to a log file."), classes="hint")
            with Horizontal(classes="options"):
                yield Input(self.start, placeholder="start", id="start")
                yield Input(self.end, placeholder="end", id="end")
            with VerticalScroll(id="body"):
                yield Static(id="intervals")
            yield self.buttons("Start backfill [Enter]", cancel="Cancel [Esc]")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#start", Input))
        self._update()

    @on(Input.Changed)
    def _update(self) -> None:
        lines, error = self.preview(self.query_one("#start", Input).value.strip(),
                                    self.query_one("#end", Input).value.strip())
        self.ok_to_go = error is None
        body = [[(error, "red")]] if error else lines
        self.query_one("#intervals", Static).update(lines_to_text(body))

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def action_ok(self) -> None:
        if not self.ok_to_go:
            self.notify("Fix the dates first.", severity="warning")
            return
        self.dismiss({"start": self.query_one("#start", Input).value.strip(),
                      "end": self.query_one("#end", Input).value.strip()})


class HelpScreen(ModalScreen):
    """The keys of the screen below, and the state letters."""

    BINDINGS = [Binding("escape,question_mark,q,enter", "close", "Close")]
    DEFAULT_CLASSES = "dialog help"

    def __init__(self, keys: Sequence[tuple[str, str]], title: str) -> None:
        super().__init__()
        self.keys = list(keys)
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Keys: {self.title_text}", id="title")
            yield VimTable(show_header=False, cursor_type="none", id="keys")
            yield Static(lines_to_text([[("The grid's letters: ", "bold")], legend()], wrap=True), classes="hint")
            yield Static("Esc or ? closes. Ctrl+P opens the command palette with every action.", classes="hint")

    def on_mount(self) -> None:
        table = self.query_one("#keys", VimTable)
        table.add_columns("key", "does")
        for key, text in self.keys:
            table.add_row(key, text)

    def action_close(self) -> None:
        self.dismiss(None)
