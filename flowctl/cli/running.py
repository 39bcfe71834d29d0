"""Commands that carry work out in the foreground: `run`, `tasks test`, `backfill`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from flowctl.cli.app import (
    AIRFLOW_PANEL,
    DagArg,
    DaskAddressOpt,
    ExecutorOpt,
    JsonOpt,
    MapIndexOpt,
    TaskArg,
    _err,
    _service,
    alias,
    app,
    dags_app,
    read_date,
    tasks_app,
    use_executor,
)

LogicalDateOpt = Annotated[str | None, typer.Option(
    "--logical-date", "-d", "-l", metavar="DATE",
    help="The run's logical date, in the DAG's zone unless it has an offset (default: now); "
         "ds and the data interval follow from it.", show_default=False)]
ConfOpt = Annotated[str | None, typer.Option(
    "--conf", "-c", metavar="JSON", help="JSON object for the run's conf, e.g. '{\"events_per_day\": 10}'.",
    show_default=False)]


@app.command()
def run(
    dag_id: DagArg,
    logical_date: LogicalDateOpt = None,
    conf: ConfOpt = None,
    as_json: JsonOpt = False,
    executor: ExecutorOpt = None,
    dask_address: DaskAddressOpt = None,
) -> None:
    """Run a DAG now, in the foreground, with live progress. Exit 0 if the run
    succeeded, 1 if not. A closed pipe (`| head`) never stops the run. Ctrl-C (or
    SIGTERM) gives running tasks 30 s to finish; a second Ctrl-C kills them (they run again later).

    Example: `flowctl run user_events_etl --logical-date 2026-11-20 --conf '{"events_per_day": 10}'`
    """
    _run(dag_id, logical_date, conf, as_json, executor, dask_address)


def _run(dag_id: str, logical_date: str | None, conf: str | None, as_json: bool,
         executor: str | None, dask_address: str | None) -> None:
    from flowctl.cli.foreground import run_in_foreground

    use_executor(executor, dask_address)
    service = _service(dags=True)
    spec = service.dag(dag_id)
    conf_doc = service.parse_conf(conf)
    when = read_date(service, logical_date, spec.timezone)
    ok = run_in_foreground(service, spec, when, conf_doc, as_json=as_json)
    raise typer.Exit(0 if ok else 1)


@dags_app.command("test", rich_help_panel=AIRFLOW_PANEL)
def dags_test(
    dag_id: DagArg,
    date: Annotated[str | None, typer.Argument(metavar="LOGICAL_DATE", help="The run's logical date (Airflow's positional form).", show_default=False)] = None,
    logical_date: LogicalDateOpt = None,
    conf: ConfOpt = None,
    as_json: JsonOpt = False,
    executor: ExecutorOpt = None,
    dask_address: DaskAddressOpt = None,
) -> None:
    """Airflow's name for `flowctl run`.

    Run a DAG now, in the foreground, with live progress. Exit 0 if the run succeeded.

    Example: `flowctl dags test user_events_etl 2026-11-20`
    """
    _run(dag_id, date if logical_date is None else logical_date, conf, as_json, executor, dask_address)


@tasks_app.command("test")
def tasks_test(
    dag_id: DagArg,
    task_id: TaskArg,
    date: Annotated[str | None, typer.Argument(metavar="LOGICAL_DATE", help="Logical date (Airflow's positional form of --logical-date).", show_default=False)] = None,
    logical_date: Annotated[str | None, typer.Option("--logical-date", "-d", metavar="DATE", help="Logical date for the templates (default: now).", show_default=False)] = None,
    map_index: MapIndexOpt = -1,
) -> None:
    """Run one task in this process and print its log. Writes no state; upstream
    values (XCom) come from an existing run with that logical date, if there is one.
    A mapped task is tested one instance at a time (--map-index).

    Example: `flowctl tasks test user_events_etl extract 2026-11-20`
    """
    from flowctl.cli.foreground import test_task

    service = _service(dags=True)
    spec = service.dag(dag_id)
    if task_id not in spec.tasks:
        from flowctl.errors import NotFound

        raise NotFound(f"DAG {dag_id} has no task {task_id!r} (tasks: {', '.join(spec.order)})")
    when = read_date(service, date if logical_date is None else logical_date, spec.timezone)
    raise typer.Exit(0 if test_task(service, spec, task_id, when, map_index) else 1)


@tasks_app.command("run", rich_help_panel=AIRFLOW_PANEL)
def tasks_run(
    dag_id: DagArg,
    task_id: TaskArg,
    date: Annotated[str | None, typer.Argument(metavar="LOGICAL_DATE", help="Logical date.", show_default=False)] = None,
    logical_date: Annotated[str | None, typer.Option("--logical-date", "-d", metavar="DATE", help="Logical date (default: now).", show_default=False)] = None,
) -> None:
    """Airflow's name, here for `flowctl tasks test` (it records no state).

    Runs one task in this process and prints its log. To run a task instance
    of a recorded run again, clear it: `flowctl clear DAG_ID --run RUN --task '^TASK_ID$' --yes`.

    Example: `flowctl tasks run user_events_etl extract 2026-11-20`
    """
    _err("`tasks run` runs the task as `tasks test` does and records no state; "
         "`flowctl clear DAG_ID --run RUN --task '^TASK_ID$' --yes` re-runs a recorded one")
    tasks_test(dag_id, task_id, date, logical_date)


StartOpt = Annotated[str, typer.Option(
    "--start", "-s", "--start-date", metavar="DATE",
    help="First logical date (in the DAG's zone unless it has an offset).", show_default=False)]
EndOpt = Annotated[str, typer.Option(
    "--end", "-e", "--end-date", metavar="DATE", help="Last logical date, included.", show_default=False)]


def _warn_unended(plan: list[Any], tz: str) -> None:
    """A run of an interval that has not ended reads data that is not all there yet:
    say so (the range is still the user's to choose, as the contract has it)."""
    from flowctl.cli.render import logical_date, plural
    from flowctl.clock import utcnow

    now = utcnow()
    early = [p for p in plan if p.action != "skip" and p.data_interval_end > now]
    if early:
        first = min(p.logical_date for p in early)  # the plan may run backwards
        _err(f"note: {plural(len(early), 'interval')} from {logical_date(iso_of(first), tz)} on "
             f"{'has' if len(early) == 1 else 'have'} not ended yet; a run of one reads its data before all of it is there")


@app.command()
def backfill(
    dag_id: DagArg,
    start: StartOpt,
    end: EndOpt,
    reprocess: Annotated[str, typer.Option("--reprocess", metavar="none|failed|completed", help="none: leave intervals that have a run; failed: re-run failed runs; completed: re-run all.")] = "none",
    max_active_runs: Annotated[int | None, typer.Option("--max-active-runs", metavar="N", min=1, help="Runs at once (default: the DAG's max_active_runs).", show_default=False)] = None,
    run_backwards: Annotated[bool, typer.Option("--run-backwards", "-B", help="Newest interval first.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen to each interval; change nothing.")] = False,
    as_json: JsonOpt = False,
    executor: ExecutorOpt = None,
    dask_address: DaskAddressOpt = None,
) -> None:
    """Run a DAG over past data intervals, in the foreground with a progress bar.
    Exit 0 if every run it carried out succeeded. Ctrl-C stops (exit 1; running tasks get 30 s,
    a second Ctrl-C kills them); run it again to resume.

    Example: `flowctl backfill user_events_etl --start 2026-11-01 --end 2026-11-07 --dry-run`
    """
    from flowctl.cli.foreground import BackfillProgress
    from flowctl.cli.render import (
        console,
        logical_date,
        plural,
        print_json,
        state_text,
        styled,
        table,
    )

    use_executor(executor, dask_address)
    service = _service(dags=True)
    spec = service.dag(dag_id)
    first = read_date(service, start, spec.timezone)
    last = read_date(service, end, spec.timezone)
    plan = service.plan_backfill(spec, first, last, reprocess, run_backwards)
    gap = service.backfill_gap(spec, first, last) if not plan else None
    _warn_unended(plan, spec.timezone)
    if dry_run:
        if as_json:
            print_json({"dag_id": dag_id, "dry_run": True, "intervals": [p.to_doc() for p in plan],
                        **({"reason": gap} if gap else {})})
            return
        if not plan:
            console().print(f"No interval of {dag_id} has a logical date in that range: {gap}.")
            return
        t = table(f"logical date ({spec.timezone})", "action", "run", "why",
                  title=f"backfill plan for {dag_id} (dry run: nothing changes)")
        for p in plan:
            colour = {"create": "green", "reprocess": "yellow", "resume": "cyan", "follow": "blue"}.get(p.action, "dim")
            t.add_row(logical_date(iso_of(p.logical_date), spec.timezone), styled((p.action, colour)), p.run_id, p.why)
        console().print(t)
        console().print(f"{sum(p.action != 'skip' for p in plan)} of {plural(len(plan), 'interval')} would run.")
        return
    if not plan and as_json:
        print_json({"dag_id": dag_id, "succeeded": True, "runs": [], "reason": gap})
        raise typer.Exit(0)
    if not plan:
        _err(f"no data interval of {dag_id} has a logical date between {logical_date(iso_of(first), spec.timezone)} "
             f"and {logical_date(iso_of(last), spec.timezone)}: {gap}")
        raise typer.Exit(0)
    todo = sum(p.action != "skip" for p in plan)
    progress = BackfillProgress(todo, enabled=not as_json, live=sys.stdout.isatty())
    try:
        results = service.backfill(spec, plan, max_active_runs or spec.max_active_runs, announce=progress.announce)
    finally:
        progress.stop()
    failed = [r for r, st in results.items() if st not in ("success", "skipped")]
    if as_json:
        rows = []
        for p in plan:
            doc = p.to_doc()
            doc["state"] = results.get(p.run_id, p.state)
            rows.append(doc)
        print_json({"dag_id": dag_id, "succeeded": not failed, "runs": rows})
    else:
        out = console()
        skipped = [p for p in plan if p.action == "skip"]
        not_run = [r for r, st in results.items() if st == "not run"]
        unfinished = [r for r, st in results.items() if st in ("queued", "running")]
        if not_run or unfinished:
            out.print(styled(("Interrupted", "yellow"), f": {len(not_run) + len(unfinished)} of "
                             f"{plural(len(results), 'interval')} not finished; run the same command again to resume."))
        broken = [r for r in failed if r not in not_run and r not in unfinished]
        if broken:
            out.print(styled((f"{len(broken)} of {plural(len(results), 'run')} did not succeed", "red"), ":"))
            for r in broken:
                out.print(styled(f"  {r}: ", state_text(results[r]), f"  (see `flowctl tasks states {dag_id} '{r}'`)"))
        elif not results:
            out.print("Nothing to do: every interval already has a finished run.")
        elif not failed:
            out.print(styled((f"{plural(len(results), 'run')} succeeded", "green"), "."))
        if skipped:
            out.print(f"{plural(len(skipped), 'interval')} skipped because a run exists; "
                      "--reprocess failed|completed re-runs them.")
    raise typer.Exit(1 if failed else 0)


alias(dags_app, "backfill", backfill, "backfill")


def iso_of(dt: Any) -> str:
    from flowctl.clock import iso

    return iso(dt) or ""
