"""Airflow's commands for Variables and Connections, spelled as Airflow's CLI
spells them, and `dags warnings` (the Airflow arguments flowctl accepts and
ignores). Secrets are shown as `***`; a Connection's password is never printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from flowctl.cli.app import JsonOpt, _service, _settings, _short_path, app, dags_app

variables_app = typer.Typer(help="Airflow Variables (key -> value), stored in the home.", no_args_is_help=True)
connections_app = typer.Typer(help="Airflow Connections, stored in the home; passwords are never printed.",
                              no_args_is_help=True)
app.add_typer(variables_app, name="variables")
app.add_typer(connections_app, name="connections")

KeyArg = Annotated[str, typer.Argument(help="The Variable's key.", show_default=False)]
ConnArg = Annotated[str, typer.Argument(help="The connection id.", show_default=False)]


def _home() -> Path:
    return _settings().home


def _shown(key: str, value: Any) -> Any:
    from flowctl import masking

    return masking.MASK if masking.is_sensitive(key) and value not in (None, "") else value


# -- dags warnings -----------------------------------------------------------------


@dags_app.command("warnings")
def dags_warnings(as_json: JsonOpt = False) -> None:
    """Airflow arguments the DAG files use that flowctl accepts and does not act on, one line each.

    Example: `flowctl dags warnings --json`
    """
    from flowctl.cli.render import print_json

    bag = _service().dagbag()
    if as_json:
        print_json([w.to_doc() for w in bag.warnings])
        return
    if not bag.warnings:
        print("No warnings.")
    for w in bag.warnings:
        print(f"{_short_path(w.fileloc)}: {w.dag_id}: {w.warning}")


# -- variables ---------------------------------------------------------------------


@variables_app.command("set")
def variables_set(
    key: KeyArg,
    value: Annotated[str, typer.Argument(help="The value (a string; see --serialize-json).", show_default=False)],
    description: Annotated[str | None, typer.Option("--description", help="What the Variable is for.")] = None,
    serialize_json: Annotated[bool, typer.Option("--serialize-json", "-j", help="VALUE is JSON: store it normalised.")] = False,
) -> None:
    """Store a Variable (replacing its value).

    Example: `flowctl variables set api_base https://api.example.com`
    """
    from flowctl import variables
    from flowctl.errors import UsageError

    if not key or len(key) > 250:
        raise UsageError(f"a Variable key must be 1 to 250 characters, not {key!r}")
    if serialize_json:
        try:
            value = json.dumps(json.loads(value, parse_constant=_no_constant), indent=2)
        except ValueError as exc:
            raise UsageError(f"--serialize-json: VALUE is not JSON ({exc})") from None
    variables.set_value(key, value, description, home=_home())
    print(f"Variable {key} created")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


@variables_app.command("get")
def variables_get(
    key: KeyArg,
    default: Annotated[str | None, typer.Option("--default", "-d", help="Print this when the Variable does not exist.")] = None,
    deserialize_json: Annotated[bool, typer.Option("--deserialize-json", "-j", help="Print the value as parsed JSON.")] = False,
) -> None:
    """Print a Variable's value (`***` for a sensitive key). Exit 1 when it does not exist.

    Example: `flowctl variables get api_base`
    """
    from flowctl import masking, variables
    from flowctl.errors import NotFound

    value = variables.get_value(key, home=_home())
    if value is None:
        if default is None:
            raise NotFound(f"Variable {key} does not exist")
        value = default
    if masking.is_sensitive(key):
        print(masking.MASK)
        return
    if deserialize_json:
        try:
            print(json.dumps(json.loads(value), indent=2))
            return
        except ValueError:
            pass
    print(value)


@variables_app.command("list")
def variables_list(as_json: JsonOpt = False) -> None:
    """Every stored Variable (sensitive values as `***`).

    Example: `flowctl variables list --json`
    """
    import os

    from flowctl import variables
    from flowctl.cli.render import console, print_json, table

    rows = []
    for key, entry in sorted(variables.stored(_home()).items()):
        rows.append({"key": key, "value": _shown(key, entry.get("value")), "description": entry.get("description"),
                     "overridden_by_env": (variables.ENV_PREFIX + key.upper()) in os.environ})
    if as_json:
        print_json(rows)
        return
    if not rows:
        print("No Variables.")
        return
    t = table("key", "value", "description")
    for r in rows:
        value = str(r["value"])
        if len(value) > 60 and not (r["value"] == "***"):
            value = value[:57] + "..."
        note = " (AIRFLOW_VAR_ overrides it)" if r["overridden_by_env"] else ""
        t.add_row(r["key"], value.replace("\n", " ") + note, r["description"] or "")
    console().print(t)


@variables_app.command("delete")
def variables_delete(key: KeyArg) -> None:
    """Delete a Variable. Exit 1 when it does not exist.

    Example: `flowctl variables delete api_base`
    """
    from flowctl import variables
    from flowctl.errors import NotFound

    if not variables.delete(key, home=_home()):
        raise NotFound(f"Variable {key} does not exist")
    print(f"Variable {key} deleted")


@variables_app.command("import")
def variables_import(
    file: Annotated[Path, typer.Argument(help="A JSON file: {key: value, ...}.", show_default=False)],
    action_on_existing_key: Annotated[str, typer.Option("--action-on-existing-key", "-a",
                                                        help="overwrite, fail or skip a key that exists.")] = "overwrite",
) -> None:
    """Store every Variable of a JSON file (as `variables export` writes it).

    Example: `flowctl variables import variables.json`
    """
    from flowctl import variables
    from flowctl.errors import UsageError

    if action_on_existing_key not in ("overwrite", "fail", "skip"):
        raise UsageError("--action-on-existing-key must be overwrite, fail or skip")
    try:
        doc = json.loads(file.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{file} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{file} must hold a JSON object of key: value")
    home = _home()
    existing = variables.stored(home)
    clash = sorted(k for k in doc if k in existing)
    if clash and action_on_existing_key == "fail":
        raise UsageError(f"{len(clash)} Variable(s) exist already: {', '.join(clash)}")
    done = 0
    for key, value in doc.items():
        if key in existing and action_on_existing_key == "skip":
            continue
        description = None
        if isinstance(value, dict) and set(value) <= {"value", "description"} and "value" in value:
            value, description = value["value"], value.get("description")
        text = value if isinstance(value, str) else json.dumps(value, indent=2)
        variables.set_value(key, text, description, home=home)
        done += 1
    print(f"{done} of {len(doc)} Variables imported from {file}")


@variables_app.command("export")
def variables_export(
    file: Annotated[Path, typer.Argument(help="The JSON file to write (0600; it holds the values); - for stdout.",
                                         show_default=False)],
) -> None:
    """Write every stored Variable to a JSON file, values included (the file is made readable by you only).

    As in Airflow, `-` writes the JSON to stdout instead.

    Example: `flowctl variables export variables.json`
    """
    import os

    from flowctl import variables

    doc: dict[str, Any] = {}
    for key, entry in sorted(variables.stored(_home()).items()):
        value = entry.get("value")
        try:
            doc[key] = json.loads(value) if isinstance(value, str) and value.strip()[:1] in "{[" else value
        except ValueError:
            doc[key] = value
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    if str(file) == "-":
        from flowctl.cli.render import write

        write(text)
        return
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
    except OSError as exc:  # a write error names no file: name the one being written, not the home
        raise OSError(exc.errno, exc.strerror, str(file)) from None
    os.chmod(file, 0o600)
    print(f"{len(doc)} Variables exported to {file}")


# -- connections -------------------------------------------------------------------


@connections_app.command("add")
def connections_add(
    conn_id: ConnArg,
    conn_uri: Annotated[str | None, typer.Option("--conn-uri", help="The whole connection as a URI.")] = None,
    conn_json: Annotated[str | None, typer.Option("--conn-json", help="The connection as Airflow's JSON form.")] = None,
    conn_type: Annotated[str | None, typer.Option("--conn-type", help="postgres, http, ...")] = None,
    conn_host: Annotated[str | None, typer.Option("--conn-host")] = None,
    conn_login: Annotated[str | None, typer.Option("--conn-login")] = None,
    conn_password: Annotated[str | None, typer.Option("--conn-password")] = None,
    conn_schema: Annotated[str | None, typer.Option("--conn-schema")] = None,
    conn_port: Annotated[int | None, typer.Option("--conn-port")] = None,
    conn_extra: Annotated[str | None, typer.Option("--conn-extra", help="Extra fields, a JSON object.")] = None,
    conn_description: Annotated[str | None, typer.Option("--conn-description")] = None,
) -> None:
    """Store a connection: `--conn-uri`, `--conn-json`, or `--conn-type` and the other fields.

    Example: `flowctl connections add warehouse --conn-uri postgresql://etl:pw@db:5432/dw`
    """
    from flowctl import connections
    from flowctl.errors import UsageError

    if not conn_id.strip() or len(conn_id) > 250:
        raise UsageError(f"a connection id must be 1 to 250 characters, not {conn_id!r}")
    fields = (conn_type, conn_host, conn_login, conn_password, conn_schema, conn_port, conn_extra)
    given = sum(x is not None for x in (conn_uri, conn_json)) + (1 if any(f is not None for f in fields) else 0)
    if given != 1:
        raise UsageError("give one of --conn-uri, --conn-json, or --conn-type with the other --conn-* fields")
    try:
        if conn_uri is not None:
            conn = connections.Connection(conn_id=conn_id, uri=conn_uri, description=conn_description)
        elif conn_json is not None:
            conn = connections.Connection.from_env_value(conn_id, conn_json)
        else:
            if conn_type is None:
                raise UsageError("--conn-type is required with the --conn-* fields")
            if conn_extra is not None:
                extra = json.loads(conn_extra)
                if not isinstance(extra, dict):
                    raise UsageError("--conn-extra must be a JSON object")
            conn = connections.Connection(conn_id=conn_id, conn_type=conn_type, host=conn_host, login=conn_login,
                                          password=conn_password, schema=conn_schema, port=conn_port,
                                          extra=conn_extra, description=conn_description)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if conn_description is not None:
        conn.description = conn_description
    connections.add(conn, home=_home())
    print(f"Successfully added `conn_id`={conn_id} : {conn.masked_uri()}")


def _rows(conns: list[Any]) -> list[dict[str, Any]]:
    return [c.masked_doc() for c in conns]


@connections_app.command("get")
def connections_get(conn_id: ConnArg, as_json: JsonOpt = False) -> None:
    """A connection's fields (the password as `***`). Exit 1 when it does not exist.

    Example: `flowctl connections get warehouse --json`
    """
    from flowctl import connections
    from flowctl.cli.render import print_json

    conn = connections.get_connection(conn_id, home=_home())
    doc = {**conn.masked_doc(), "uri": conn.masked_uri()}
    if as_json:
        print_json(doc)
        return
    width = max(len(k) for k in doc)
    for key in ("conn_id", "conn_type", "description", "host", "schema", "login", "password", "port", "extra", "uri"):
        value = doc.get(key)
        shown = json.dumps(value) if isinstance(value, dict) else ("" if value is None else str(value))
        print(f"{key.ljust(width)}  {shown}")


@connections_app.command("list")
def connections_list(as_json: JsonOpt = False) -> None:
    """Every stored connection (passwords as `***`).

    Example: `flowctl connections list`
    """
    from flowctl import connections
    from flowctl.cli.render import console, print_json, table

    rows = _rows(list(connections.stored(_home()).values()))
    if as_json:
        print_json(rows)
        return
    if not rows:
        print("No connections.")
        return
    t = table("conn_id", "conn_type", "host", "port", "schema", "login", "password")
    for r in rows:
        t.add_row(*(("" if r[k] is None else str(r[k])) for k in
                    ("conn_id", "conn_type", "host", "port", "schema", "login", "password")))
    console().print(t)


@connections_app.command("delete")
def connections_delete(conn_id: ConnArg) -> None:
    """Delete a connection. Exit 1 when it does not exist.

    Example: `flowctl connections delete warehouse`
    """
    from flowctl import connections
    from flowctl.errors import NotFound

    if not connections.delete(conn_id, home=_home()):
        raise NotFound(f"Did not find a connection with `conn_id`={conn_id}")
    print(f"Successfully deleted connection with `conn_id`={conn_id}")
