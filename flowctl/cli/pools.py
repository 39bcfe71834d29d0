"""`flowctl pools`: Airflow's pools, as Airflow's CLI spells them. A pool caps
how many slots its tasks hold at once across every process that carries runs
out (the daemon, a foreground `run`, a `backfill`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from flowctl.cli.app import Command, Group, JsonOpt, _service, app

pools_app = typer.Typer(cls=Group, help="Pools: slots shared by the tasks that name them, across every process.",
                        no_args_is_help=True, rich_markup_mode=None)
app.add_typer(pools_app, name="pools")

PoolArg = Annotated[str, typer.Argument(metavar="NAME", help="The pool's name (what tasks give as pool=).",
                                        show_default=False)]


def _holders(row: dict[str, Any]) -> str:
    names = [h["label"] for h in row["holders"]]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _print_rows(rows: list[dict[str, Any]]) -> None:
    from flowctl.cli.render import console, table

    t = table("pool", "slots", "occupied", "open", "description", "taken by")
    for r in rows:
        t.add_row(r["pool"], "no limit" if r["slots"] < 0 else str(r["slots"]), str(r["occupied"]),
                  "" if r["open"] is None else str(r["open"]), r["description"] or "", _holders(r))
    console().print(t)


class _TakesNegativeNumbers(Command):
    """A command whose arguments may be negative numbers (`pools set NAME -1`):
    Click reads every word that starts with `-` as an option, so a whole
    number is handed to the arguments instead."""

    NUMBER = re.compile(r"-\d+")

    def make_parser(self, ctx: Any) -> Any:
        parser = super().make_parser(ctx)
        process_option = parser._process_opts

        def option_or_number(arg: str, state: Any) -> None:
            if self.NUMBER.fullmatch(arg):
                state.largs.append(arg)
            else:
                process_option(arg, state)

        parser._process_opts = option_or_number
        return parser


@pools_app.command("set", cls=_TakesNegativeNumbers)
def pools_set(
    name: PoolArg,
    slots: Annotated[int, typer.Argument(metavar="SLOTS", min=-1, max=1_000_000, show_default=False,
                                         help="How many slots its tasks may hold at once (-1: no limit; 0: hold them).")],
    description: Annotated[str | None, typer.Argument(metavar="DESCRIPTION", show_default=False,
                                                      help="What the pool is for.")] = None,
    described: Annotated[str | None, typer.Option("--description", metavar="TEXT", show_default=False,
                                                  help="What the pool is for (the same as DESCRIPTION).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a pool or change its size. A task takes `pool_slots` of its pool (1 by default)
    while it is queued or running; `default_pool` (the worker count) holds tasks that name no pool.

    Example: `flowctl pools set warehouse 2 --description "the warehouse takes two queries at once"`
    """
    from flowctl.cli.render import print_json

    if description is not None and described is not None and description != described:
        raise typer.BadParameter("give the description once: as DESCRIPTION or as --description",
                                 param_hint="--description")
    row = _service().set_pool(name, slots, described if described is not None else description)
    if as_json:
        print_json(row)
        return
    print(f"Pool {name} has {'no limit' if slots < 0 else f'{slots} slot' + ('s' if slots != 1 else '')}")


@pools_app.command("list")
def pools_list(as_json: JsonOpt = False) -> None:
    """Every pool: its slots, how many are taken and by which task instances (in any process).

    Example: `flowctl pools list --json`
    """
    from flowctl.cli.render import print_json

    rows = _service().pools()
    if as_json:
        print_json(rows)
        return
    _print_rows(rows)


@pools_app.command("get")
def pools_get(name: PoolArg, as_json: JsonOpt = False) -> None:
    """One pool. Exit 1 when it does not exist.

    Example: `flowctl pools get warehouse`
    """
    from flowctl.cli.render import print_json
    from flowctl.errors import NotFound

    row = next((r for r in _service().pools() if r["pool"] == name), None)
    if row is None:
        raise NotFound(f"no pool named {name!r} (see `flowctl pools list`)")
    if as_json:
        print_json(row)
        return
    _print_rows([row])


@pools_app.command("delete")
def pools_delete(name: PoolArg) -> None:
    """Delete a pool. Tasks that name it fail when they would start, as in Airflow
    (`default_pool` cannot be deleted).

    Example: `flowctl pools delete warehouse`
    """
    _service().delete_pool(name)
    print(f"Pool {name} deleted")
