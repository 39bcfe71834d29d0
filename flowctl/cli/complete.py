"""Shell completion of DAG ids, run ids and task ids.

A shell asks on every Tab, so this must answer in milliseconds: DAG and task
ids come from the loader's cache (`<home>/cache/dagbag.json`, read as plain
JSON: no DAG file is imported), run ids from the names of the run files
(`<home>/state/runs/<dag_id>/<run_id>.json`). Nothing here imports more than
the settings module, and any trouble (no home yet, a damaged cache) answers
with no candidates rather than an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer


def _home(ctx: typer.Context) -> Path | None:
    """The home the command would use: --home given so far, else the usual settings."""
    from flowctl.config import load_settings

    root = ctx.find_root()
    keys = ("dags_folder", "home")
    try:
        return load_settings(**{k: root.params.get(k) for k in keys}).home
    except Exception:  # noqa: BLE001 - completion never fails the shell
        return None


def _cached_dags(home: Path) -> dict[str, list[str]]:
    """DAG id -> task ids, from the loader's cache file."""
    try:
        doc = json.loads((home / "cache" / "dagbag.json").read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, list[str]] = {}
    files = doc.get("files") if isinstance(doc, dict) else None
    for entry in (files or {}).values():
        for spec in (entry.get("dags") or []) if isinstance(entry, dict) else []:
            if isinstance(spec, dict) and isinstance(spec.get("dag_id"), str):
                tasks: Any = spec.get("order") or spec.get("tasks") or []
                found[spec["dag_id"]] = [str(t) for t in tasks]
    return found


def _run_dags(home: Path) -> list[str]:
    try:
        return [e.name for e in os.scandir(home / "state" / "runs") if e.is_dir()]
    except OSError:
        return []


def _typed_words() -> list[str]:
    """The command line being completed, as the shell handed it over."""
    import shlex

    text = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _dag_id(ctx: typer.Context) -> str | None:
    """The DAG id typed before the value being completed. Click loses the
    positional arguments when the line ends in an option that still waits for
    its value (`flowctl clear etl --task <Tab>`), so then it is read from the
    words the shell handed over: the first one after the command's own words
    that is neither an option nor an option's value."""
    dag_id = ctx.params.get("dag_id")
    if dag_id:
        return str(dag_id)
    words = _typed_words()[1:]
    for name in ctx.command_path.split()[1:]:
        if name not in words:
            return None
        words = words[words.index(name) + 1:]
    takes_value = {opt for p in ctx.command.params if getattr(p, "param_type_name", "") == "option"
                   and not getattr(p, "is_flag", False) for opt in (*p.opts, *p.secondary_opts)}
    skip = False
    for word in words[:-1]:  # the last one is being completed
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in takes_value
        else:
            return word
    return None


def dag_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    home = _home(ctx)
    if home is None:
        return []
    ids = set(_cached_dags(home)) | set(_run_dags(home))
    return sorted(i for i in ids if i.startswith(incomplete))


def run_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    home = _home(ctx)
    dag_id = _dag_id(ctx)
    if home is None or not dag_id:
        return []
    try:
        names = os.listdir(home / "state" / "runs" / dag_id)
    except OSError:
        return []
    runs = (n[:-5] for n in names if n.endswith(".json") and not n.startswith("."))
    return sorted((r for r in runs if r.startswith(incomplete)), reverse=True)


def task_ids(ctx: typer.Context, incomplete: str) -> list[str]:
    home = _home(ctx)
    dag_id = _dag_id(ctx)
    if home is None or not dag_id:
        return []
    return [t for t in _cached_dags(home).get(dag_id, []) if t.startswith(incomplete)]
