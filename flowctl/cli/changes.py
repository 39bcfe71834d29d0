"""Commands that change state for the scheduler to act on: trigger, clear, mark."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from flowctl.cli.app import (
    DagArg,
    JsonOpt,
    RunArg,
    _dag_tz,
    _err,
    _service,
    app,
    tasks_app,
)


@app.command()
def trigger(
    dag_id: DagArg,
    logical_date: Annotated[str | None, typer.Option("--logical-date", "-d", help="The run's logical date (default: now).", show_default=False)] = None,
    conf: Annotated[str | None, typer.Option("--conf", "-c", help="JSON object for the run's conf.", show_default=False)] = None,
) -> None:
    """Queue a manual run for the scheduler; prints its run id."""
    from flowctl.engine.daemon import is_running

    service = _service()
    spec = service.dag(dag_id)
    conf_doc = service.parse_conf(conf)
    when = service.parse_date(logical_date, spec.timezone) if logical_date else None
    run_id = service.trigger(dag_id, conf_doc, when)
    print(run_id)
    if not is_running(service.settings.home):
        _err("no scheduler is running: start one with `flowctl scheduler --daemon` "
             "(or `flowctl scheduler --until-idle`) to carry this run out")


@app.command()
def clear(
    dag_id: DagArg,
    run: Annotated[str | None, typer.Option("--run", help="Only this run (a run id or logical date).", show_default=False)] = None,
    start: Annotated[str | None, typer.Option("--start", help="Runs with a logical date at or after this.", show_default=False)] = None,
    end: Annotated[str | None, typer.Option("--end", help="Runs with a logical date at or before this.", show_default=False)] = None,
    task: Annotated[str | None, typer.Option("--task", "-t", help="Task ids matching this regular expression.", show_default=False)] = None,
    upstream: Annotated[bool, typer.Option("--upstream", help="Also the tasks they depend on.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Also the tasks that depend on them.")] = False,
    only_failed: Annotated[bool, typer.Option("--only-failed", help="Only failed and upstream_failed instances.")] = False,
    changed: Annotated[bool, typer.Option("--changed", help="Only instances whose task code changed since they last succeeded.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the set; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Reset task instances so they run again (their try count goes on) and put
    their runs back to queued. Upstream_failed tasks below them are reset too.
    A scheduler (`flowctl scheduler`, daemon or --until-idle) runs them."""
    from flowctl.cli.render import console, print_json, state_text, table

    service = _service()
    tz = _dag_tz(service, dag_id)
    first = service.parse_date(start, tz) if start else None
    last = service.parse_date(end, tz) if end else None
    plan = service.plan_clear(dag_id, run_id=run, start=first, end=last, task_regex=task, upstream=upstream,
                              downstream=downstream, only_failed=only_failed, changed=changed)
    notes = _version_notes(service, dag_id, plan)
    if as_json and (dry_run or not plan):
        print_json({"dag_id": dag_id, "dry_run": dry_run, "cleared": 0, "task_instances": plan, "notes": notes})
        return
    out = console(stderr=as_json)
    if not plan:
        out.print("Nothing matches: no task instance would be cleared.")
        return
    t = table("run", "task", "state", "try", "why", title=f"{len(plan)} task instance(s) of {dag_id}")
    for p in plan:
        t.add_row(p["run_id"], p["task_id"], state_text(p["state"]), str(p["try_number"]), p["why"])
    out.print(t)
    for n in notes:
        out.print(f"[yellow]note:[/] {n}")
    if dry_run:
        return
    if not yes:
        if not sys.stdin.isatty():
            from flowctl.errors import UsageError

            raise UsageError("clear changes history: confirm on a terminal or pass --yes")
        if not typer.confirm(f"Clear these {len(plan)} task instance(s)?", default=False):
            _err("nothing cleared")
            raise typer.Exit(1)
    count = service.clear(plan)
    if as_json:
        print_json({"dag_id": dag_id, "dry_run": False, "cleared": count, "task_instances": plan, "notes": notes})
    else:
        out.print(f"Cleared {count} task instance(s).")
    _hint_scheduler(service)


def _version_notes(service: Any, dag_id: str, plan: list[dict[str, Any]]) -> list[str]:
    return service.version_notes(dag_id, sorted({p["run_id"] for p in plan}))


def _hint_scheduler(service: Any) -> None:
    from flowctl.engine.daemon import is_running

    if not is_running(service.settings.home):
        _err("no scheduler is running: `flowctl scheduler --until-idle` (or --daemon) runs the cleared tasks")


@tasks_app.command("mark")
def tasks_mark(
    dag_id: DagArg,
    run_id: RunArg,
    task_id: Annotated[str, typer.Argument(help="The task id.", show_default=False)],
    state: Annotated[str, typer.Option("--state", help="success, failed or skipped.", show_default=False)],
    downstream: Annotated[bool, typer.Option("--downstream", help="Also every task below it.")] = False,
) -> None:
    """Set a task instance's state by hand. Marking success lets the tasks below
    it run (their upstream_failed is healed); the run's state follows."""
    service = _service()
    marked, reset = service.mark(dag_id, run_id, task_id, state, downstream)
    if not marked and not reset:
        print(f"{task_id} is already {state}; nothing changed")
        return
    n = len(marked)
    line = f"marked {n} task instance{'' if n == 1 else 's'} {state}: {', '.join(marked)}" if marked else f"{task_id} was already {state}"
    if reset:
        line += f"; reset {len(reset)} below it to run again: {', '.join(reset)}"
    print(line)
