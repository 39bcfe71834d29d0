"""`Param`: a DAG or task param with a default and a JSON-schema-like description.

    params={"limit": Param(100, type="integer", minimum=1), "mode": "fast"}

The DAG keeps the default values (`dag.params`, what templates see as
`params`) and the Param objects (`dag.param_specs`). A run's conf overrides a
value; `check_params` then checks each value against its Param's `type`,
`enum`, `minimum`/`maximum` and `minLength`/`maxLength`, so a bad value fails
the task with a line naming the param (Airflow refuses such a run up front).
"""

from __future__ import annotations

from typing import Any

from flowctl.errors import DagDefinitionError, TaskFailed

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list, tuple),
    "null": (type(None),),
}


class _Required:
    def __repr__(self) -> str:
        return "NOTSET"


REQUIRED: Any = _Required()


class Param:
    """Airflow's `Param(default, description=None, **schema)`."""

    def __init__(self, default: Any = REQUIRED, description: str | None = None, **schema: Any) -> None:
        self.value = default
        self.description = description
        self.schema = dict(schema)

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
    """What is wrong with `value` for `schema` (a practical subset of JSON schema), or None."""
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        ok = False
        for name in names:
            types = _TYPES.get(name)
            if types is None:
                ok = True  # an unknown type name is not ours to refuse
                break
            if isinstance(value, bool) and name in ("integer", "number"):
                continue
            if isinstance(value, types):
                ok = True
                break
        if not ok:
            return f"must be of type {' or '.join(names)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"must be one of {schema['enum']!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"must be at least {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"must be at most {schema['maximum']}"
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            return f"must be at least {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"must be at most {schema['maxLength']} characters"
    return None


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
    for name, spec in specs.items():
        merged[name] = spec.resolve(conf[name] if name in conf else spec.value, name)
    return merged
