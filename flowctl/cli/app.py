"""The Typer application, its global options, and what every command shares:
settings, the service, one-line errors, the help's shape."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from flowctl import __version__
from flowctl.cli import complete

#: Click's usage error (Typer vendors Click in some versions): the parent of BadParameter.
UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

# -- the help's shape ----------------------------------------------------------------------------


def _usage_pieces(command: Any, ctx: Any) -> list[str]:
    """`flowctl logs [OPTIONS] DAG_ID RUN TASK_ID`: arguments by their metavar."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = param.metavar or (param.name or "").upper()
            pieces.append(name if param.required else f"[{name}]")
    return pieces


class _PlainValue:
    """Reads a str, int, float or bool option the way Click always did.

    Recent Typer checks every value with a pydantic TypeAdapter, and importing
    pydantic costs more than the rest of a command's start-up (a Tab press of
    shell completion included); flowctl's options are all plain scalars, so
    they are read here, with messages in flowctl's words."""

    WORDS = {int: "a whole number", float: "a number"}

    def __init__(self, kind: type) -> None:
        self.kind = kind

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None or isinstance(value, self.kind):
            result = value
        elif self.kind is bool:
            text = str(value).strip().lower()
            if text not in ("1", "0", "true", "false", "yes", "no", "on", "off", "y", "n"):
                raise typer.BadParameter(f"{value!r} is not true or false", ctx=ctx, param=param)
            result = text in ("1", "true", "yes", "on", "y")
        else:
            try:
                result = self.kind(value)
            except (TypeError, ValueError):
                word = self.WORDS.get(self.kind, self.kind.__name__)
                raise typer.BadParameter(f"{value!r} is not {word}", ctx=ctx, param=param) from None
        low, high = getattr(param, "min", None), getattr(param, "max", None)
        if result is not None and low is not None and result < low:
            raise typer.BadParameter(f"{value} is below {low}; it must be at least {low}", ctx=ctx, param=param)
        if result is not None and high is not None and result > high:
            raise typer.BadParameter(f"{value} is above {high}; it must be at most {high}", ctx=ctx, param=param)
        return result


def _plain_values(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    kind = getattr(descriptor, "annotation", None)
    if kind in (str, int, float, bool) and hasattr(param, "_runtime_param") \
            and param.nargs == 1 and not getattr(param, "multiple", False):
        param._runtime_param = _PlainValue(kind)


def _taught(params: list[Any]) -> list[Any]:
    """Parameters as flowctl shows and reads them. Help reads as the README
    does: `DAG_ID` rather than `{dag_id}`, no `<bool>`/`<str>` type
    placeholders (an option's metavar says what it takes: DATE, JSON, N; a
    flag takes nothing). Values are read by `_PlainValue`."""
    for param in params:
        if getattr(param, "_taught", False):
            continue
        if isinstance(param, TyperArgument):
            param.metavar = param.metavar or (param.name or "").upper()
            param.display_type_rich = lambda ctx: None  # the name says it
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = (param.name or "value").upper()
        _plain_values(param)
        param._taught = True
    return params


def _format_help(command: Any, ctx: Any, formatter: Any) -> None:
    from flowctl.cli.helptext import print_help

    print_help(command, ctx)


class Command(TyperCommand):
    """A command with help of flowctl's shape (see `_taught`)."""

    format_help = _format_help

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def get_params(self, ctx: Any) -> list[Any]:
        return _taught(super().get_params(ctx))


class Group(TyperGroup):
    """A command group with help of flowctl's shape, that answers Airflow's
    spellings it does not have with the flowctl command that does the job."""

    format_help = _format_help

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*_usage_pieces(self, ctx), "COMMAND [ARGS]..."]

    def get_params(self, ctx: Any) -> list[Any]:
        return _taught(super().get_params(ctx))

    def list_commands(self, ctx: Any) -> list[str]:
        """The overview in the order of a day's work; commands not named here follow."""
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: rank.get(n, len(rank)))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError:
            hint = airflow_hint(ctx.command_path, args)
            if hint is not None:
                raise UsageError(hint, ctx) from None
            raise


def teach(command: Any) -> Any:
    """Give every command and group of the tree (also ones other modules
    registered with plain Typer apps) the help's shape and the Airflow hints."""
    if type(command) is TyperGroup:
        command.__class__ = Group
    elif type(command) is TyperCommand:
        command.__class__ = Command
    for sub in getattr(command, "commands", {}).values():
        teach(sub)
    return command


#: The order of `flowctl --help` (and of each group's help).
COMMAND_ORDER = ("dags", "list", "errors", "show", "next", "run", "trigger", "runs", "tasks", "states", "logs",
                 "explain", "xcom", "assets", "backfill", "clear", "mark", "pause", "unpause", "scheduler", "status", "stop",
                 "tui", "doctor")

