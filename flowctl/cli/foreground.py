"""Foreground work for the CLI: carry out one run with live progress, test one
task in-process, print or follow a log."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from flowctl.cli.render import plural, styled, write
from flowctl.records import TaskKey
from flowctl.specs import DagSpec
from flowctl.states import FINISHED, STATE_COLOURS


class Progress:
    """Shows a run's task states: a live table on a terminal, one aligned line
    per event otherwise (logs, CI), nothing with --json."""

    def __init__(self, spec: DagSpec, run_id: str, store: Any, live: bool, quiet: bool) -> None:
        self.spec = spec
        self.run_id = run_id
        self.store = store
        self.t0 = time.perf_counter()
        self.quiet = quiet
        self.live = None
        if live and not quiet:
            from rich.live import Live

            from flowctl.cli.render import console

            self.live = Live(self._render(), console=console(), auto_refresh=False, transient=False)
            self.live.start()

    def event(self, kind: str, info: dict[str, Any]) -> None:
        if self.quiet or self.live is not None:
            return
        elapsed = time.perf_counter() - self.t0
        if kind in ("task_started", "task_finished"):
            name = _label(info)
            if info.get("run_id") != self.run_id:  # a run a task of this one triggered
                name = f"{info.get('dag_id')}.{name}"
        if kind == "task_started":
            line = f"{elapsed:7.2f}s -> {name}  try {info['try_number']}"
        elif kind == "task_finished":
            line = f"{elapsed:7.2f}s    {name}  {info['state']}"
            if info.get("error"):
                line += f": {info['error']}"
        elif kind == "run_finished" and info.get("run_id") != self.run_id:
            line = f"{elapsed:7.2f}s == {info.get('dag_id')} {info.get('run_id')} {info.get('state')}"
        else:
            return
        write(line + "\n")

    def _render(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        data = self.store.read_run(self.spec.dag_id, self.run_id)
        tis = data.task_instances if data else {}
        counts: dict[str, int] = {}
        t = Table.grid(padding=(0, 2))
        t.add_column()
        t.add_column()
        t.add_column(justify="right")
        shown = 0
        order = list(self.spec.order)
        # unfinished first, so the moving part stays on screen for big DAGs
        busy = [tid for tid in order if tis.get(tid, {}).get("state") not in FINISHED]
        done = [tid for tid in order if tid not in busy]
        for tid in order:
            state = tis.get(tid, {}).get("state", "none")
            counts[state] = counts.get(state, 0) + 1
        for tid in (busy + done)[:20]:
            ti = tis.get(tid, {})
            state = ti.get("state", "none")
            t.add_row(tid, Text(state, style=STATE_COLOURS.get(state, "white")), f"try {ti.get('try_number') or 0}")
            shown += 1
        elapsed = time.perf_counter() - self.t0
        head = Text.assemble((self.spec.dag_id, "bold"), f" {self.run_id}  {elapsed:.1f} s ")
        for s, n in sorted(counts.items()):
            head.append("  ").append(f"{s} {n}", style=STATE_COLOURS.get(s, "white"))
        from rich.console import Group

        more = Text(f"... and {len(order) - shown} more", style="dim") if len(order) > shown else Text("")
        return Group(head, t, more)

    def refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render(), refresh=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.update(self._render(), refresh=True)
            self.live.stop()


def run_in_foreground(service: Any, spec: DagSpec, when: Any, conf: dict[str, Any], as_json: bool) -> bool:
    """Create a manual run owned by this process and carry it out. True if it succeeded."""
    from flowctl.cli.render import RUN_FIELDS, console, duration, print_json

    state: dict[str, Any] = {}

    def created(run_id: str) -> None:
        progress = Progress(spec, run_id, service.store, live=sys.stdout.isatty(), quiet=as_json)
        state["progress"] = progress
        if not as_json and progress.live is None:
            write(f"{spec.dag_id} {run_id}: {plural(len(spec.tasks), 'task')}, "
                  f"{plural(service.settings.workers, 'worker slot')}\n")

    def announce(kind: str, info: dict[str, Any]) -> None:
        if kind in ("stopping", "waiting", "store_stalled", "store_recovered", "store_error"):
            sys.stderr.write(f"flowctl: {info.get('message') or _store_line(kind, info)}\n")
            sys.stderr.flush()
        progress = state.get("progress")
        if progress is not None:
            progress.event(kind, info)
            progress.refresh()

    try:
        run_id, _code = service.run_foreground(spec, when, conf, announce=announce, on_created=created)
    finally:
        if state.get("progress") is not None:
            state["progress"].stop()
    progress = state["progress"]
    doc = service.run_doc(spec.dag_id, run_id)
    tis = service.task_states(spec.dag_id, run_id)
    final = doc.get("state")
    if as_json:
        from flowctl.cli.history import ti_rows

        print_json({**{k: doc.get(k) for k in RUN_FIELDS}, "tasks": ti_rows(tis)})
        return final == "success"
    out = console()
    elapsed = time.perf_counter() - progress.t0
    if final == "success":
        out.print(styled((f"Run {run_id} of {spec.dag_id} succeeded", "green"), f" in {duration(elapsed)}."))
    elif final == "failed":
        failed = [t for t in tis if t.get("state") == "failed"]
        out.print(styled((f"Run {run_id} of {spec.dag_id} failed", "red"), f" in {duration(elapsed)}: "
                         f"{', '.join(_label(t) for t in failed) or doc.get('reason') or 'upstream failures'}."))
        for ti in failed[:3]:
            if ti.get("error"):
                out.print(f"  {_label(ti)}: {ti['error']}")
            index = ti.get("map_index", -1)
            more = f" --map-index {index}" if index is not None and index >= 0 else ""
            out.print(f"  log: flowctl logs {spec.dag_id} '{run_id}' {ti['task_id']}{more}")
    else:
        out.print(styled(("Stopped.", "yellow"), f" Run {run_id} is {final}; `flowctl scheduler --until-idle` carries it on."))
    return final == "success"


def _label(info: dict[str, Any]) -> str:
    """A task instance as people name it: `task`, or `task[3]` for a mapped one."""
    index = info.get("map_index", -1)
    return f"{info['task_id']}[{index}]" if index is not None and index >= 0 else str(info["task_id"])


def _store_line(kind: str, info: dict[str, Any]) -> str:
    if kind == "store_stalled":
        return (f"cannot write the state: {info.get('error')}; results are kept and written when it can "
                f"(trying every {info.get('retry', 1):g} s) - free some space")
    if kind == "store_recovered":
        return "the state is written again"
    return f"a run cannot be read: {info.get('error')}"


def test_task(service: Any, spec: DagSpec, task_id: str, when: Any, map_index: int = -1) -> bool:
    """Run one task in this process, log to the terminal, write no state."""
    result = service.test_task(spec, task_id, when, map_index)
    if result["xcom"]:
        import json

        for key, value in result["xcom"].items():
            write(f"xcom {key} = {json.dumps(value)}\n")
    write(f"{task_id}: {result['state']}" + (f" ({result['error']})" if result.get("error") else "") + "\n")
    return result["state"] in ("success", "skipped")


def print_log(service: Any, dag_id: str, run_id: str, task_id: str, path: Path, follow: bool,
              map_index: int = -1) -> None:
    """Print the log; with follow, keep printing until the try has ended."""
    from flowctl.errors import NotFound

    if not path.exists() and not follow:
        raise NotFound(f"no log at {path} (the try may not have started yet)")
    pos = 0
    while True:
        if path.exists():
            with open(path, "rb") as f:
                f.seek(pos)
                chunk = f.read()
                pos += len(chunk)
            write(chunk.decode(errors="replace"))
        if not follow:
            return
        data = service.store.read_run(dag_id, run_id)
        found = data.tis.get(TaskKey(task_id, map_index)) if data else None
        ti = found.to_doc() if found is not None else {}
        if ti.get("state") not in ("queued", "running", "none", "scheduled", None) or (
            path.name != f"{ti.get('try_number')}.log"
        ):
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(pos)
                    write(f.read().decode(errors="replace"))
            return
        time.sleep(0.3)


class BackfillProgress:
    """A rich progress bar on a terminal; a line per finished run otherwise."""

    def __init__(self, total: int, enabled: bool, live: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.bar: Any = None
        self.running = 0
        self.failures = 0
        self.done = 0
        if enabled and live and total:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("[bold]backfill[/]"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[info]}"), TimeRemainingColumn(), auto_refresh=False)
            self.task = self.bar.add_task("runs", total=total, info="")
            self.bar.start()

    def announce(self, kind: str, info: dict[str, Any]) -> None:
        if kind in ("stopping", "waiting", "store_stalled", "store_recovered", "store_error"):
            sys.stderr.write(f"flowctl: {info.get('message') or _store_line(kind, info)}\n")
            sys.stderr.flush()
        elif kind == "task_started":
            self.running += 1
        elif kind == "task_finished":
            self.running = max(0, self.running - 1)
        elif kind == "backfill_run":
            self.done = info["done"]
            if info["state"] != "success":
                self.failures += 1
            if self.enabled and self.bar is None:
                write(f"{time.perf_counter() - self.t0:8.2f}s  {info['done']}/{self.total}  "
                            f"{info['run_id']}  {info['state']}\n")
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done,
                            info=f"{self.running} task(s) running, {self.failures} failed run(s)")
            self.bar.refresh()

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
