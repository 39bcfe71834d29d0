"""A task instance: its details (with `explain`'s reason) and a try's log,
followed live while it grows (`f` toggles following); `[` and `]` switch
tries, `<` and `>` a mapped task's instances; `/` searches the log, `n`/`N`
go to the next and previous match."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import Footer, Input, Static

from flowctl.tui.data import read_from, read_run_info, read_tail
from flowctl.tui.screens.base import COMMON_BINDINGS, FlowctlScreen
from flowctl.tui.views import RunInfo, Snapshot, log_bar, ti_detail_lines
from flowctl.tui.widgets.lines import lines_to_text, plain, to_text
from flowctl.tui.widgets.log import SearchLog
from flowctl.tui.widgets.status import StatusBar


class TaskScreen(FlowctlScreen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("question_mark", "app.help", "Keys", key_display="?"),
        # priority: handled as it arrives, so the keys typed right after it land in the box
        Binding("slash", "search", "Search", key_display="/", priority=True),
        Binding("n", "next_match(1)", "Next match", show=False),
        Binding("N", "next_match(-1)", "Previous match", show=False),
        Binding("f", "toggle_follow", "Follow"),
        Binding("left_square_bracket", "try_step(-1)", "Earlier try", key_display="["),
        Binding("right_square_bracket", "try_step(1)", "Later try", key_display="]"),
        Binding("less_than_sign", "instance_step(-1)", "Earlier instance", key_display="<", show=False),
        Binding("greater_than_sign", "instance_step(1)", "Later instance", key_display=">", show=False),
        Binding("c", "clear", "Clear"),
        Binding("s", "mark_success", "Success"),
        Binding("x", "mark_failed", "Failed"),
        *COMMON_BINDINGS,
    ]
    PALETTE = (
        ("search", "Search the log", "Matches are highlighted; n and N move between them"),
        ("toggle_follow", "Follow the log, or stop following", "Keep the end of the latest try in view"),
        ("clear", "Clear this task instance", "With upstream, downstream or only-failed options"),
        ("mark_success", "Mark this task instance success", ""),
        ("mark_failed", "Mark this task instance failed", ""),
        ("try_step(-1)", "Show the earlier try's log", ""),
        ("try_step(1)", "Show the later try's log", ""),
        ("instance_step(-1)", "Show the mapped task's earlier instance", ""),
        ("instance_step(1)", "Show the mapped task's later instance", ""),
    )

    def __init__(self, dag_id: str, run_id: str, task_id: str, try_number: int | None = None) -> None:
        super().__init__()
        self.dag_id, self.run_id, self.task_id = dag_id, run_id, task_id
        self.try_number = try_number  #: None: the latest try, followed
        self.map_index = -1  #: which instance of a mapped task is shown (0 on, once the task is known mapped)
        self.follow = try_number is None
        self.info: RunInfo | None = None
        self.explained: dict[str, Any] | None = None
        self._seq = -1
        self._log_try: int | None = None
        self._offset = 0
        self._log_busy = False
        self._reloading = False

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="details")
        yield Static(id="trybar")
        yield SearchLog(id="log", max_lines=20_000)
        yield Input(placeholder="search the log: Enter finds, Esc cancels", id="search")
        yield Footer()

    def on_mount(self) -> None:
        self.flowctl.watch_dag(self.dag_id)
        self.query_one("#search", Input).display = False
        log = self.query_one(SearchLog)
        log.follow = self.follow
        self.set_focus(log)
        self.set_interval(0.5, self._follow_tick)
        self.set_interval(1.0, self._tick)
        snap = self.flowctl.snapshot
        if snap is not None:
            self.show_snapshot(snap)

    def on_unmount(self) -> None:
        self.flowctl.unwatch_dag(self.dag_id)

    def on_resize(self, event: Resize) -> None:  # FlowctlScreen's runs too
        self._show_trybar()

    def where(self) -> str:
        return f"{self.dag_id}.{self.task_id}" + (f"[{self.map_index}]" if self.map_index >= 0 else "")

    def _ti(self, info: RunInfo | None = None) -> Any:
        """The instance shown: a mapped task's chosen one (its first, until one is chosen)."""
        info = info or self.info
        if info is None:
            return None
        if self.map_index < 0 and info.instances.get(self.task_id):
            self.map_index = 0
        return info.ti(self.task_id, self.map_index)

    def current_dag(self) -> str | None:
        return self.dag_id

    def current_run(self) -> str | None:
        return self.run_id

    def current_task(self) -> str | None:
        return self.task_id

    def current_map_index(self) -> int:
        return self.map_index  # the instance shown (a mapped task's); -1 for a task that is not

    # -- details ---------------------------------------------------------------------------

    def show_snapshot(self, snap: Snapshot) -> None:
        if self.info is None and (known := snap.run(self.dag_id, self.run_id)) is not None:
            # the snapshot already has the run: open the log now, beside the fresh read and explain
            self.info = known
            want = self.try_number or self.latest_try()
            if want:
                self._open_log(want)
        if snap.seq != self._seq and not self._reloading:
            self._seq = snap.seq
            self._reloading = True
            self._reload()
        else:
            self._show_details()

    def _tick(self) -> None:
        """Once a second: a running try's "took X so far" moves on."""
        ti = self._ti()
        if ti is not None and ti.get("state") == "running":
            self._show_details()

    @work(thread=True, exit_on_error=False, group="task-reload")
    def _reload(self) -> None:
        service = self.flowctl.service
        info = explained = None
        snap = self.flowctl.snapshot
        try:
            info = read_run_info(service.store, self.dag_id, self.run_id, snap.scheduler if snap else {})
            explained = service.explain(self.dag_id, self.run_id, self.task_id, now=self.flowctl.now())
        except Exception as exc:  # noqa: BLE001 - shown instead of the reason
            explained = {"notes": [], "tasks": [], "error": str(exc)}
        self.app.call_from_thread(self._reloaded, info, explained)

    def _reloaded(self, info: RunInfo | None, explained: dict[str, Any] | None) -> None:
        self._reloading = False
        if info is not None:
            self.info = info
        self.explained = explained
        self._show_details()
        latest = self.latest_try()
        want = self.try_number or latest
        if want and want != self._log_try:
            self._open_log(want)
        elif not want and self._log_try is None:
            log = self.query_one(SearchLog)
            log.clear()
            state = (self._ti(info) or {}).get("state") if info else "?"
            log.write_line(f"(no log yet: this task instance has not run; state {state})")
        snap = self.flowctl.snapshot
        if snap is not None and snap.seq != self._seq:  # changed while we read
            self.show_snapshot(snap)

    def latest_try(self) -> int:
        ti = self._ti()
        return int((ti or {}).get("try_number") or 0)

    def _show_details(self) -> None:
        snap = self.flowctl.snapshot
        if self.info is None or snap is None:
            self.query_one("#details", Static).update(plain(f"{self.dag_id}.{self.task_id} in {self.run_id}: reading…"))
            return
        ex = self.explained or {}
        reason = next((t["reason"] for t in ex.get("tasks", []) if t["task_id"] == self.task_id
                       and t.get("map_index", -1) == self.map_index), None)
        reason = reason or ex.get("error")
        self._ti()
        lines = ti_detail_lines(self.info, self.task_id, snap.dags.get(self.dag_id), reason,
                                ex.get("notes", []), snap.tz, self.flowctl.now(), self.map_index)
        self.query_one("#details", Static).update(lines_to_text(lines, wrap=True))
        self._show_trybar()

    def _show_trybar(self) -> None:
        log = self.query_one(SearchLog)
        search = (log.query_text, len(log.matches), log.current) if log.pattern is not None else None
        bar = self.query_one("#trybar", Static)
        width = bar.content_region.width or self.app.size.width - 2
        bar.update(to_text(log_bar(self._log_try, self.latest_try(), self.follow, self._skipped // 1024, search,
                                   width)))

    # -- the log ------------------------------------------------------------------------------

    _skipped = 0

    def _open_log(self, try_number: int) -> None:
        self._log_try = try_number
        self._offset = 0
        self._log_busy = True
        self._read_tail(try_number)

    @work(thread=True, exit_on_error=False, group="log")
    def _read_tail(self, try_number: int) -> None:
        path = self.flowctl.service.store.log_path(self.dag_id, self.run_id, self.task_id, try_number, self.map_index)
        text, offset, skipped = read_tail(path)
        self.app.call_from_thread(self._tail_read, try_number, text, offset, skipped, path)

    def _tail_read(self, try_number: int, text: str, offset: int, skipped: int, path: Any) -> None:
        self._log_busy = False
        if try_number != self._log_try:
            return
        self._offset = offset
        self._skipped = skipped
        log = self.query_one(SearchLog)
        log.clear()
        if skipped:
            log.write_line(f"… {skipped // 1024} KB earlier in {path} not shown …")
        if text:
            log.append(text)
        elif not path.exists():
            log.write_line(f"(no log file yet: {path})")
        if log.pattern is not None:
            log.search(log.query_text)
        log.scroll_end(animate=False, immediate=True, x_axis=False)  # where a failed try says why
        self._show_trybar()

    def _follow_tick(self) -> None:
        if self._log_busy or self._log_try is None:
            return
        if self._log_try != self.latest_try():
            return  # an older try's log does not grow
        self._log_busy = True
        self._read_more(self._log_try, self._offset)

    @work(thread=True, exit_on_error=False, group="log")
    def _read_more(self, try_number: int, offset: int) -> None:
        path = self.flowctl.service.store.log_path(self.dag_id, self.run_id, self.task_id, try_number, self.map_index)
        text, new_offset = read_from(path, offset)
        self.app.call_from_thread(self._more_read, try_number, text, offset, new_offset)

    def _more_read(self, try_number: int, text: str, offset: int, new_offset: int) -> None:
        self._log_busy = False
        if try_number != self._log_try or offset != self._offset:
            return
        self._offset = new_offset
        if text:
            log = self.query_one(SearchLog)
            if new_offset < offset or offset == 0:
                log.clear()
            log.append(text)
            if log.pattern is not None:
                self._show_trybar()

    # -- actions -------------------------------------------------------------------------------

    def action_back(self) -> None:
        """Esc: closes the search box, then clears the search, then goes back."""
        box = self.query_one("#search", Input)
        log = self.query_one(SearchLog)
        if box.display:
            box.display = False
            if not box.value:
                log.search("")
            self.set_focus(log)
        elif log.pattern is not None:
            log.search("")
        else:
            self.app.pop_screen()
            return
        self._show_trybar()

    def action_try_step(self, step: int) -> None:
        latest = self.latest_try()
        if not latest:
            self.notify("This task instance has not run yet.")
            return
        current = self._log_try or latest
        n = min(max(current + step, 1), latest)
        if n != latest:
            self._set_follow(False)
        self.try_number = None if self.follow else n
        if n != self._log_try:
            self._open_log(n)
        self._show_trybar()

    def action_instance_step(self, step: int) -> None:
        count = len(self.info.instances.get(self.task_id, ())) if self.info else 0
        if not count:
            self.notify("This task is not mapped (or not expanded yet): it has one instance.")
            return
        n = min(max(self.map_index + step, 0), count - 1)
        if n == self.map_index:
            return
        self.map_index = n
        self.try_number = None
        self._log_try = None
        self._set_follow(True)
        latest = self.latest_try()
        if latest:
            self._open_log(latest)
        else:
            log = self.query_one(SearchLog)
            log.clear()
            log.write_line(f"(no log yet: instance {n} has not run; state {(self._ti() or {}).get('state')})")
        self._show_details()

    def action_toggle_follow(self) -> None:
        self._set_follow(not self.follow)
        if self.follow:
            latest = self.latest_try()
            if latest and latest != self._log_try:
                self._open_log(latest)
        self._show_trybar()

    def _set_follow(self, follow: bool) -> None:
        """Following: the latest try, its end kept in view. Not following: this try, where it is."""
        self.follow = follow
        self.try_number = None if follow else (self._log_try or None)
        self.query_one(SearchLog).set_follow(follow)

    @on(SearchLog.FollowChanged)
    def _follow_changed(self, event: SearchLog.FollowChanged) -> None:
        if event.follow != self.follow:
            self._set_follow(event.follow)
        self._show_trybar()

    # -- search --------------------------------------------------------------------------------

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_focus:  # a `/` typed into the search itself
            box.insert_text_at_cursor("/")
            return
        box.value = self.query_one(SearchLog).query_text
        box.display = True
        self.set_focus(box)

    @on(Input.Changed, "#search")
    def _search_typed(self, event: Input.Changed) -> None:
        self.query_one(SearchLog).search(event.value)  # highlight as you type
        self._show_trybar()

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        box = self.query_one("#search", Input)
        box.display = False
        log = self.query_one(SearchLog)
        self.set_focus(log)
        if log.search(event.value):
            log.next_match(1)
        self._show_trybar()

    def action_next_match(self, step: int) -> None:
        log = self.query_one(SearchLog)
        if log.pattern is None:
            self.notify("Search first: / and a word.", severity="warning")
            return
        if log.next_match(step) is None:
            self.notify(f"No match for {log.query_text!r} in this try's log.", severity="warning")
        self._show_trybar()