def group(help: str, **kwargs: Any) -> typer.Typer:
    """A command group of flowctl's shape."""
    return typer.Typer(cls=Group, help=help, no_args_is_help=True, rich_markup_mode=None, **kwargs)


# -- Airflow's spellings -------------------------------------------------------------------------

#: Airflow commands flowctl does not have: (what to type instead, why), by their first words.
AIRFLOW_FORMS: dict[tuple[str, ...], tuple[str, str]] = {
    ("db",): ("flowctl doctor", "flowctl needs no database: its state is files in the home, made on first use"),
    ("webserver",): ("flowctl tui", "flowctl has no web server; `flowctl tui --serve` shows the TUI in a browser"),
    ("api-server",): ("flowctl tui", "flowctl has no web server; `flowctl tui --serve` shows the TUI in a browser"),
    ("standalone",): ("flowctl scheduler --daemon", "then `flowctl tui` to watch it work"),
    ("triggerer",): ("flowctl scheduler", "flowctl's scheduler does a triggerer's work too"),
    ("dag-processor",): ("flowctl scheduler", "flowctl's scheduler reads the DAG files itself"),
    ("celery",): ("flowctl --executor dask scheduler", "flowctl runs tasks locally or on a Dask cluster"),
    ("kerberos",): ("flowctl doctor", "flowctl has no Kerberos support"),
    ("users",): ("flowctl tui", "flowctl has no users: it runs as you, on your machine"),
    ("roles",): ("flowctl tui", "flowctl has no users or roles: it runs as you, on your machine"),
    ("jobs",): ("flowctl scheduler status", "flowctl's only job is the scheduler"),
    ("info",): ("flowctl doctor", "the version is `flowctl --version`"),
    ("version",): ("flowctl --version", "a flag in flowctl"),
    ("config",): ("flowctl --help", "settings are options, FLOWCTL_* variables and flowctl.toml"),
    ("cheat-sheet",): ("flowctl --help", "every command, with an example in its own --help"),
    ("dags", "list-jobs"): ("flowctl scheduler status", "a DAG's runs are in `flowctl runs list --dag DAG_ID`"),
    ("dags", "state"): ("flowctl runs list --dag DAG_ID", "a run's tasks are in `flowctl tasks states DAG_ID DATE`"),
    ("dags", "report"): ("flowctl dags list", "files that fail to import are in `flowctl dags errors`"),
    ("dags", "details"): ("flowctl dags show DAG_ID", "the task table is `flowctl tasks list DAG_ID`"),
    ("dags", "reserialize"): ("flowctl dags list", "flowctl reads changed DAG files again by itself"),
    ("dags", "delete"): ("flowctl runs list --dag DAG_ID", "flowctl keeps a DAG's runs under <home>/state/runs/DAG_ID; "
                         "remove the DAG file to retire it"),
    ("tasks", "failed-deps"): ("flowctl explain DAG_ID RUN TASK_ID", "it says why a task is not running"),
    ("tasks", "render"): ("flowctl tasks test DAG_ID TASK_ID", "it renders and runs the task, writing no state"),
    ("tasks", "list-mapped"): ("flowctl tasks states DAG_ID RUN", "every task instance of the run"),
    ("dags", "show-dependencies"): ("flowctl assets list", "what links DAGs: assets, and each DAG's triggers and "
                                    "sensors in `flowctl dags show DAG_ID`"),
}

