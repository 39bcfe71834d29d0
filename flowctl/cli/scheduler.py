"""The scheduler commands: run it, daemonize, status, stop, login service."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flowctl.cli.app import (
    DaskAddressOpt,
    ExecutorOpt,
    JsonOpt,
    _service,
    _settings,
    scheduler_app,
    use_executor,
)
from flowctl.errors import UsageError


@scheduler_app.callback(invoke_without_command=True)
def scheduler(
    ctx: typer.Context,
    daemon: Annotated[bool, typer.Option("--daemon", "-D", help="Detach; log to scheduler.log in the home folder.")] = False,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Create what is due, carry out all pending work, exit (1 if a run it carried out failed or cannot go on).")] = False,
    grace: Annotated[float, typer.Option("--grace", metavar="SECONDS", min=0, max=86_400, help="Seconds running tasks get to finish on stop.")] = 30.0,
    executor: ExecutorOpt = None,
    dask_address: DaskAddressOpt = None,
) -> None:
    """The scheduler: creates runs when their data interval has passed and carries them out.

    It runs in the foreground unless --daemon. Ctrl-C or SIGTERM stops it
    gracefully: nothing new starts, running tasks get --grace seconds.

    Example: `flowctl scheduler --daemon`, then `flowctl scheduler status`
    """
    use_executor(executor, dask_address)
    if grace != grace:  # NaN passes the range check
        raise UsageError("--grace must be a number of seconds, not nan")
    if ctx.invoked_subcommand is not None:
        return
    from flowctl.engine import daemon as d

    if daemon and until_idle:
        raise typer.BadParameter("--daemon and --until-idle do not go together", param_hint="--daemon")
    service = _service(dags=True)
    home = service.settings.home
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
    try:
        code = service.serve_scheduler(until_idle=until_idle, log=_logger(service.settings.default_timezone),
                                       grace=grace)
    finally:
        lock.release()
    raise typer.Exit(code)


def _logger(tz: str) -> Any:
    """One stamped line per event, through the writer a closed pipe cannot stop
    (`flowctl scheduler --until-idle | head` still carries every run out)."""
    import time as _time

    from flowctl.cli.render import human_times, write

    def log(message: str) -> None:
        stamp = _time.strftime("%Y-%m-%d %H:%M:%S")
        write("".join(f"[{stamp}] {line}\n" for line in human_times(message, tz).splitlines()))

    return log


@scheduler_app.command("status")
def scheduler_status(as_json: JsonOpt = False) -> None:
    """Is a scheduler running for this home? Its pid, start and last heartbeat.
    Exit 0 when one runs, 3 when none does (as `systemctl status`).

    Example: `flowctl scheduler status || flowctl scheduler --daemon`
    """
    from flowctl.cli.render import local_time, print_json, write
    from flowctl.engine.daemon import status

    settings = _settings()
    doc = status(settings.home)
    if as_json:
        print_json({k: doc[k] for k in ("running", "pid", "started_at", "heartbeat")})
    else:
        tz = settings.default_timezone
        if doc["running"]:
            write(f"running: pid {doc['pid']}, started {local_time(doc['started_at'], tz)}, "
                  f"heartbeat {local_time(doc['heartbeat'], tz)}; log: {doc['log']}\n")
        else:
            last = f" (last heartbeat {local_time(doc['heartbeat'], tz)})" if doc.get("heartbeat") else ""
            write(f"not running{last}; start it with `flowctl scheduler --daemon`\n")
    raise typer.Exit(0 if doc["running"] else 3)


@scheduler_app.command("stop")
def scheduler_stop(
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS", help="Seconds to wait for it to exit.")] = 60.0,
) -> None:
    """Stop the running scheduler gracefully (SIGTERM) and wait for it to exit.

    Example: `flowctl scheduler stop --timeout 30`
    """
    from flowctl.engine.daemon import stop

    pid = stop(_settings().home, timeout)
    print("no scheduler is running" if pid is None else f"scheduler (pid {pid}) stopped")


@scheduler_app.command("install")
def scheduler_install(
    print_only: Annotated[bool, typer.Option("--print", help="Show the service file; change nothing.")] = False,
) -> None:
    """Start the scheduler at login and restart it if it dies: a systemd user unit
    on Linux, a launchd agent on macOS.

    Example: `flowctl scheduler install --print`
    """
    from flowctl.engine.daemon import install, service_file

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
    """Remove the login service written by `scheduler install`.

    Example: `flowctl scheduler uninstall`
    """
    from flowctl.engine.daemon import uninstall

    path, hints = uninstall(_settings())
    if path is None:
        print("no login service is installed")
        return
    print(f"removed {path}")
    for h in hints:
        print(f"  also run: {h}")
