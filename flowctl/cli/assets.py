"""Commands about assets (Airflow 2's datasets): what tasks update and DAGs wait for."""

from __future__ import annotations

from typing import Annotated

import typer

from flowctl.cli.app import JsonOpt, _service, app, group

assets_app = group("Assets (Airflow 2's datasets): what tasks update and what DAGs wait for.")
app.add_typer(assets_app, name="assets")


@assets_app.command("list")
def assets_list(as_json: JsonOpt = False) -> None:
    """Every asset the DAG files name or a task updated: the tasks that update it
    (outlets), the DAGs scheduled on it, and its last update (when, by which task).

    Example: `flowctl assets list --json | jq -r '.[] | "\\(.uri) \\(.last_update)"'`
    """
    from flowctl.cli.render import console, local_time, print_json, styled, table

    service = _service(dags=True)
    rows = service.assets()
    aliases = service.asset_aliases()
    if as_json:
        print_json(rows)
        return
    out = console()
    if not rows:
        out.print("No assets: no task has outlets and no DAG is scheduled on assets.")
        return
    tz = service.settings.default_timezone
    t = table("asset", "updated by (outlets)", "schedules (consumers)", "events", "last update", "by")
    for r in rows:
        name = r["uri"] if r["name"] == r["uri"] else f"{r['uri']} ({r['name']})"
        t.add_row(name, ", ".join(r["producers"]) or styled(("-", "dim")), ", ".join(r["consumers"]) or styled(("-", "dim")),
                  str(r["events"]), local_time(r["last_update"], tz), r["last_producer"] or styled(("never", "dim")))
    out.print(t)
    if aliases:
        a = table("asset alias", "adds through it", "schedules", "resolved to")
        for r in aliases:
            a.add_row(r["name"], ", ".join(r["producers"]) or "-", ", ".join(r["consumers"]) or "-",
                      ", ".join(r["assets"]) or styled(("nothing yet", "dim")))
        out.print(a)


@assets_app.command("events")
def assets_events(
    uri: Annotated[str | None, typer.Argument(metavar="[URI]", help="Only this asset's events.",
                                              show_default=False)] = None,
    limit: Annotated[int, typer.Option("-n", "--limit", metavar="N", help="How many, newest first.", min=1)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Recorded asset events, newest first: the asset, its extra, when, and the
    task try that updated it, and the DAGs it was queued for.

    Example: `flowctl assets events s3://bucket/daily.csv -n 5`
    """
    from flowctl.cli.render import console, local_time, print_json, table

    service = _service(dags=True)
    events = service.asset_events(uri, limit)
    if as_json:
        print_json(events)
        return
    out = console()
    if not events:
        out.print("No asset events" + (f" for {uri}." if uri else "."))
        return
    tz = service.settings.default_timezone
    t = table("#", "asset", "when", "by", "extra", "queued for")
    for e in events:
        import json

        t.add_row(str(e["n"]), e["uri"] + (f" (alias {e['alias']})" if e.get("alias") else ""),
                  local_time(e.get("timestamp"), tz), f"{e.get('dag_id')}.{e.get('task_id')} {e.get('run_id')}",
                  json.dumps(e.get("extra") or {}) if e.get("extra") else "", ", ".join(e.get("queued_for") or []))
    out.print(t)
