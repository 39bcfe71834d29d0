"""Commands that change state for the scheduler to act on: trigger, clear, mark."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from flowctl.cli.app import (
    DagArg,
    JsonOpt,
    RunArg,
    TaskArg,
    _dag_tz,
    _err,
    _service,
    alias,
    app,
    complete,
    dags_app,
    read_date,
    tasks_app,
)


@app.command()
def trigger(
    dag_id: DagArg,
    logical_date: Annotated[str | None, typer.Option("--logical-date", "-d", "-l", "--exec-date", "-e", metavar="DATE", help="The run's logical date, in the DAG's zone unless it has an offset (default: now).", show_default=False)] = None,
    conf: Annotated[str | None, typer.Option("--conf", "-c", metavar="JSON", help="JSON object for the run's conf.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue a manual run for the scheduler; prints its run id (with --json,
    the run as `runs list --json` shows it).

    Example: `flowctl trigger user_events_etl --conf '{"events_per_day": 10}'`
    """
    from flowctl.cli.render import RUN_FIELDS, print_json, write
    from flowctl.engine.daemon import is_running

    service = _service(dags=True)
    spec = service.dag(dag_id)
    conf_doc = service.parse_conf(conf)
    when = read_date(service, logical_date, spec.timezone)
    run_id = service.trigger(dag_id, conf_doc, when)
    if as_json:
        doc = service.run_doc(dag_id, run_id)
        print_json({k: doc.get(k) for k in RUN_FIELDS})
    else:
        write(f"{run_id}\n")
    if not is_running(service.settings.home):
        _err("no scheduler is running: start one with `flowctl scheduler --daemon` "
             "(or `flowctl scheduler --until-idle`) to carry this run out")


