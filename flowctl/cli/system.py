"""doctor: checks (and safe repairs of) the state home."""

from __future__ import annotations

from typing import Annotated

import typer

from flowctl.cli.app import (
    JsonOpt,
    _service,
    app,
    need_home_folder,
)


@app.command()
def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Do the safe repairs: permissions, the index of active runs (rebuilt from the run files), temp files of killed writers.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check the state home: it can be written (not read-only, not full), files parse
    and have this version's schema, no task is marked running with nobody running it,
    permissions. Exit 1 when anything is wrong.

    Example: `flowctl doctor --fix`
    """
    from flowctl.cli.render import console, print_json, styled

    service = _service()
    settings = service.settings
    need_home_folder(settings)
    findings, done = service.doctor(fix=fix)
    if as_json:
        print_json({"home": str(settings.home), "ok": not findings, "problems": [f.to_doc() for f in findings], "repaired": done})
    else:
        out = console()
        for d in done:
            out.print(styled(("fixed", "green"), f": {d}"))
        for f in findings:
            out.print(styled(("problem", "red"), f": {f.problem}\n  ", ("do", "bold"), f": {f.fix}"))
        if not findings:
            out.print(f"{settings.home}: all good.")
    raise typer.Exit(1 if findings else 0)
