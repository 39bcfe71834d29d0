"""`Param`: a DAG or task param with a default and a JSON-schema-like description.

    params={"limit": Param(100, type="integer", minimum=1), "mode": "fast"}

The DAG keeps the default values (`dag.params`, what templates see as
`params`) and the Param objects (`dag.param_specs`). A run's conf overrides a
value. Values are checked against the Param's JSON Schema (`type`, `enum`,
`minimum`, `maximum`, `minLength`, `format`, ...) when a run is made
(`conf_problem`, on the DagSpec's recorded schemas: a bad `--conf` is refused
and nothing is written, as Airflow refuses such a run) and again in the task
(`check_params`).
"""

from __future__ import annotations

from typing import Any

from flowctl.errors import DagDefinitionError, TaskFailed


class _Required:
    def __repr__(self) -> str:
        return "NOTSET"


REQUIRED: Any = _Required()


class Param:
    """Airflow's `Param(default, description=None, **schema)`."""

    def __init__(self, default: Any = REQUIRED, description: str | None = None, **schema: Any) -> None:
        self.value = default
        self.description = description
        self.schema = dict(schema.pop("schema")) if isinstance(schema.get("schema"), dict) else dict(schema)

    @property
    def has_value(self) -> bool:
        return self.value is not REQUIRED

    def resolve(self, value: Any = REQUIRED, name: str = "param") -> Any:
        """The value to use (`value`, else the default), checked against the schema."""
        if value is REQUIRED:
            value = self.value
        if value is REQUIRED:
            raise TaskFailed(f"param {name!r} has no default and the run's conf does not give it")
        problem = schema_problem(value, self.schema)
        if problem:
            raise TaskFailed(f"param {name!r} = {value!r}: {problem}")
        return value

    def dump(self) -> dict[str, Any]:
        return {"value": None if self.value is REQUIRED else self.value, "description": self.description,
                "schema": self.schema}

    def __repr__(self) -> str:
        return f"Param({self.value!r})"


class ParamsDict(dict):
    """Airflow's `ParamsDict`: a dict of param values."""


def schema_problem(value: Any, schema: dict[str, Any]) -> str | None:
    """What is wrong with `value` for `schema` (JSON Schema, as Airflow's Param
    checks it), naming the rule: e.g. "0 is less than the minimum of 1 (rule:
    minimum)"; None when it is valid."""
    import jsonschema

    try:
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as err:
        where = "".join(f"[{p!r}]" for p in err.absolute_path)
        return f"{where + ': ' if where else ''}{err.message} (rule: {err.validator})"
    except jsonschema.SchemaError as err:
        return f"its schema is not valid JSON Schema: {err.message}"
    return None


def conf_problem(schemas: dict[str, dict[str, Any]], conf: dict[str, Any]) -> str | None:
    """Why a run with this conf would be refused (one line naming the param and
    the rule), or None. `schemas` is `DagSpec.param_schemas`: a value the conf
    gives is checked, else the default; a param with neither is missing.
    A default that was masked (a secret-looking name) is checked in the task."""
    for name, entry in schemas.items():
        schema = entry.get("schema") or {}
        if name in conf:
            value = conf[name]
        elif entry.get("has_default"):
            if entry.get("masked"):
                continue
            value = entry.get("default")
        else:
            return f"param {name!r} has no default and --conf does not give it"
        problem = schema_problem(value, schema)
        if problem:
            return f"param {name!r} = {_short(value)} is refused: {problem}"
    return None


def _short(value: Any) -> str:
    import json

    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def resolve_params(params: dict[str, Any], owner: str) -> tuple[dict[str, Any], dict[str, Param]]:
    """(values, Param objects) of a params dict whose values may be Params."""
    if not isinstance(params, dict):
        raise DagDefinitionError(f"{owner}: params must be a dict, not {type(params).__name__}")
    values: dict[str, Any] = {}
    specs: dict[str, Param] = {}
    for key, value in params.items():
        if isinstance(value, Param):
            specs[key] = value
            values[key] = value.value if value.has_value else None
        else:
            values[key] = value
    return values, specs


def check_params(values: dict[str, Any], specs: dict[str, Param], conf: dict[str, Any]) -> dict[str, Any]:
    """The params a task sees: the values, overridden by the run's conf, each checked."""
    merged = {**values, **conf}
    for name, spec in specs.items():  # a task's own value for a DAG's Param wins over its default, as in Airflow
        merged[name] = spec.resolve(conf[name] if name in conf else values.get(name, spec.value), name)
    return merged
