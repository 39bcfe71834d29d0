"""Commands that read what happened: task states, runs, logs, XCom, explain."""

from __future__ import annotations

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
    runs_app,
    tasks_app,
    xcom_app,
)


def ti_rows(tis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"task_id": ti["task_id"], "state": ti.get("state") or "none", "try_number": ti.get("try_number") or 0,
             "start_date": ti.get("start_date"), "end_date": ti.get("end_date"), "duration": ti.get("duration")}
            for ti in tis]


def print_ti_table(tis: list[dict[str, Any]], tz: str, title: str | None = None) -> None:
    from flowctl.cli.render import console, duration, local_time, state_text, table

    t = table("task", "state", "try", "start", "end", "duration", title=title)
    for ti in tis:
        t.add_row(ti["task_id"], state_text(ti.get("state")), str(ti.get("try_number") or 0),
                  local_time(ti.get("start_date"), tz), local_time(ti.get("end_date"), tz), duration(ti.get("duration")))
    console().print(t)


@tasks_app.command("states")
def tasks_states(dag_id: DagArg, run_id: RunArg, as_json: JsonOpt = False) -> None:
    """The task instances of one run, with states, tries and times."""
    from flowctl.cli.render import print_json

    service = _service()
    tz = _dag_tz(service, dag_id)
    rid = service.resolve_run(dag_id, run_id, tz)
    tis = service.task_states(dag_id, rid)
    if as_json:
        print_json(ti_rows(tis))
        return
    print_ti_table(tis, service.settings.default_timezone, title=f"{dag_id}  {rid}")


@runs_app.command("list")
def runs_list(
    dag_id: Annotated[str | None, typer.Option("--dag", help="Only this DAG's runs.", show_default=False)] = None,
    state: Annotated[str | None, typer.Option("--state", help="Only runs in this state (queued, running, success, failed).", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """DAG runs, newest first."""
    from flowctl.cli.render import RUN_FIELDS, console, local_time, print_json, state_text, table

    if state is not None and state not in ("queued", "running", "success", "failed"):
        raise typer.BadParameter(f"{state!r} is not a run state (queued, running, success, failed)", param_hint="--state")
    service = _service()
    if dag_id is not None:
        _dag_tz(service, dag_id)
    runs = service.list_runs(dag_id, state)
    for warning in service.warnings:
        _err(warning)
    if as_json:
        print_json([{**{k: r.get(k) for k in RUN_FIELDS},
                     **({"file": r.get("file"), "error": r.get("error")} if r.get("state") == "damaged" else {})}
                    for r in runs])
        return
    from flowctl.cli.render import duration

    tz = service.settings.default_timezone
    out = console()
    wide = out.width >= 110  # on a narrow terminal the start time gives way
    columns = ["DAG", "logical date", "type", "state"] + (["started"] if wide else []) + ["took", "run id"]
    t = table(*columns)
    widths = {"logical date": 16, "type": 9, "state": 7, "started": 16, "took": 7}
    for column in t.columns:  # one line per run; the DAG id and run id give way first
        column.no_wrap = True
        column.min_width = widths.get(str(column.header))
        column.overflow = "ellipsis"
    t.columns[0].max_width = 20
    for r in runs:
        took = None
        if r.get("start_date") and r.get("end_date"):
            from datetime import datetime

            took = (datetime.fromisoformat(r["end_date"]) - datetime.fromisoformat(r["start_date"])).total_seconds()
        row = [r["dag_id"], local_time(r.get("logical_date"), tz, with_seconds=False), r.get("run_type") or "-",
               state_text(r.get("state"))]
        if wide:
            row.append(local_time(r.get("start_date"), tz, with_seconds=False))
        t.add_row(*row, duration(took), r["run_id"])
    out.print(t if runs else "No runs yet.")


@app.command()
def logs(
    dag_id: DagArg,
    run_id: RunArg,
    task_id: Annotated[str, typer.Argument(help="The task id.", show_default=False)],
    try_number: Annotated[int | None, typer.Option("--try", help="Which try (default: the latest).", show_default=False)] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing while the task runs.")] = False,
) -> None:
    """Print a task try's log."""
    from flowctl.cli.foreground import print_log

    service = _service()
    rid = service.resolve_run(dag_id, run_id, _dag_tz(service, dag_id))
    path = service.log_path(dag_id, rid, task_id, try_number)
    print_log(service, dag_id, rid, task_id, path, follow)


@xcom_app.command("list")
def xcom_list(
    dag_id: DagArg,
    run_id: RunArg,
    task_id: Annotated[str | None, typer.Option("--task", help="Only this task's values.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """XCom values of a run."""
    import json

    from flowctl.cli.render import console, print_json, table

    service = _service()
    rid = service.resolve_run(dag_id, run_id, _dag_tz(service, dag_id))
    rows = [{"task_id": x["task_id"], "key": x["key"], "value": x["value"]} for x in service.xcoms(dag_id, rid, task_id)]
    if as_json:
        print_json(rows)
        return
    t = table("task", "key", "value")
    for r in rows:
        text = json.dumps(r["value"])
        t.add_row(r["task_id"], r["key"], text if len(text) < 120 else text[:117] + "...")
    console().print(t if rows else "No XCom values.")


@app.command()
def explain(
    dag_id: DagArg,
    run_id: RunArg,
    task_id: Annotated[str | None, typer.Argument(help="Only this task.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Why each task instance of a run is in its state, or is not running yet."""
    from flowctl.cli.render import console, print_json, state_text, table

    service = _service()
    rid = service.resolve_run(dag_id, run_id, _dag_tz(service, dag_id))
    doc = service.explain(dag_id, rid, task_id)
    if as_json:
        print_json(doc)
        return
    out = console()
    out.print(f"[bold]{dag_id}[/] {rid}: {state_text(doc['run_state'])}")
    for note in doc["notes"]:
        out.print(f"  [yellow]![/] {note}")
    t = table("task", "state", "try", "why")
    for r in doc["tasks"]:
        t.add_row(r["task_id"], state_text(r["state"]), str(r["try_number"]), r["reason"])
    out.print(t)
