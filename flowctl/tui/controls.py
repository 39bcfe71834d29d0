"""The controls: trigger, pause, clear, mark, backfill, start a scheduler.

Each asks first in a modal that shows what it changes, then calls the same
service function as the CLI in a worker thread (a commit may wait for the
store's lock), reports the outcome as a notification, and refreshes. A
change that leaves a run queued or running with no live process to carry it
out (no scheduler, and not its own foreground `run` or `backfill`: see
`data.carrier_of`) says so and offers to start a scheduler.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowctl.tui.data import any_waiting
from flowctl.tui.screens.modals import (
    BackfillScreen,
    ClearScreen,
    ConfirmScreen,
    MarkScreen,
    TriggerScreen,
)
from flowctl.tui.views import Line, fmt_time, logical_stamp

if TYPE_CHECKING:
    from flowctl.tui.app import FlowctlApp


class Controls:
    """Mixed into `FlowctlApp`."""

    _offer_declined = False

    # -- helpers --------------------------------------------------------------------

    def _spec(self: FlowctlApp, dag_id: str) -> Any:
        snap = self.snapshot
        spec = snap.dags.get(dag_id) if snap is not None else None
        if spec is None:
            self.notify(f"{dag_id} is not in the DAG folder (see the import errors).", severity="error")
        return spec

    def _run_action(self: FlowctlApp, fn: Callable[[], Any], done: Callable[[Any], str], *,
                    needs_scheduler: str | None = None,
                    runs: Callable[[Any], Iterable[tuple[str, str]]] = lambda _: ()) -> None:
        """Call the service off the UI thread; notify; offer a scheduler (saying
        `needs_scheduler`) when one of the `runs` it changed now waits for one."""

        def work() -> None:
            try:
                value = fn()
            except Exception as exc:  # noqa: BLE001 - the user sees it; nothing changed
                self.call_from_thread(self.notify, str(exc), title="Failed", severity="error", timeout=10)
                return
            waits = bool(needs_scheduler) and any_waiting(self.service, runs(value))
            self.call_from_thread(self._action_done, done(value), needs_scheduler if waits else None)

        self.run_worker(work, thread=True, group="actions", exit_on_error=False)

    def _action_done(self: FlowctlApp, message: str, no_scheduler: str | None) -> None:
        self.notify(message, title="Done")
        self.request_refresh()
        if no_scheduler:
            self.offer_scheduler(no_scheduler)

    # -- trigger, pause ------------------------------------------------------------------

    def start_trigger(self: FlowctlApp, dag_id: str) -> None:
        spec = self._spec(dag_id)
        if spec is None:
            return
        from flowctl.service import Service

        def chosen(result: dict[str, Any] | None) -> None:
            if not result:
                return
            note = f" Note: {result['note']}." if result.get("note") else ""
            self._run_action(
                lambda: self.service.trigger(dag_id, result["conf"], result["logical_date"]),
                lambda run_id: f"Triggered {dag_id}: run {run_id} is queued.{note}",
                needs_scheduler="the new run waits until a scheduler carries it out",
                runs=lambda run_id: [(dag_id, run_id)],
            )

        self.push_screen(TriggerScreen(dag_id, spec.order, dict(spec.params), spec.timezone, Service.parse_date,
                                       form=Service.params_form(spec),
                                       check=lambda conf: self.service.conf_problem(spec, conf),
                                       date_note=Service.date_note), chosen)

    def start_pause(self: FlowctlApp, dag_id: str) -> None:
        if self._spec(dag_id) is None or self.snapshot is None:
            return
        paused = self.snapshot.paused(dag_id)
        if paused:
            title = f"Unpause {dag_id}?"
            body: list[Line] = [[("The scheduler creates its due runs again", "")]]
        else:
            title = f"Pause {dag_id}?"
            body = [[("No new scheduled runs until it is unpaused. Runs already going on carry on; "
                      "manual runs and backfills still work.", "")]]

        def chosen(ok: bool | None) -> None:
            if ok:
                self._run_action(lambda: self.service.set_paused(dag_id, not paused),
                                 lambda _: f"{'Unpaused' if paused else 'Paused'} {dag_id}.")

        self.push_screen(ConfirmScreen(title, body), chosen)

    # -- clear, mark --------------------------------------------------------------------------

    def start_clear(self: FlowctlApp, dag_id: str, run_id: str, task_id: str | None, map_index: int = -1) -> None:
        """Clear a task (its instance `map_index` alone, if given) or a whole run."""
        tz = self.service.settings.default_timezone

        def chosen(plan: list[dict[str, Any]] | None) -> None:
            if not plan:
                return
            self._run_action(
                lambda: self.service.clear(plan),
                lambda n: f"Cleared {n} task instance{'s' if n != 1 else ''} of {dag_id}; they run again.",
                needs_scheduler="the cleared task instances wait until a scheduler runs them",
                runs=lambda _: sorted({(dag_id, str(item["run_id"])) for item in plan}),
            )

        self.push_screen(ClearScreen(dag_id, run_id, task_id, tz, self.service.plan_clear, map_index), chosen)

    def start_mark(self: FlowctlApp, dag_id: str, run_id: str, task_id: str, state: str, map_index: int = -1) -> None:
        """Mark a task (its instance `map_index` alone, if given) success or failed."""
        snap = self.snapshot
        info = snap.run(dag_id, run_id) if snap is not None else None
        if info is None:
            self.notify(f"Run {run_id} is not loaded yet; try again.", severity="warning")
            return
        spec = snap.dags.get(dag_id) if snap is not None else None
        upstream = {t: tuple(s.upstream) for t, s in spec.tasks.items()} if spec is not None else info.upstream()

        def chosen(result: dict[str, Any] | None) -> None:
            if result is None:
                return

            def done(result: Any) -> str:
                marked, reset = list(result.marked), list(result.reset)
                name = f"{task_id}[{map_index}]" if map_index >= 0 else task_id
                if not marked and not reset:
                    return f"{name} was already {state}; nothing changed."
                text = f"Marked {state}: {', '.join(marked)}." if marked else f"{name} was already {state}."
                return text + (f" Reset to run again: {', '.join(reset)}." if reset else "")

            self._run_action(
                lambda: self.service.mark(dag_id, run_id, task_id, state, downstream=result["downstream"],
                                          map_index=map_index),
                done,
                needs_scheduler="the tasks after it wait until a scheduler runs them" if state == "success" else None,
                runs=lambda _: [(dag_id, run_id)],
            )

        self.push_screen(MarkScreen(info, upstream, task_id, state, map_index), chosen)

    # -- backfill ----------------------------------------------------------------------------------

    def start_backfill(self: FlowctlApp, dag_id: str) -> None:
        spec = self._spec(dag_id)
        if spec is None:
            return
        if spec.schedule is None and spec.schedule_seconds is None:
            self.notify(f"{dag_id} has no schedule, so it has no intervals to backfill.", severity="warning")
            return
        from flowctl.service import Service

        tz = spec.timezone
        today = self.now()
        start = fmt_time(today - timedelta(days=3), tz, "%Y-%m-%d")
        end = fmt_time(today - timedelta(days=1), tz, "%Y-%m-%d")
        existing = {logical_stamp(r) for r in self.service.store.run_ids(dag_id)}

        def preview(first: str, last: str) -> tuple[list[Line], str | None]:
            from flowctl.clock import iso

            try:
                lo, hi = Service.parse_date(first, tz), Service.parse_date(last, tz)
            except Exception as exc:  # noqa: BLE001 - a UsageError naming the bad date
                return [], str(exc)
            if hi < lo:
                return [], "the end is before the start"
            notes = [n for n in (Service.date_note(first, lo, tz), Service.date_note(last, hi, tz)) if n]
            try:
                intervals = spec.timetable().intervals_between(lo, hi)
            except Exception as exc:  # noqa: BLE001
                return [], f"cannot work out the intervals: {exc}"
            if not intervals:
                return [], "no data interval starts in that range"
            lines: list[Line] = [[(f"note: {n}", "yellow")] for n in notes]
            lines.append([(f"{len(intervals)} data interval{'s' if len(intervals) != 1 else ''}:", "bold")])
            for iv in intervals[:100]:
                has = iso(iv.start) in existing
                lines.append([(fmt_time(iv.start, tz, "%Y-%m-%d %H:%M"), ""), (" → ", "dim"),
                              (fmt_time(iv.end, tz, "%Y-%m-%d %H:%M"), ""),
                              ("  has a run: left alone" if has else "  new run", "dim" if has else "green")])
            if len(intervals) > 100:
                lines.append([(f"... and {len(intervals) - 100} more", "dim")])
            return lines, None

        def chosen(result: dict[str, str] | None) -> None:
            if result:
                self.run_worker(lambda: self._spawn_backfill(dag_id, result["start"], result["end"]),
                                thread=True, group="actions", exit_on_error=False)

        self.push_screen(BackfillScreen(dag_id, tz, start, end, preview), chosen)

    def _spawn_backfill(self: FlowctlApp, dag_id: str, start: str, end: str) -> None:
        settings = self.service.settings
        stamp = self.now().strftime("%Y%m%dT%H%M%S")
        log = Path(settings.home) / "logs" / "backfill" / f"{dag_id}__{stamp}.log"
        cmd = [sys.executable, "-m", "flowctl", "--home", str(settings.home), "--dags-folder",
               str(settings.dags_folder), "backfill", dag_id, "--start", start, "--end", end]
        try:
            from flowctl.store import private_dir

            private_dir(log.parent)
            with open(log, "ab") as out:
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        except OSError as exc:
            self.call_from_thread(self.notify, f"Could not start the backfill: {exc}", severity="error")
            return
        self.backfills.append((dag_id, proc, log))
        self.call_from_thread(self.notify, f"backfill started (pid {proc.pid}), log: {log}",
                              title=f"Backfill {dag_id} {start} .. {end}", timeout=10)

    def reap_backfills(self: FlowctlApp) -> None:
        for item in list(self.backfills):
            dag_id, proc, log = item
            code = proc.poll()
            if code is None:
                continue
            self.backfills.remove(item)
            how = "succeeded" if code == 0 else f"ended with exit code {code}"
            self.notify(f"Backfill of {dag_id} {how}; log: {log}", severity="information" if code == 0 else "warning",
                        timeout=10)

    # -- the scheduler ------------------------------------------------------------------------------

    def offer_scheduler(self: FlowctlApp, why: str) -> None:
        if self._offer_declined:
            self.notify(f"No scheduler is running: {why}. Press S to start one.", severity="warning", timeout=8)
            return
        body: list[Line] = [
            [("No scheduler is running: ", "bold yellow"), (why + ".", "")],
            [("Start one now? It runs `flowctl scheduler --daemon` in the background "
              "(`flowctl scheduler stop` stops it).", "")],
        ]

        def chosen(ok: bool | None) -> None:
            if ok:
                self.start_scheduler()
            else:
                self._offer_declined = True
                self.notify("No scheduler started; S starts one later.", severity="warning")

        self.push_screen(ConfirmScreen("Start a scheduler?", body, ok="Start scheduler [y]"), chosen)

    def action_start_scheduler(self: FlowctlApp) -> None:
        snap = self.snapshot
        if snap is not None and snap.scheduler.get("running"):
            self.notify(f"A scheduler is already running (pid {snap.scheduler.get('pid')}).")
            return
        self._offer_declined = False
        self.offer_scheduler("changes wait until one runs")

    def start_scheduler(self: FlowctlApp) -> None:
        settings = self.service.settings
        cmd = [sys.executable, "-m", "flowctl", "--home", str(settings.home), "--dags-folder",
               str(settings.dags_folder), "scheduler", "--daemon"]

        def work() -> None:
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as exc:
                self.call_from_thread(self.notify, f"Could not start a scheduler: {exc}", severity="error")
                return
            said = (proc.stdout.strip() or proc.stderr.strip() or "").splitlines()
            if proc.returncode == 0:
                self.call_from_thread(self.notify, said[-1] if said else "Scheduler started.", title="Scheduler")
            else:
                self.call_from_thread(self.notify, said[-1] if said else f"exit code {proc.returncode}",
                                      title="The scheduler did not start", severity="error", timeout=10)
            self.call_from_thread(self.request_refresh, True)

        self.run_worker(work, thread=True, group="actions", exit_on_error=False)
