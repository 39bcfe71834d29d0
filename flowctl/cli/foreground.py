"""Foreground work for the CLI: carry out one run with live progress, test one
task in-process, print or follow a log."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from flowctl.cli.render import plural, write
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
        if kind == "task_started":
            line = f"{elapsed:7.2f}s -> {info['task_id']}  try {info['try_number']}"
        elif kind == "task_finished":
            line = f"{elapsed:7.2f}s    {info['task_id']}  {info['state']}"
            if info.get("error"):
                line += f": {info['error']}"
        else:
            return
        write(line + "\n")  # never raises: a closed pipe must not stop the run

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
        summary = "  ".join(f"[{STATE_COLOURS.get(s, 'white')}]{s} {n}[/]" for s, n in sorted(counts.items()))
        head = Text.from_markup(f"[bold]{self.spec.dag_id}[/] {self.run_id}  {elapsed:.1f} s   {summary}")
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
    from flowctl.clock import utcnow
    from flowctl.engine.loop import Loop
    from flowctl.executors import make_executor
    from flowctl.store import owner_identity

    executor = make_executor(service.settings)  # refuse before anything is written
    now = utcnow()
    logical, start, end = service.manual_interval(spec, when, now)
    owner = owner_identity()
    run_id = service.create_run(spec, run_type="manual", logical_date=logical, interval=(start, end),
                                conf=conf, owner=owner, now=now)
    store = service.store
    progress = Progress(spec, run_id, store, live=sys.stdout.isatty(), quiet=as_json)
    if not as_json and progress.live is None:
        write(f"{spec.dag_id} {run_id}: {plural(len(spec.tasks), 'task')}, "
              f"{plural(service.settings.workers, 'worker slot')}\n")
    from flowctl.notify import send_detached, wait_for_notices

    settings = service.settings
    loop = Loop(store=store, executor=executor, specs=lambda: {spec.dag_id: spec},
                workers=settings.workers, keys={(spec.dag_id, run_id)}, owner=owner,
                on_event=progress.event, notifier=lambda event: send_detached(settings.notify, event))
    try:
        loop.run_until_done(on_tick=progress.refresh)
    finally:
        executor.shutdown(grace=0)
        progress.stop()
        wait_for_notices()
    run = store.read_run(spec.dag_id, run_id)
    doc = run.run if run else {}
    tis = service.task_states(spec.dag_id, run_id)
    state = doc.get("state")
    if as_json:
        from flowctl.cli.history import ti_rows

        print_json({**{k: doc.get(k) for k in RUN_FIELDS}, "tasks": ti_rows(tis)})
        return state == "success"
    out = console()
    elapsed = time.perf_counter() - progress.t0
    if state == "success":
        out.print(f"[green]Run {run_id} of {spec.dag_id} succeeded[/] in {duration(elapsed)}.")
    elif state == "failed":
        failed = [t["task_id"] for t in tis if t.get("state") == "failed"]
        out.print(f"[red]Run {run_id} of {spec.dag_id} failed[/] in {duration(elapsed)}: "
                  f"{', '.join(failed) or 'upstream failures'}.")
        for tid in failed[:3]:
            ti = next(t for t in tis if t["task_id"] == tid)
            if ti.get("error"):
                out.print(f"  {tid}: {ti['error']}")
            out.print(f"  log: flowctl logs {spec.dag_id} '{run_id}' {tid}")
    else:
        out.print(f"[yellow]Stopped.[/] Run {run_id} is {state}; `flowctl scheduler --until-idle` carries it on.")
    return state == "success"


def test_task(service: Any, spec: DagSpec, task_id: str, when: Any) -> bool:
    """Run one task in this process, log to the terminal, write no state."""
    from flowctl.clock import iso, utcnow
    from flowctl.loader import import_dag_file
    from flowctl.runtime.runner import execute_task

    now = utcnow()
    logical, start, end = service.manual_interval(spec, when, now)
    dags = {d.dag_id: d for d in import_dag_file(spec.fileloc)}
    run_id = f"test__{iso(logical)}"
    home = None
    existing = [r for r in service.store.run_ids(spec.dag_id) if r.split("__", 1)[-1] == iso(logical)]
    if existing:  # upstream values come from that run's XCom, read-only
        run_id, home = existing[0], str(service.store.home)
        write(f"XCom of upstream tasks is read from run {run_id}\n")
    payload = {
        "dag_id": spec.dag_id, "run_id": run_id, "task_id": task_id, "try_number": 1,
        "timezone": spec.timezone, "fileloc": spec.fileloc,
        "run": {"run_id": run_id, "run_type": "test", "logical_date": iso(logical),
                "data_interval_start": iso(start), "data_interval_end": iso(end), "conf": {}},
    }
    result = execute_task(dags[spec.dag_id], payload, home)
    if result["xcom"]:
        import json

        for key, value in result["xcom"].items():
            write(f"xcom {key} = {json.dumps(value)}\n")
    write(f"{task_id}: {result['state']}" + (f" ({result['error']})" if result.get("error") else "") + "\n")
    return result["state"] in ("success", "skipped")


def print_log(service: Any, dag_id: str, run_id: str, task_id: str, path: Path, follow: bool) -> None:
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
        ti = data.task_instances.get(task_id, {}) if data else {}
        if ti.get("state") not in ("queued", "running", "none", "scheduled", None) or (
            path.name != f"{ti.get('try_number')}.log"
        ):
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(pos)
                    write(f.read().decode(errors="replace"))
            return
        time.sleep(0.3)
