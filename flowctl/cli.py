"""The `flowctl` command: parse -> service -> render (a rich table or --json).

Every module that costs start-up time (pendulum, jinja2, tinydb, textual) is
imported inside the command that needs it, so `flowctl --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from flowctl import __version__

app = typer.Typer(
    name="flowctl",
    help=(
        "Airflow-style workflows on your laptop: DAGs in Python files, a scheduler "
        "that replaces cron, a terminal UI. No database or web server.\n\n"
        "Start with `flowctl dags list`, then `flowctl run DAG`."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
dags_app = typer.Typer(help="List, check and draw DAGs.", no_args_is_help=True)
tasks_app = typer.Typer(help="Tasks of a DAG and their instances in a run.", no_args_is_help=True)
runs_app = typer.Typer(help="DAG runs.", no_args_is_help=True)
xcom_app = typer.Typer(help="Values tasks passed to each other (XCom).", no_args_is_help=True)
app.add_typer(dags_app, name="dags")
app.add_typer(tasks_app, name="tasks")
app.add_typer(runs_app, name="runs")
scheduler_app = typer.Typer(
    help="The scheduler: creates runs when their data interval has passed and carries them out.",
    invoke_without_command=True,
)
app.add_typer(xcom_app, name="xcom")
app.add_typer(scheduler_app, name="scheduler")

_options: dict[str, Any] = {}

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
DagArg = Annotated[str, typer.Argument(help="The DAG id (see `flowctl dags list`).", show_default=False)]
RunArg = Annotated[str, typer.Argument(help="A run id, or the logical date of the run.", show_default=False)]


def _version(value: bool) -> None:
    if value:
        print(f"flowctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    dags_folder: Annotated[str | None, typer.Option("--dags-folder", help="Folder of DAG files [env FLOWCTL_DAGS_FOLDER; default ./dags]", show_default=False)] = None,
    home: Annotated[str | None, typer.Option("--home", help="State, logs and pid file [env FLOWCTL_HOME; default ./.flowctl]", show_default=False)] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Parallel task slots [env FLOWCTL_WORKERS; default: CPUs]", show_default=False)] = None,
    executor: Annotated[str | None, typer.Option("--executor", help="local (a process pool) or dask [env FLOWCTL_EXECUTOR]", show_default=False)] = None,
    dask_address: Annotated[str | None, typer.Option("--dask-address", help="Dask scheduler address, for a dask executor [env FLOWCTL_DASK_ADDRESS]", show_default=False)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Settings come from options, then FLOWCTL_* variables, then flowctl.toml
    (here or in a parent folder), then defaults."""
    _options.update(dags_folder=dags_folder, home=home, workers=workers, executor=executor,
                    dask_address=dask_address, debug=debug)


def _settings() -> Any:
    from flowctl.config import load_settings

    keys = ("dags_folder", "home", "workers", "executor", "dask_address")
    return load_settings(**{k: _options.get(k) for k in keys})


def _service() -> Any:
    from flowctl.service import Service

    return Service.from_settings(_settings())


def _err(message: str) -> None:
    sys.stderr.write(f"flowctl: {message}\n")


# -- run ---------------------------------------------------------------------


