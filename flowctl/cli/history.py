"""Commands that read what happened: task states, runs, logs, XCom, explain."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flowctl.cli.app import (
    AIRFLOW_PANEL,
    DagArg,
    JsonOpt,
    MapIndexOpt,
    RunArg,
    TaskArg,
    _dag_tz,
    _err,
    _service,
    alias,
    app,
    complete,
    dags_app,
    runs_app,
    tasks_app,
    xcom_app,
)


def ti_rows(tis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for ti in tis:
        row = {"task_id": ti["task_id"], "map_index": ti.get("map_index", -1), "state": ti.get("state") or "none",
               "try_number": ti.get("try_number") or 0, "start_date": ti.get("start_date"),
               "end_date": ti.get("end_date"), "duration": ti.get("duration")}
        if ti.get("rendered_map_index"):
            row["rendered_map_index"] = ti["rendered_map_index"]
        rows.append(row)
    return rows


def ti_label(ti: dict[str, Any]) -> str:
    """`task`, or `task[3]` (or `task[its rendered name]`) for an instance of a mapped task."""
    index = ti.get("map_index", -1)
    if index is None or index < 0:
        return str(ti["task_id"])
    return f"{ti['task_id']}[{ti.get('rendered_map_index') or index}]"


def print_ti_table(tis: list[dict[str, Any]], tz: str, title: str | None = None) -> None:
    from rich.text import Text

    from flowctl.cli.render import console, duration, local_time, state_text, table

    t = table("task", "state", "try", "start", "end", "duration", title=title)
    for ti in tis:
        t.add_row(Text(ti_label(ti)), state_text(ti.get("state")), str(ti.get("try_number") or 0),
                  local_time(ti.get("start_date"), tz), local_time(ti.get("end_date"), tz), duration(ti.get("duration")))
    console().print(t)


@tasks_app.command("states")
def tasks_states(dag_id: DagArg, run_id: RunArg, as_json: JsonOpt = False) -> None:
    """The task instances of one run, with states, tries and times.

    Example: `flowctl tasks states user_events_etl "2026-11-20 00:00"`
    """
    from flowctl.cli.render import print_json

    service = _service()
    tz = _dag_tz(service, dag_id)
    rid = service.resolve_run(dag_id, run_id, tz)
    tis = service.task_states(dag_id, rid)
    if as_json:
        print_json(ti_rows(tis))
        return
    print_ti_table(tis, service.settings.default_timezone, title=f"{dag_id}  {rid}")


RUN_STATES = ("queued", "running", "success", "failed", "damaged")


@runs_app.command("list")
def runs_list(
    dag_id: Annotated[str | None, typer.Option("--dag", "-d", "--dag-id", metavar="DAG_ID", help="Only this DAG's runs.", show_default=False, autocompletion=complete.dag_ids)] = None,
    state: Annotated[str | None, typer.Option("--state", metavar="STATE", help="Only runs in this state (queued, running, success, failed, damaged), or waiting (queued or running, with no process carrying it out).", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """DAG runs, newest first. A logical date is shown in its DAG's zone, as
    you would type it back (`tasks states DAG_ID "2026-11-20 00:00"`). A queued
    or running run that no process carries out shows as `waiting` (--json keeps
    its state).

    Example: `flowctl runs list --dag user_events_etl --state failed`
    """
    _runs_list(dag_id, state, as_json)


def _runs_list(dag_id: str | None, state: str | None, as_json: bool) -> None:
    from flowctl.cli.render import (
        RUN_FIELDS,
        console,
        give_way,
        logical_date,
        print_json,
        several_zones,
        state_text,
        styled,
        table,
        zone_note,
    )

    if state is not None and state not in (*RUN_STATES, "waiting"):
        raise typer.BadParameter(f"{state!r} is not a run state ({', '.join(RUN_STATES)}, or waiting: queued or "
                                 f"running with no process carrying it out)", param_hint="--state")
    service = _service()
    if dag_id is not None:
        _dag_tz(service, dag_id)
    if state == "waiting":  # what the table shows as waiting
        runs = [r for r in service.list_runs(dag_id, None)
                if r.get("state") in ("queued", "running") and service.carrier(r) is None]
    else:
        runs = service.list_runs(dag_id, state)
    for warning in service.warnings:
        _err(warning)
    if as_json:
        print_json([{**{k: r.get(k) for k in RUN_FIELDS},
                     **({"file": r.get("file"), "error": r.get("error")} if r.get("state") == "damaged" else {}),
                     **{k: r[k] for k in ("triggered_by", "triggering_asset_events") if r.get(k)}}  # across DAGs
                    for r in runs])
        return
    from flowctl.cli.render import duration, local_time

    local = service.settings.default_timezone
    specs = service.dagbag().dags if runs else {}

    def zone_of(run: dict[str, Any]) -> str:
        spec = specs.get(run["dag_id"])
        return run.get("timezone") or (spec.timezone if spec is not None else local)

    zones = [zone_of(r) for r in runs]
    mixed = several_zones(zones)
    out = console()
    # On a narrow terminal the start time and the type (the run id starts with
    # it) give way, and with a zone column the duration too; the DAG id, the
    # zone and the run id are cut last. Output that is not a terminal has all.
    wide = out.width >= 110
    show = {"type": wide, "started": wide, "took": wide or not mixed}
    logical = f"logical date{zone_note(zones, local)}"
    columns = ["DAG", logical, *(["zone"] if mixed else []), *(["type"] if show["type"] else []), "state",
               *(["started"] if show["started"] else []), *(["took"] if show["took"] else []), "run id"]
    t = table(*columns)
    give_way(t, {logical: 16, "type": 9, "state": 7, "started": 16, "took": 7}, {"DAG": 16 if mixed else 20, "zone": 10},
             last="run id")
    idle = {(r["dag_id"], r["run_id"]) for r in runs
            if r.get("state") in ("queued", "running") and service.carrier(r) is None}
    for r, tz in zip(runs, zones, strict=True):
        took = None
        if r.get("start_date") and r.get("end_date"):
            from datetime import datetime

            took = (datetime.fromisoformat(r["end_date"]) - datetime.fromisoformat(r["start_date"])).total_seconds()
        row = [r["dag_id"], logical_date(r.get("logical_date"), tz), *([tz] if mixed else []),
               *([r.get("run_type") or "-"] if show["type"] else []),
               styled(("waiting", "yellow")) if (r["dag_id"], r["run_id"]) in idle else state_text(r.get("state")),
               *([local_time(r.get("start_date"), local, with_seconds=False)] if show["started"] else []),
               *([duration(took)] if show["took"] else []), r["run_id"]]
        t.add_row(*row)
    out.print(t if runs else (f"No {state} runs." if state else "No runs yet."))
    if idle:
        out.print("waiting: queued or running, but no process carries it out; `flowctl scheduler --until-idle` "
                  "(or --daemon) carries it on")


@dags_app.command("list-runs", rich_help_panel=AIRFLOW_PANEL)
def dags_list_runs(
    dag_arg: Annotated[str | None, typer.Argument(metavar="DAG_ID", help="Only this DAG's runs (Airflow 3 form).", show_default=False, autocompletion=complete.dag_ids)] = None,
    dag_id: Annotated[str | None, typer.Option("--dag-id", "-d", metavar="DAG_ID", help="Only this DAG's runs (Airflow 2 form).", show_default=False, autocompletion=complete.dag_ids)] = None,
    state: Annotated[str | None, typer.Option("--state", metavar="STATE", help="Only runs in this state (queued, running, success, failed, damaged).", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Airflow's name for `flowctl runs list`.

    DAG runs, newest first.

    Example: `flowctl dags list-runs -d user_events_etl`
    """
    _runs_list(dag_arg or dag_id, state, as_json)