#: Airflow options flowctl does not have: (what to type instead, or None, and why), by (command, option);
#: a command of None is any command.
AIRFLOW_OPTIONS: dict[tuple[str | None, str], tuple[str | None, str]] = {
    (None, "-o"): ("--json", "flowctl prints a table, or one JSON document with --json"),
    (None, "--output"): ("--json", "flowctl prints a table, or one JSON document with --json"),
    ("trigger", "-r"): ("--logical-date DATE", "a run's id is made from its logical date: manual__<date>"),
    ("trigger", "--run-id"): ("--logical-date DATE", "a run's id is made from its logical date: manual__<date>"),
    ("backfill", "--reset-dagruns"): ("--reprocess completed", "it runs the intervals that have a run again"),
    ("backfill", "--reset_dagruns"): ("--reprocess completed", "it runs the intervals that have a run again"),
    ("backfill", "-m"): ("flowctl tasks mark DAG_ID RUN TASK_ID --state success", "a backfill runs its tasks"),
    ("backfill", "--mark-success"): ("flowctl tasks mark DAG_ID RUN TASK_ID --state success", "a backfill runs its tasks"),
    ("clear", "-x"): (None, "flowctl has no SubDAGs: leave the option out"),
    ("clear", "--exclude-subdags"): (None, "flowctl has no SubDAGs: leave the option out"),
    ("clear", "-X"): (None, "flowctl has no SubDAGs: leave the option out"),
    ("clear", "--exclude-parentdag"): (None, "flowctl has no SubDAGs: leave the option out"),
    ("list", "-t"): ("flowctl dags show DAG_ID", "it draws the tasks as a tree"),
    ("list", "--tree"): ("flowctl dags show DAG_ID", "it draws the tasks as a tree"),
    ("pause", "-y"): (None, "pausing asks nothing, so it takes no --yes"),
    ("pause", "--yes"): (None, "pausing asks nothing, so it takes no --yes"),
    ("unpause", "-y"): (None, "unpausing asks nothing, so it takes no --yes"),
    ("unpause", "--yes"): (None, "unpausing asks nothing, so it takes no --yes"),
    ("show", "-s"): ("flowctl dags show DAG_ID", "flowctl draws the DAG in the terminal; it writes no image"),
    ("show", "--save"): ("flowctl dags show DAG_ID", "flowctl draws the DAG in the terminal; it writes no image"),
    ("show", "--imgcat"): ("flowctl dags show DAG_ID", "flowctl draws the DAG in the terminal; it writes no image"),
}


def airflow_option_hint(command_path: str, option: str) -> str | None:
    """'did you mean' for an Airflow option the command does not have, or None."""
    name = option.split("=", 1)[0]
    command = command_path.split()[-1] if command_path else None
    found = AIRFLOW_OPTIONS.get((command, name)) or AIRFLOW_OPTIONS.get((None, name))
    if found is None:
        return None
    instead, why = found
    if instead is None:
        return f"{name} is an Airflow option `{command_path}` does not have: {why}"
    return f"{name} is an Airflow option `{command_path}` does not have; did you mean `{instead}`? ({why})"


def airflow_hint(command_path: str, args: list[str]) -> str | None:
    """'did you mean' for an Airflow command flowctl does not have, or None."""
    if not args:
        return None
    given = command_path.split()[1:]
    words = given + [a for a in args[:2] if not a.startswith("-")][:1 if given else 2]
    for n in (2, 1):
        found = AIRFLOW_FORMS.get(tuple(words[:n]))
        if found is not None:
            instead, why = found
            return f"`{' '.join(words)}` is an Airflow command flowctl does not have; did you mean `{instead}`? ({why})"
    return None


# -- the application -----------------------------------------------------------------------------