@app.command()
def run(
    dag_id: DagArg,
    logical_date: Annotated[str | None, typer.Option("--logical-date", "-d", help="The run's logical date (default: now); ds and the data interval follow from it.", show_default=False)] = None,
    conf: Annotated[str | None, typer.Option("--conf", "-c", help="JSON object for the run's conf, e.g. '{\"limit\": 10}'.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a DAG now, in the foreground, with live progress. Exit 0 if the run succeeded."""
    from flowctl.runs import run_in_foreground

    service = _service()
    spec = service.dag(dag_id)
    conf_doc = service.parse_conf(conf)
    when = service.parse_date(logical_date, spec.timezone) if logical_date else None
    ok = run_in_foreground(service, spec, when, conf_doc, as_json=as_json)
    raise typer.Exit(0 if ok else 1)


# -- dags ----------------------------------------------------------------------


@dags_app.command("list")
def dags_list(as_json: JsonOpt = False) -> None:
    """Every DAG in the DAG folder, with its schedule and next data interval."""
    from flowctl.clock import iso, utcnow
    from flowctl.render import console, local_time, print_json, table

    service = _service()
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
        })
    if as_json:
        print_json(rows)
        return
    out = console()
    tz = service.settings.default_timezone
    t = table("DAG", "schedule", "tasks", "paused", "next run (data interval start)", "tags", "file")
    for r in rows:
        t.add_row(r["dag_id"], r["schedule"] or "[dim]manual[/]", str(len(r["tasks"])),
                  "[yellow]paused[/]" if r["paused"] else "no",
                  local_time(r["next_data_interval_start"], tz, with_seconds=False),
                  ", ".join(r["tags"]), _short_path(r["fileloc"]))
    out.print(t)
    if bag.errors:
        out.print(f"[red]{len(bag.errors)} DAG file(s) failed to import[/]: see `flowctl dags errors`")
    if not rows and not bag.errors:
        out.print(f"No DAG files in {service.settings.dags_folder}.")


def _next_interval(service: Any, spec: Any, now: Any) -> tuple[Any, Any] | None:
    """The data interval of the next scheduled run after the latest one."""
    if spec.schedule is None and spec.schedule_seconds is None:
        return None
    try:
        tt = spec.timetable()
        runs = [r for r in service.store.run_ids(spec.dag_id) if r.startswith(("scheduled__", "backfill__"))]
        from datetime import datetime, timedelta

        if runs:
            last = max(datetime.fromisoformat(r.split("__", 1)[1]) for r in runs)
            nxt = tt.next_intervals(after=last + timedelta(microseconds=1), n=1)
        elif spec.catchup:
            nxt = tt.next_intervals(n=1)
        else:
            latest = tt.latest_complete(now)
            nxt = [latest] if latest else tt.next_intervals(n=1)
        return (nxt[0].start, nxt[0].end) if nxt else None
    except Exception:  # noqa: BLE001 - a listing never fails on one DAG's schedule
        return None


def _short_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


@dags_app.command("errors")
def dags_errors(as_json: JsonOpt = False) -> None:
    """DAG files that failed to import, and why. Exit 1 when there are any."""
    from flowctl.render import console, print_json

    bag = _service().dagbag()
    if as_json:
        print_json([{"fileloc": e.fileloc, "error": e.error} for e in bag.errors])
    else:
        out = console()
        if not bag.errors:
            out.print("No import errors.")
        for e in bag.errors:
            out.print(f"[red]{_short_path(e.fileloc)}[/]: {e.error}")
    raise typer.Exit(1 if bag.errors else 0)


@dags_app.command("show")
def dags_show(dag_id: DagArg) -> None:
    """Draw a DAG's task graph in the terminal."""
    from flowctl.render import console, graph_tree

    console().print(graph_tree(_service().dag(dag_id)))


# -- tasks ---------------------------------------------------------------------


@tasks_app.command("list")
def tasks_list(dag_id: DagArg, as_json: JsonOpt = False) -> None:
    """The tasks of a DAG, upstream first."""
    from flowctl.render import console, print_json, table

    spec = _service().dag(dag_id)
    rows = [{"task_id": t.task_id, "operator": t.operator, "upstream": list(t.upstream),
             "downstream": list(t.downstream), "trigger_rule": t.trigger_rule, "retries": t.retries}
            for t in (spec.tasks[tid] for tid in spec.order)]
    if as_json:
        print_json(rows)
        return
    t = table("task", "operator", "upstream", "trigger rule", "retries")
    for r in rows:
        t.add_row(r["task_id"], r["operator"], ", ".join(r["upstream"]) or "-", r["trigger_rule"], str(r["retries"]))
    console().print(t)


def ti_rows(tis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"task_id": ti["task_id"], "state": ti.get("state") or "none", "try_number": ti.get("try_number") or 0,
             "start_date": ti.get("start_date"), "end_date": ti.get("end_date"), "duration": ti.get("duration")}
            for ti in tis]


