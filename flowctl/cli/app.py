"""The Typer application, its global options, and what every command shares:
settings, the service, one-line errors."""

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




def _dag_tz(service: Any, dag_id: str) -> str:
    """The DAG's zone for reading dates; a DAG gone from the folder keeps its runs."""
    spec = service.dagbag().dags.get(dag_id)
    if spec is not None:
        return spec.timezone
    if not service.store.run_ids(dag_id):
        service.dag(dag_id)  # raises NotFound naming it
    return service.settings.default_timezone



def _short_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path