app = typer.Typer(
    name="flowctl",
    cls=Group,
    help=(
        "Airflow-style workflows on your laptop: DAGs in Python files, a scheduler "
        "that replaces cron, a terminal UI. No database or web server.\n\n"
        "Start with `flowctl dags list`, then `flowctl run DAG_ID`. Airflow's command "
        "names work too (`flowctl dags trigger`, `flowctl tasks clear`, ...).\n\n"
        "Shell completion of DAG, run and task ids: `flowctl --install-completion`."
    ),
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
dags_app = group("List, check and draw DAGs.")
tasks_app = group("Tasks of a DAG and their instances in a run.")
runs_app = group("DAG runs.")
xcom_app = group("Values tasks passed to each other (XCom).")
app.add_typer(dags_app, name="dags")
app.add_typer(tasks_app, name="tasks")
app.add_typer(runs_app, name="runs")
scheduler_app = typer.Typer(  # its help is the docstring of `flowctl.cli.scheduler.scheduler`
    cls=Group,
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(xcom_app, name="xcom")
app.add_typer(scheduler_app, name="scheduler")

AIRFLOW_PANEL = "Airflow's names for the commands above"

_options: dict[str, Any] = {}
_last_settings: list[Any] = []

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
DagArg = Annotated[str, typer.Argument(metavar="DAG_ID", help="The DAG id (see `flowctl dags list`).",
                                       show_default=False, autocompletion=complete.dag_ids)]
RunArg = Annotated[str, typer.Argument(
    metavar="RUN", help="A run id, or the run's logical date as `runs list` shows it (in the DAG's zone).",
    show_default=False, autocompletion=complete.run_ids)]
TaskArg = Annotated[str, typer.Argument(metavar="TASK_ID", help="The task id (see `flowctl tasks list DAG_ID`).",
                                        show_default=False, autocompletion=complete.task_ids)]
MapIndexOpt = Annotated[int, typer.Option(
    "--map-index", metavar="N", min=-1, help="One instance of a mapped task, from 0 (see `flowctl tasks states`).",
    show_default=False)]
ExecutorOpt = Annotated[str | None, typer.Option(
    "--executor", metavar="local|dask", help="Where tasks run (same as the global option) [env FLOWCTL_EXECUTOR]",
    show_default=False)]
DaskAddressOpt = Annotated[str | None, typer.Option(
    "--dask-address", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://127.0.0.1:8786 (same as the global "
    "option) [env FLOWCTL_DASK_ADDRESS]", show_default=False)]


def _version(value: bool) -> None:
    if value:
        print(f"flowctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    dags_folder: Annotated[str | None, typer.Option("--dags-folder", metavar="PATH", help="Folder of DAG files [env FLOWCTL_DAGS_FOLDER; default ./dags]", show_default=False)] = None,
    home: Annotated[str | None, typer.Option("--home", metavar="PATH", help="State, logs and pid file [env FLOWCTL_HOME; default ./.flowctl]", show_default=False)] = None,
    workers: Annotated[int | None, typer.Option("--workers", metavar="N", help="Parallel task slots [env FLOWCTL_WORKERS; default: CPUs]", show_default=False)] = None,
    executor: Annotated[str | None, typer.Option("--executor", metavar="local|dask", help="local (a process pool) or dask [env FLOWCTL_EXECUTOR]", show_default=False)] = None,
    dask_address: Annotated[str | None, typer.Option("--dask-address", metavar="ADDRESS", help="Dask scheduler address, for a dask executor [env FLOWCTL_DASK_ADDRESS]", show_default=False)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Settings come from options, then FLOWCTL_* variables, then flowctl.toml
    (here or in a parent folder), then defaults."""
    _options.update(dags_folder=dags_folder, home=home, workers=workers, executor=executor,
                    dask_address=dask_address, debug=debug)


def use_executor(executor: str | None, dask_address: str | None) -> None:
    """`--executor` / `--dask-address` given after a command feed the same settings."""
    if executor is not None:
        _options["executor"] = executor
    if dask_address is not None:
        _options["dask_address"] = dask_address


def _settings() -> Any:
    from flowctl.config import load_settings

    keys = ("dags_folder", "home", "workers", "executor", "dask_address")
    settings = load_settings(**{k: _options.get(k) for k in keys})
    _last_settings[:] = [settings]
    return settings


def _service(dags: bool = False) -> Any:
    """The service; with `dags`, for a command that needs the DAG folder to exist."""
    from flowctl.service import Service

    settings = _settings()
    need_home_folder(settings)
    if dags:
        need_dags_folder(settings)
    return Service.from_settings(settings)


def need_home_folder(settings: Any) -> None:
    """A home that is a file is refused before anything starts (a daemon, say),
    with the same one line as any other unusable home (see `os_error_line`)."""
    import errno

    home = settings.home
    if (home.exists() and not home.is_dir()) or any(p.is_file() for p in home.parents):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(home))


def need_dags_folder(settings: Any) -> None:
    from flowctl.errors import NotFound

    folder = settings.dags_folder
    if folder.is_dir():
        return
    what = "is not a folder" if folder.exists() else "does not exist"
    where = (f"dags_folder in {settings.config_file}" if settings.config_file and _options.get("dags_folder") is None
             and not os.environ.get("FLOWCTL_DAGS_FOLDER") else "--dags-folder or FLOWCTL_DAGS_FOLDER")
    raise NotFound(f"the DAG folder {folder} {what}: create it, or point {where} at your DAG files")


def _err(message: str) -> None:
    from flowctl.cli.render import write

    write(f"flowctl: {message}\n", err=True)


def read_date(service: Any, text: str | None, tz: str) -> Any:
    """A date from the command line, read in the DAG's zone (None when the
    option was not given; an empty one is refused, not taken as now); a
    wall-clock time the zone skips or has twice is used as Airflow would, and
    said on stderr."""
    if text is None:
        return None
    value = service.parse_date(text, tz)
    note = service.date_note(text, value, tz)
    if note:
        _err(f"note: {note}")
    return value


def _dag_tz(service: Any, dag_id: str) -> str:
    """The DAG's zone for reading dates; a DAG gone from the folder (or whose
    file fails to import) keeps its runs and the zone they recorded."""
    return str(service.dag_tz(dag_id))


def _short_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def alias(target_app: typer.Typer, name: str, function: Any, of: str, **kwargs: Any) -> None:
    """Register `function` once more under Airflow's `name`, listed in its own panel."""
    doc = (function.__doc__ or "").strip()
    target_app.command(name, help=f"Airflow's name for `flowctl {of}`.\n\n{doc}",
                       rich_help_panel=AIRFLOW_PANEL, **kwargs)(function)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