def print_ti_table(tis: list[dict[str, Any]], tz: str, title: str | None = None) -> None:
    from flowctl.render import console, duration, local_time, state_text, table

    t = table("task", "state", "try", "start", "end", "duration", title=title)
    for ti in tis:
        t.add_row(ti["task_id"], state_text(ti.get("state")), str(ti.get("try_number") or 0),
                  local_time(ti.get("start_date"), tz), local_time(ti.get("end_date"), tz), duration(ti.get("duration")))
    console().print(t)


@tasks_app.command("states")
def tasks_states(dag_id: DagArg, run_id: RunArg, as_json: JsonOpt = False) -> None:
    """The task instances of one run, with states, tries and times."""
    from flowctl.render import print_json

    service = _service()
    tz = _dag_tz(service, dag_id)
    rid = service.resolve_run(dag_id, run_id, tz)
    tis = service.task_states(dag_id, rid)
    if as_json:
        print_json(ti_rows(tis))
        return
    print_ti_table(tis, service.settings.default_timezone, title=f"{dag_id}  {rid}")


def _dag_tz(service: Any, dag_id: str) -> str:
    """The DAG's zone for reading dates; a DAG gone from the folder keeps its runs."""
    spec = service.dagbag().dags.get(dag_id)
    if spec is not None:
        return spec.timezone
    if not service.store.run_ids(dag_id):
        service.dag(dag_id)  # raises NotFound naming it
    return service.settings.default_timezone


@tasks_app.command("test")
def tasks_test(
    dag_id: DagArg,
    task_id: Annotated[str, typer.Argument(help="The task id.", show_default=False)],
    logical_date: Annotated[str | None, typer.Option("--logical-date", "-d", help="Logical date for the templates (default: now).", show_default=False)] = None,
) -> None:
    """Run one task in this process and print its log. Writes no state; upstream
    values (XCom) come from an existing run with that logical date, if there is one."""
    from flowctl.runs import test_task

    service = _service()
    spec = service.dag(dag_id)
    if task_id not in spec.tasks:
        from flowctl.errors import NotFound

        raise NotFound(f"DAG {dag_id} has no task {task_id!r} (tasks: {', '.join(spec.order)})")
    when = service.parse_date(logical_date, spec.timezone) if logical_date else None
    raise typer.Exit(0 if test_task(service, spec, task_id, when) else 1)


# -- runs, logs, xcom -------------------------------------------------------------


