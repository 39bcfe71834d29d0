"""Commands about DAGs: list, errors, show, next intervals, tasks, pause."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flowctl.cli.app import (
    AIRFLOW_PANEL,
    DagArg,
    JsonOpt,
    _err,
    _service,
    _short_path,
    alias,
    app,
    dags_app,
    read_date,
    tasks_app,
)


@dags_app.command("list")
def dags_list(as_json: JsonOpt = False) -> None:
    """Every DAG in the DAG folder, with its schedule and next data interval
    (its start, in the DAG's zone).

    Example: `flowctl dags list --json | jq -r '.[].dag_id'`
    """
    from flowctl.cli.render import (
        console,
        logical_date,
        plural,
        print_json,
        several_zones,
        styled,
        table,
        zone_note,
    )
    from flowctl.clock import iso, utcnow

    service = _service(dags=True)
    bag = service.dagbag()
    flags = service.store.dag_flags()
    rows = []
    now = utcnow()
    for dag_id in sorted(bag.dags):
        spec = bag.dags[dag_id]
        nxt = _next_interval(service, spec, now)
        rows.append({
            "dag_id": dag_id, "fileloc": spec.fileloc, "schedule": spec.schedule_display,
            "timezone": spec.timezone, "paused": bool(flags.get(dag_id, {}).get("paused", False)),
            "catchup": spec.catchup, "tags": list(spec.tags), "tasks": list(spec.order),
            "next_data_interval_start": iso(nxt[0]) if nxt else None,
            "next_data_interval_end": iso(nxt[1]) if nxt else None,
            "asset_condition": _condition(spec),
        })
    if as_json:
        print_json(rows)
        return
    out = console()
    local = service.settings.default_timezone
    zones = [r["timezone"] for r in rows if r["next_data_interval_start"]]
    note = zone_note(zones, local)
    columns = ["DAG", "schedule", "tasks", "paused", f"next run{note}"]
    mixed = several_zones(zones)
    t = table(*columns, *(["zone"] if mixed else []), "tags", "file")
    for r in rows:
        t.add_row(r["dag_id"], r["schedule"] or styled(("manual", "dim")), str(len(r["tasks"])),
                  styled(("paused", "yellow")) if r["paused"] else "no",
                  logical_date(r["next_data_interval_start"], r["timezone"]),
                  *([r["timezone"]] if mixed else []),
                  ", ".join(r["tags"]), _short_path(r["fileloc"]))
    out.print(t)
    if bag.errors:
        out.print(styled((f"{plural(len(bag.errors), 'DAG file')} failed to import", "red"), ": see `flowctl dags errors`"))
    if not rows and not bag.errors:
        out.print(f"No DAG files in {service.settings.dags_folder}.")


def _condition(spec: Any) -> str | None:
    """The assets a DAG is scheduled on, as people read the condition (`a & (b | c)`)."""
    if not spec.asset_condition:
        return None
    from flowctl.authoring.assets import condition_text

    return condition_text(spec.asset_condition)


def _next_interval(service: Any, spec: Any, now: Any) -> tuple[Any, Any] | None:
    """The data interval of the next run the scheduler will create (its own function)."""
    nxt = service.next_run(spec, now)
    return (nxt.start, nxt.end) if nxt is not None else None


@dags_app.command("errors")
def dags_errors(as_json: JsonOpt = False) -> None:
    """DAG files that failed to import, and why. Exit 1 when there are any.

    Example: `flowctl dags errors || echo "fix these first"`
    """
    from flowctl.cli.render import console, print_json, styled

    bag = _service(dags=True).dagbag()
    if as_json:
        print_json([{"fileloc": e.fileloc, "error": e.error} for e in bag.errors])
    else:
        out = console()
        if not bag.errors:
            out.print("No import errors.")
        for e in bag.errors:
            out.print(styled((_short_path(e.fileloc), "red"), f": {e.error}"))
    raise typer.Exit(1 if bag.errors else 0)


@dags_app.command("show")
def dags_show(dag_id: DagArg) -> None:
    """Draw a DAG's task graph in the terminal.

    Example: `flowctl dags show user_events_etl`
    """
    from flowctl.cli.render import console, graph_tree

    console().print(graph_tree(_service(dags=True).dag(dag_id)))


@tasks_app.command("list")
def tasks_list(dag_id: DagArg, as_json: JsonOpt = False) -> None:
    """The tasks of a DAG, upstream first.

    Example: `flowctl tasks list user_events_etl`
    """
    from flowctl.cli.render import console, print_json, table

    spec = _service(dags=True).dag(dag_id)
    rows = [{"task_id": t.task_id, "operator": t.operator, "upstream": list(t.upstream),
             "downstream": list(t.downstream), "trigger_rule": t.trigger_rule, "retries": t.retries,
             "pool": t.pool or "default_pool", "pool_slots": t.pool_slots,
             "is_setup": t.is_setup, "is_teardown": t.is_teardown}
            for t in (spec.tasks[tid] for tid in spec.order)]
    if as_json:
        print_json(rows)
        return
    t = table("task", "operator", "upstream", "trigger rule", "retries")
    for r in rows:
        role = " (setup)" if r["is_setup"] else " (teardown)" if r["is_teardown"] else ""
        t.add_row(r["task_id"] + role, r["operator"], ", ".join(r["upstream"]) or "-", r["trigger_rule"],
                  str(r["retries"]))
    console().print(t)


CountOpt = Annotated[int, typer.Option("-n", "--num-executions", metavar="N", help="How many intervals (at most 10,000).",
                                       min=1, max=10_000)]


@dags_app.command("next")
def dags_next(
    dag_id: DagArg,
    after: Annotated[str | None, typer.Option("--after", metavar="DATE", help="First interval starting at or after this date, in the DAG's zone (default: start_date).", show_default=False)] = None,
    n: CountOpt = 5,
    as_json: JsonOpt = False,
) -> None:
    """The data intervals of a DAG's schedule, from its start_date or --after
    (`dags next-execution` starts at the next run the scheduler creates); each
    logical date is the interval's start, shown in the DAG's zone as you would type it.

    Example: `flowctl dags next user_events_etl --after 2026-12-01 -n 3`
    """
    _show_intervals(dag_id, after, n, as_json, from_next_run=False)


@dags_app.command("next-execution", rich_help_panel=AIRFLOW_PANEL)
def dags_next_execution(
    dag_id: DagArg,
    after: Annotated[str | None, typer.Option("--after", metavar="DATE", help="First interval starting at or after this date, in the DAG's zone (default: the next run the scheduler creates, as `dags list` shows it).", show_default=False)] = None,
    n: CountOpt = 5,
    as_json: JsonOpt = False,
) -> None:
    """Airflow's `dags next-execution`: `flowctl dags next`, from the next run the
    scheduler creates (as `dags list` shows it) rather than from start_date.

    Example: `flowctl dags next-execution user_events_etl -n 3`
    """
    _show_intervals(dag_id, after, n, as_json, from_next_run=True)


def _show_intervals(dag_id: str, after: str | None, n: int, as_json: bool, from_next_run: bool) -> None:
    from flowctl.cli.render import console, print_json, table
    from flowctl.clock import iso

    service = _service(dags=True)
    spec = service.dag(dag_id)
    when = read_date(service, after, spec.timezone)
    if when is None and from_next_run:
        upcoming = service.next_run(spec)
        when = upcoming.start if upcoming is not None else None
        if upcoming is None and (spec.schedule is not None or spec.schedule_seconds is not None):
            n = 0  # the schedule has ended
    rows = [{"logical_date": iso(i.start), "data_interval_start": iso(i.start), "data_interval_end": iso(i.end)}
            for i in service.next_intervals(dag_id, when, n)]
    if as_json:
        print_json(rows)
        return
    assets = service.asset_schedule(spec)
    if assets is not None:
        _asset_next(dag_id, assets, bool(rows))
    if not rows:
        if assets is None:
            console().print(f"{dag_id} has no more scheduled intervals ({spec.schedule_display or 'manual only'}).")
        return
    t = table("logical date = data interval start", "data interval end",
              title=f"{dag_id}  {spec.schedule_display}  (times in {spec.timezone})")
    for i in service.next_intervals(dag_id, when, n):  # with the UTC offset, which DST changes: typed back as shown
        t.add_row(i.start.strftime("%Y-%m-%d %H:%M %z"), i.end.strftime("%Y-%m-%d %H:%M %z"))
    console().print(t)


def _asset_next(dag_id: str, assets: dict[str, Any], timed: bool) -> None:
    """What a DAG scheduled on assets waits for: its condition, and what was updated since its last run."""
    from flowctl.cli.render import console

    out = console()
    also = " (and on its time schedule, below)" if timed else ""
    out.print(f"{dag_id} runs on asset updates{also}: {assets['condition']}")
    if assets["due"]:
        out.print(f"  due now: {', '.join(assets['updated'])} updated since its last asset-triggered run; "
                  f"the scheduler makes the run")
    elif assets["updated"]:
        out.print(f"  updated since its last asset-triggered run: {', '.join(assets['updated'])}; "
                  f"still waiting for: {', '.join(assets['missing']) or 'an alias to resolve'}")
    else:
        out.print("  no asset it waits for was updated since its last asset-triggered run")


@app.command()
def pause(dag_id: DagArg, as_json: JsonOpt = False) -> None:
    """Stop creating scheduled runs for a DAG (manual runs and backfills still work).

    Example: `flowctl pause user_events_etl`
    """
    _set_paused(dag_id, True, as_json)


@app.command()
def unpause(dag_id: DagArg, as_json: JsonOpt = False) -> None:
    """Resume scheduled runs for a DAG.

    Example: `flowctl unpause user_events_etl`
    """
    _set_paused(dag_id, False, as_json)


def _set_paused(dag_id: str, paused: bool, as_json: bool) -> None:
    from flowctl.cli.render import print_json, write

    service = _service(dags=True)
    service.set_paused(dag_id, paused)
    for warning in service.store.warnings:  # a damaged flags file replaced: which pauses were lost
        _err(f"warning: {warning}")
    if as_json:
        print_json({"dag_id": dag_id, "paused": paused})
    else:
        write(f"{dag_id} {'paused' if paused else 'unpaused'}\n")


alias(dags_app, "pause", pause, "pause")
alias(dags_app, "unpause", unpause, "unpause")
alias(dags_app, "list-import-errors", dags_errors, "dags errors")