@app.command()
def clear(
    dag_id: DagArg,
    run: Annotated[str | None, typer.Option("--run", "-r", metavar="RUN", help="Only this run (a run id or logical date).", show_default=False, autocompletion=complete.run_ids)] = None,
    start: Annotated[str | None, typer.Option("--start", "-s", "--start-date", metavar="DATE", help="Runs with a logical date at or after this.", show_default=False)] = None,
    end: Annotated[str | None, typer.Option("--end", "-e", "--end-date", metavar="DATE", help="Runs with a logical date at or before this.", show_default=False)] = None,
    task: Annotated[str | None, typer.Option("--task", "-t", "--task-regex", metavar="REGEX", help="Task ids matching this regular expression.", show_default=False, autocompletion=complete.task_ids)] = None,
    upstream: Annotated[bool, typer.Option("--upstream", "-u", help="Also the tasks they depend on.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", "-d", help="Also the tasks that depend on them.")] = False,
    only_failed: Annotated[bool, typer.Option("--only-failed", "-f", help="Only failed and upstream_failed instances.")] = False,
    changed: Annotated[bool, typer.Option("--changed", help="Only instances whose task code changed since they last succeeded.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the set; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    map_index: Annotated[int, typer.Option("--map-index", metavar="N", min=-1, help="Of a mapped task, only instance N (default: all of it, expanded anew).", show_default=False)] = -1,
    as_json: JsonOpt = False,
) -> None:
    """Reset task instances so they run again (their try count goes on, with their
    retries again) and put
    their runs back to queued. Upstream_failed tasks below them are reset too.
    A mapped task cleared whole expands anew from its upstream values when it runs.
    A scheduler (`flowctl scheduler`, daemon or --until-idle) runs them.
    Airflow's short flags work: -s -e -t -u -d -f -y.

    Example: `flowctl clear user_events_etl -t '^extract$' -s 2026-11-01 -e 2026-11-07 -d -y`
    """
    from rich.text import Text

    from flowctl.cli.render import console, plural, print_json, state_text, styled, table, write
    from flowctl.errors import UsageError

    service = _service()
    tz = _dag_tz(service, dag_id)
    first = read_date(service, start, tz)
    last = read_date(service, end, tz)
    if first is not None and last is not None and first > last:
        raise UsageError(f"--start {start} is after --end {end}")
    plan = service.plan_clear(dag_id, run_id=run, start=first, end=last, task_regex=task, upstream=upstream,
                              downstream=downstream, only_failed=only_failed, changed=changed, map_index=map_index)
    left_out = list(service.warnings)  # damaged runs: the rest is cleared, and the command exits 1
    for warning in left_out:
        _err(f"warning: {warning}")
    notes = _version_notes(service, dag_id, plan)
    if as_json and (dry_run or not plan):
        print_json({"dag_id": dag_id, "dry_run": dry_run, "cleared": 0, "task_instances": plan, "notes": notes})
        raise typer.Exit(1 if left_out else 0)
    out = console(stderr=as_json)
    if not plan:
        if not left_out:
            out.print("Nothing matches: no task instance would be cleared.")
        raise typer.Exit(1 if left_out else 0)
    elsewhere = [p for p in plan if p["dag_id"] != dag_id]  # brought in by ExternalTaskMarkers
    title = f"{plural(len(plan), 'task instance')} of {dag_id}" + (
        f" ({len(elsewhere)} of other DAGs, through ExternalTaskMarkers)" if elsewhere else "")
    t = table(*(["DAG"] if elsewhere else []), "run", "task", "state", "try", "why", title=title)
    for p in plan:
        index = p.get("map_index", -1)
        name = f"{p['task_id']}[{index}]" if index >= 0 else p["task_id"] + (" (all instances)" if p.get("mapped") else "")
        t.add_row(*([p["dag_id"]] if elsewhere else []), p["run_id"], Text(name), state_text(p["state"]),
                  str(p["try_number"]), p["why"])
    out.print(t)
    for n in notes:
        out.print(styled(("note:", "yellow"), f" {n}"))
    if dry_run:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("clear changes history: confirm on a terminal or pass --yes")
        if not typer.confirm(f"Clear {'this' if len(plan) == 1 else 'these'} {plural(len(plan), 'task instance')}?",
                             default=False):
            _err("nothing cleared")
            raise typer.Exit(1)
    count = service.clear(plan)
    if as_json:
        print_json({"dag_id": dag_id, "dry_run": False, "cleared": count, "task_instances": plan, "notes": notes})
    else:
        write(f"Cleared {plural(count, 'task instance')}.\n")
    _hint_scheduler(service)
    if left_out:
        raise typer.Exit(1)


def _version_notes(service: Any, dag_id: str, plan: list[dict[str, Any]]) -> list[str]:
    return service.version_notes(dag_id, sorted({p["run_id"] for p in plan if p["dag_id"] == dag_id}))


def _hint_scheduler(service: Any) -> None:
    from flowctl.engine.daemon import is_running

    if not is_running(service.settings.home):
        _err("no scheduler is running: `flowctl scheduler --until-idle` (or --daemon) runs the cleared tasks")


MARK_STATES = ("success", "failed", "skipped")


@tasks_app.command("mark")
def tasks_mark(
    dag_id: DagArg,
    run_id: RunArg,
    task_id: TaskArg,
    state: Annotated[str, typer.Option("--state", metavar="success|failed|skipped", help="The state to set.", show_default=False)],
    downstream: Annotated[bool, typer.Option("--downstream", help="Also every task below it.")] = False,
    map_index: Annotated[int, typer.Option("--map-index", metavar="N", min=-1, help="Of a mapped task, only instance N (default: every instance).", show_default=False)] = -1,
    as_json: JsonOpt = False,
) -> None:
    """Set a task instance's state by hand. Marking success lets the tasks below
    it run (their upstream_failed is reset, so a scheduler runs them); the run's
    state follows. A mapped task is marked whole, or one instance with --map-index.

    Example: `flowctl tasks mark user_events_etl 2026-11-20 extract --state success`
    """
    from flowctl.cli.render import plural, print_json, write

    if state not in MARK_STATES:
        raise typer.BadParameter(f"{state!r} is not one of {', '.join(MARK_STATES)}", param_hint="--state")
    service = _service()
    rid = service.resolve_run(dag_id, run_id, _dag_tz(service, dag_id))
    changed = service.mark(dag_id, rid, task_id, state, downstream, map_index)
    marked = list(changed.marked)
    reset = dict(changed.reset)
    if as_json:
        print_json({"dag_id": dag_id, "run_id": rid, "task_id": task_id, "state": state,
                    "marked": marked, "reset": list(reset)})
        return
    if not marked and not reset:
        write(f"{task_id} is already {state}: nothing changed\n")
        return
    line = f"marked {plural(len(marked), 'task instance')} {state}" + (f" ({', '.join(marked)})" if marked else "")
    if reset:
        was = sorted(set(reset.values()))
        line += (f"; reset {len(reset)} {' or '.join(was)} below it so {'it runs' if len(reset) == 1 else 'they run'} "
                 f"again ({', '.join(reset)})")
    write(line + "\n")
    if reset:
        _hint_scheduler(service)


alias(dags_app, "trigger", trigger, "trigger")
alias(tasks_app, "clear", clear, "clear")