@runs_app.command("list")
def runs_list(
    dag_id: Annotated[str | None, typer.Option("--dag", help="Only this DAG's runs.", show_default=False)] = None,
    state: Annotated[str | None, typer.Option("--state", help="Only runs in this state (queued, running, success, failed).", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """DAG runs, newest first."""
    from flowctl.render import RUN_FIELDS, console, local_time, print_json, state_text, table

    if state is not None and state not in ("queued", "running", "success", "failed"):
        raise typer.BadParameter(f"{state!r} is not a run state (queued, running, success, failed)", param_hint="--state")
    service = _service()
    if dag_id is not None:
        _dag_tz(service, dag_id)
    runs = service.list_runs(dag_id, state)
    for warning in service.warnings:
        _err(f"skipped a damaged run: {warning}")
    if as_json:
        print_json([{k: r.get(k) for k in RUN_FIELDS} for r in runs])
        return
    from flowctl.render import duration

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
    from flowctl.runs import print_log

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

    from flowctl.render import console, print_json, table

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


# -- scheduling ------------------------------------------------------------------


@scheduler_app.callback(invoke_without_command=True)
def scheduler(
    ctx: typer.Context,
    daemon: Annotated[bool, typer.Option("--daemon", help="Detach; log to scheduler.log in the home folder.")] = False,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Create what is due, carry out all pending work, exit (1 if a run cannot go on).")] = False,
    grace: Annotated[float, typer.Option("--grace", help="Seconds running tasks get to finish on stop.")] = 30.0,
) -> None:
    """Run the scheduler (foreground unless --daemon). Ctrl-C or SIGTERM stops it
    gracefully: nothing new starts, running tasks get --grace seconds."""
    if ctx.invoked_subcommand is not None:
        return
    from flowctl import daemon as d
    from flowctl.schedule import serve

    service = _service()
    home = service.settings.home
    if daemon and until_idle:
        raise typer.BadParameter("--daemon and --until-idle do not go together", param_hint="--daemon")
    if daemon:
        if d.is_running(home):
            d.acquire(home)  # raises, naming the running scheduler
        pid = d.daemonize(home)
        if pid is not None:
            print(f"scheduler started (pid {pid}); log: {d.log_path(home)}")
            raise typer.Exit(0)
    try:
        lock = d.acquire(home)
    except Exception as exc:
        d.report_ready(str(exc))
        raise
    d.report_ready()
    notify = _notifier(service.settings)
    try:
        code = serve(service, until_idle=until_idle, log=_logger(), grace=grace, notify=notify)
    finally:
        lock.release()
    raise typer.Exit(code)


def _logger() -> Any:
    import time as _time

    def log(message: str) -> None:
        stamp = _time.strftime("%Y-%m-%d %H:%M:%S")
        for line in message.splitlines():
            sys.stdout.write(f"[{stamp}] {line}\n")
        sys.stdout.flush()

    return log


def _notifier(settings: Any) -> Any:
    def send(event: dict[str, Any]) -> None:
        from flowctl.notify import send_detached

        send_detached(settings.notify, event)

    return send


@scheduler_app.command("status")
def scheduler_status(as_json: JsonOpt = False) -> None:
    """Is a scheduler running for this home? Its pid, start and last heartbeat."""
    from flowctl.daemon import status
    from flowctl.render import local_time, print_json

    settings = _settings()
    doc = status(settings.home)
    if as_json:
        print_json({k: doc[k] for k in ("running", "pid", "started_at", "heartbeat")})
        return
    tz = settings.default_timezone
    if doc["running"]:
        print(f"running: pid {doc['pid']}, started {local_time(doc['started_at'], tz)}, "
              f"heartbeat {local_time(doc['heartbeat'], tz)}; log: {doc['log']}")
    else:
        last = f" (last heartbeat {local_time(doc['heartbeat'], tz)})" if doc.get("heartbeat") else ""
        print(f"not running{last}; start it with `flowctl scheduler --daemon`")


@scheduler_app.command("stop")
def scheduler_stop(
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for it to exit.")] = 60.0,
) -> None:
    """Stop the running scheduler gracefully (SIGTERM) and wait for it to exit."""
    from flowctl.daemon import stop

    pid = stop(_settings().home, timeout)
    print("no scheduler is running" if pid is None else f"scheduler (pid {pid}) stopped")


@scheduler_app.command("install")
def scheduler_install(
    print_only: Annotated[bool, typer.Option("--print", help="Show the service file; change nothing.")] = False,
) -> None:
    """Start the scheduler at login and restart it if it dies: a systemd user unit
    on Linux, a launchd agent on macOS."""
    from flowctl.daemon import install, service_file

    settings = _settings()
    if print_only:
        path, text = service_file(settings)
        print(f"# {path}")
        print(text, end="")
        return
    path, commands = install(settings)
    print(f"wrote {path}")
    print("start it now and at every login with:")
    for c in commands:
        print(f"  {c}")


@scheduler_app.command("uninstall")
def scheduler_uninstall() -> None:
    """Remove the login service written by `scheduler install`."""
    from flowctl.daemon import uninstall

    path, hints = uninstall(_settings())
    if path is None:
        print("no login service is installed")
        return
    print(f"removed {path}")
    for h in hints:
        print(f"  also run: {h}")


@app.command()
def trigger(
    dag_id: DagArg,
    logical_date: Annotated[str | None, typer.Option("--logical-date", "-d", help="The run's logical date (default: now).", show_default=False)] = None,
    conf: Annotated[str | None, typer.Option("--conf", "-c", help="JSON object for the run's conf.", show_default=False)] = None,
) -> None:
    """Queue a manual run for the scheduler; prints its run id."""
    from flowctl.daemon import is_running

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
def pause(dag_id: DagArg) -> None:
    """Stop creating scheduled runs for a DAG (manual runs and backfills still work)."""
    _service().set_paused(dag_id, True)
    print(f"{dag_id} paused")


@app.command()
def unpause(dag_id: DagArg) -> None:
    """Resume scheduled runs for a DAG."""
    _service().set_paused(dag_id, False)
    print(f"{dag_id} unpaused")


@dags_app.command("next")
def dags_next(
    dag_id: DagArg,
    after: Annotated[str | None, typer.Option("--after", help="First interval starting at or after this date (default: start_date).", show_default=False)] = None,
    n: Annotated[int, typer.Option("-n", help="How many intervals.", min=1)] = 5,
    as_json: JsonOpt = False,
) -> None:
    """The next data intervals of a DAG's schedule."""
    from flowctl.clock import iso
    from flowctl.render import console, print_json, table

    service = _service()
    spec = service.dag(dag_id)
    when = service.parse_date(after, spec.timezone) if after else None
    rows = [{"logical_date": iso(i.start), "data_interval_start": iso(i.start), "data_interval_end": iso(i.end)}
            for i in service.next_intervals(dag_id, when, n)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print(f"{dag_id} has no more scheduled intervals ({spec.schedule_display or 'manual only'}).")
        return
    t = table("logical date = data interval start", "data interval end",
              title=f"{dag_id}  {spec.schedule_display}  (times in {spec.timezone})")
    for i in service.next_intervals(dag_id, when, n):
        t.add_row(i.start.strftime("%Y-%m-%d %H:%M %z"), i.end.strftime("%Y-%m-%d %H:%M %z"))
    console().print(t)


@app.command()
def explain(
    dag_id: DagArg,
    run_id: RunArg,
    task_id: Annotated[str | None, typer.Argument(help="Only this task.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Why each task instance of a run is in its state, or is not running yet."""
    from flowctl.render import console, print_json, state_text, table

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


# -- backfill, clear, mark ----------------------------------------------------------


@app.command()
def backfill(
    dag_id: DagArg,
    start: Annotated[str, typer.Option("--start", "-s", help="First logical date (in the DAG's zone unless it has an offset).", show_default=False)],
    end: Annotated[str, typer.Option("--end", "-e", help="Last logical date, included.", show_default=False)],
    reprocess: Annotated[str, typer.Option("--reprocess", help="none: leave intervals that have a run; failed: re-run failed runs; completed: re-run all.")] = "none",
    max_active_runs: Annotated[int | None, typer.Option("--max-active-runs", min=1, help="Runs at once (default: the DAG's max_active_runs).", show_default=False)] = None,
    run_backwards: Annotated[bool, typer.Option("--run-backwards", help="Newest interval first.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen to each interval; change nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a DAG over past data intervals, in the foreground with a progress bar.
    Exit 0 if every run it carried out succeeded. Ctrl-C stops (exit 1); run it again to resume."""
    from flowctl.backfill import carry_out, plan_backfill
    from flowctl.render import console, local_time, print_json, state_text, table

    service = _service()
    spec = service.dag(dag_id)
    first = service.parse_date(start, spec.timezone)
    last = service.parse_date(end, spec.timezone)
    plan = plan_backfill(service, spec, first, last, reprocess, run_backwards)
    if dry_run:
        if as_json:
            print_json({"dag_id": dag_id, "dry_run": True, "intervals": [p.to_doc() for p in plan]})
            return
        t = table("logical date", "action", "run", "why", title=f"backfill plan for {dag_id} (dry run: nothing changes)")
        for p in plan:
            colour = {"create": "green", "reprocess": "yellow", "resume": "cyan"}.get(p.action, "dim")
            t.add_row(local_time(iso_of(p.logical_date), spec.timezone, with_seconds=False), f"[{colour}]{p.action}[/]", p.run_id, p.why)
        console().print(t)
        console().print(f"{sum(p.action != 'skip' for p in plan)} of {len(plan)} interval(s) would run.")
        return
    if not plan:
        bounds = f"; the DAG's intervals start at {spec.start_date}" + (f" and end by {spec.end_date}" if spec.end_date else "")
        _err(f"no data interval of {dag_id} has a logical date between {first.isoformat()} and {last.isoformat()}{bounds}")
        raise typer.Exit(0)
    results = carry_out(service, spec, plan, max_active_runs or spec.max_active_runs, quiet=as_json)
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
            out.print(f"[yellow]Interrupted[/]: {len(not_run) + len(unfinished)} of {len(results)} interval(s) "
                      f"not finished; run the same command again to resume.")
        broken = [r for r in failed if r not in not_run and r not in unfinished]
        if broken:
            out.print(f"[red]{len(broken)} of {len(results)} run(s) did not succeed[/]:")
            for r in broken:
                out.print(f"  {r}: {state_text(results[r])}  (see `flowctl tasks states {dag_id} '{r}'`)")
        elif not results:
            out.print("Nothing to do: every interval already has a run.")
        elif not failed:
            out.print(f"[green]{len(results)} run(s) succeeded[/].")
        if skipped:
            out.print(f"{len(skipped)} interval(s) skipped because a run exists; --reprocess failed|completed re-runs them.")
    raise typer.Exit(1 if failed else 0)


def iso_of(dt: Any) -> str:
    from flowctl.clock import iso

    return iso(dt) or ""


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
    from flowctl.render import console, print_json, state_text, table

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
    from flowctl.clearing import version_changes

    spec = service.dagbag().dags.get(dag_id)
    notes = []
    for run_id in sorted({p["run_id"] for p in plan}):
        data = service.store.read_run(dag_id, run_id)
        added, removed = version_changes(spec, data.dag_version if data else {})
        if added or removed:
            parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
            notes.append(f"{run_id} ran under an older version of the DAG ({'; '.join(parts)}); it re-runs with the current one")
    return notes


def _hint_scheduler(service: Any) -> None:
    from flowctl.daemon import is_running

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
    changed = service.mark(dag_id, run_id, task_id, state, downstream)
    print(f"marked {len(changed)} task instance(s): {', '.join(changed) or 'already in that state'}")


# -- doctor, tui ---------------------------------------------------------------------


@app.command()
def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Do the safe repairs: rebuild the index of active runs, remove leftover temp files.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check the state home: files parse and have this version's schema, no task is
    marked running with nobody running it, permissions. Exit 1 when anything is wrong."""
    from flowctl.doctor import check, home_mode_findings
    from flowctl.render import console, print_json

    settings = _settings()
    findings, done = check(settings.home, fix=fix)
    findings = home_mode_findings(settings.home) + findings
    if as_json:
        print_json({"home": str(settings.home), "ok": not findings, "problems": [f.to_doc() for f in findings], "repaired": done})
    else:
        out = console()
        for d in done:
            out.print(f"[green]fixed[/]: {d}")
        for f in findings:
            out.print(f"[red]problem[/]: {f.problem}\n  [bold]do[/]: {f.fix}")
        if not findings:
            out.print(f"{settings.home}: all good.")
    raise typer.Exit(1 if findings else 0)


@app.command()
def tui() -> None:
    """The live terminal interface: DAGs, runs, task states, logs; trigger, clear,
    mark, pause and backfill from the keyboard. Press ? inside for the keys."""
    from flowctl.tui.app import run_tui

    raise typer.Exit(run_tui(_service()))


# -- entry point -------------------------------------------------------------------


def main() -> None:
    """Run the CLI: our errors are one line on stderr, never a traceback unless --debug.

    Usage errors (unknown option, bad value) are Typer's: a short message and exit 2.
    """
    from flowctl.errors import FlowctlError

    debug = "--debug" in sys.argv
    try:
        app()
    except FlowctlError as exc:
        if debug:
            raise
        _err(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001
        if debug:
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    main()