@tasks_app.command("state", rich_help_panel=AIRFLOW_PANEL)
def tasks_state(dag_id: DagArg, task_id: TaskArg, run_id: RunArg, map_index: MapIndexOpt = -1) -> None:
    """The state of one task instance, as one word (Airflow's `tasks state`).

    A mapped task gives one word for all its instances, or one instance's with --map-index.

    Example: `flowctl tasks state user_events_etl extract 2026-11-20`
    """
    from flowctl.cli.render import write
    from flowctl.errors import NotFound

    service = _service()
    rid = service.resolve_run(dag_id, run_id, _dag_tz(service, dag_id))
    states = [t for t in service.task_states(dag_id, rid) if t["task_id"] == task_id]
    if not states:
        raise NotFound(f"run {rid} of {dag_id} has no task {task_id!r}")
    if map_index >= 0:
        states = [t for t in states if t.get("map_index") == map_index]
        if not states:
            raise NotFound(f"{task_id} in {rid} has no instance {map_index}")
    elif states[0].get("map_index", -1) >= 0:  # a mapped task: one word for all its instances
        from flowctl.states import summary_state

        write(f"{summary_state([str(t.get('state') or 'none') for t in states])}\n")
        return
    write(f"{states[0].get('state') or 'none'}\n")


@app.command()
def logs(
    dag_id: DagArg,
    run_id: RunArg,
    task_id: TaskArg,
    try_number: Annotated[int | None, typer.Option("--try", metavar="N", min=1, help="Which try, from 1 (default: the latest).", show_default=False)] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing while the task runs (waiting for it to start).")] = False,
    map_index: MapIndexOpt = -1,
) -> None:
    """Print a task try's log.

    A mapped task has a log per instance: name it with --map-index.

    Example: `flowctl logs user_events_etl 2026-11-20 extract --try 1`
    """
    from flowctl.cli.foreground import print_log

    service = _service()
    rid = service.resolve_run(dag_id, run_id, _dag_tz(service, dag_id))
    if follow and try_number is None:
        _wait_for_a_try(service, dag_id, rid, task_id, map_index)
    path = service.log_path(dag_id, rid, task_id, try_number, map_index)
    print_log(service, dag_id, rid, task_id, path, follow, map_index)


def _wait_for_a_try(service: Any, dag_id: str, run_id: str, task_id: str, map_index: int) -> None:
    """`logs --follow` of a task that has not started: wait (saying so once) while
    its run goes on, so the log can be followed from its first line."""
    import time

    from flowctl.records import TaskKey

    said = False
    while True:
        data = service.read_run(dag_id, run_id)
        ti = data.tis.get(TaskKey(task_id, map_index))
        if ti is None or ti.try_number or data.record.state not in ("queued", "running"):
            return  # started, or never will: log_path says which
        if not said:
            _err(f"{dag_id}.{task_id} has not started yet in {run_id} (state {ti.state}); waiting for it "
                 f"(Ctrl-C stops)")
            said = True
        time.sleep(0.3)


@xcom_app.command("list")
def xcom_list(
    dag_id: DagArg,
    run_id: RunArg,
    task_id: Annotated[str | None, typer.Option("--task", "-t", metavar="TASK_ID", help="Only this task's values.", show_default=False, autocompletion=complete.task_ids)] = None,
    as_json: JsonOpt = False,
) -> None:
    """XCom values of a run.

    Example: `flowctl xcom list user_events_etl 2026-11-20 --task extract`
    """
    import json

    from rich.text import Text

    from flowctl.cli.render import console, print_json, table

    service = _service()
    rid = service.resolve_run(dag_id, run_id, _dag_tz(service, dag_id))
    if task_id is not None:
        _need_task(service, dag_id, rid, task_id)
    rows = [{"task_id": x["task_id"], "map_index": x.get("map_index", -1), "key": x["key"], "value": x["value"]}
            for x in service.xcoms(dag_id, rid, task_id)]
    first: dict[str, int] = {}
    for i, r in enumerate(rows):
        first.setdefault(r["task_id"], i)
    rows.sort(key=lambda r: (first[r["task_id"]], r["map_index"]))  # in the order they came; instances by index
    if as_json:
        print_json(rows)
        return
    t = table("task", "key", "value")
    for r in rows:
        text = json.dumps(r["value"])
        t.add_row(Text(ti_label(r)), Text(r["key"]), Text(text if len(text) < 120 else text[:117] + "..."))
    console().print(t if rows else "No XCom values.")


def _need_task(service: Any, dag_id: str, run_id: str, task_id: str) -> None:
    """A task the run does not have is a missing thing (exit 1), not a run
    without values: the run's own tasks count, as the DAG had them then."""
    from flowctl.errors import NotFound

    tasks = list(dict.fromkeys(t["task_id"] for t in service.task_states(dag_id, run_id)))
    if task_id not in tasks:
        raise NotFound(f"run {run_id} of {dag_id} has no task {task_id!r} (tasks: {', '.join(tasks) or 'none'})")


@app.command()
def explain(
    dag_id: DagArg,
    run_id: RunArg,
    task_id: Annotated[str | None, typer.Argument(metavar="TASK_ID", help="Only this task.", show_default=False, autocompletion=complete.task_ids)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Why each task instance of a run is in its state, or is not running yet.

    Example: `flowctl explain user_events_etl 2026-11-20 aggregate`
    """
    from rich.text import Text

    from flowctl.cli.render import console, human_times, print_json, state_text, styled, table

    service = _service()
    rid = service.resolve_run(dag_id, run_id, _dag_tz(service, dag_id))
    doc = service.explain(dag_id, rid, task_id)
    if as_json:
        print_json(doc)
        return
    out = console()
    tz = service.settings.default_timezone
    out.print(styled((dag_id, "bold"), f" {rid}: ", state_text(doc["run_state"])))
    for note in doc["notes"]:
        out.print(styled("  ", ("!", "yellow"), f" {human_times(note, tz)}"))
    t = table("task", "state", "try", "why")
    for r in doc["tasks"]:
        t.add_row(Text(ti_label(r)), state_text(r["state"]), str(r["try_number"]), human_times(r["reason"], tz))
    out.print(t)


alias(tasks_app, "states-for-dag-run", tasks_states, "tasks states", hidden=True)
