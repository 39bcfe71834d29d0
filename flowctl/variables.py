"""Airflow Variables: key -> string values kept in the home (`variables.json`, 0600).

    Variable.set("bucket", "s3://data")
    Variable.get("bucket")                          -> "s3://data"
    Variable.get("cfg", deserialize_json=True)      -> a parsed JSON value
    Variable.get("missing", default_var=None)       -> None
    {{ var.value.bucket }}   {{ var.json.cfg.region }}

`AIRFLOW_VAR_<KEY>` in the environment overrides the stored value, as in
Airflow. A Variable whose key is sensitive (see masking.py) is shown as `***`
and its value is redacted from task logs once read.

Where the home is: the CLI passes it; the loader and the task process call
`use_home()` with theirs; otherwise FLOWCTL_HOME, otherwise only the
environment's variables exist.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flowctl import masking

FILE_NAME = "variables.json"
ENV_PREFIX = "AIRFLOW_VAR_"
_home: Path | None = None


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def use_home(home: str | os.PathLike[str] | None) -> None:
    """The home this process reads Variables and Connections from."""
    global _home
    _home = Path(home) if home else None


def current_home() -> Path | None:
    if _home is not None:
        return _home
    env = os.environ.get("FLOWCTL_HOME")
    return Path(env).expanduser().resolve() if env else None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside `path` for a read-modify-write of it."""
    import fcntl

    from flowctl.store import private_dir

    private_dir(path.parent)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


FILES_READ: set[str] = set()
"""The Variables and Connections files this process read: a DAG file that reads them
while it is imported depends on them as on its helper modules (loader.py)."""


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    from flowctl.errors import FlowctlError

    FILES_READ.add(str(path))
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (NotADirectoryError, PermissionError, IsADirectoryError):
        raise  # the home or the file is in the way, not damaged: the command's OS-error line says which
    except (OSError, ValueError) as exc:
        raise FlowctlError(f"{path}: cannot read the {what} ({exc}); fix or move the file aside") from None
    if not isinstance(doc, dict):
        raise FlowctlError(f"{path}: not a {what} file; fix or move it aside")
    return doc


def write_json_file(path: Path, doc: dict[str, Any]) -> None:
    from flowctl.store import atomic_write

    atomic_write(path, json.dumps(doc, indent=2, sort_keys=True).encode())
    os.chmod(path, 0o600)


def _path(home: str | os.PathLike[str] | None) -> Path | None:
    base = Path(home) if home else current_home()
    return None if base is None else base / FILE_NAME


def stored(home: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every stored Variable: key -> {"value": str, "description": str | None}."""
    path = _path(home)
    if path is None:
        return {}
    return dict(read_json_file(path, "Variables").get("variables", {}))


def from_env(key: str) -> str | None:
    return os.environ.get(ENV_PREFIX + key.upper())


def get_value(key: str, home: str | os.PathLike[str] | None = None) -> str | None:
    """The Variable's string value (the environment's first), or None."""
    value = from_env(key)
    if value is None:
        entry = stored(home).get(key)
        value = None if entry is None else entry.get("value")
    if value is not None and masking.is_sensitive(key):
        masking.register(value)
    return value


def set_value(key: str, value: str, description: str | None = None,
              home: str | os.PathLike[str] | None = None) -> None:
    from flowctl.errors import FlowctlError

    path = _path(home)
    if path is None:
        raise FlowctlError("no flowctl home to store the Variable in (set FLOWCTL_HOME)")
    if not isinstance(key, str) or not key or len(key) > 250:
        raise FlowctlError(f"a Variable key must be 1 to 250 characters, not {key!r}")
    with locked(path):
        doc = read_json_file(path, "Variables")
        variables = doc.setdefault("variables", {})
        previous = variables.get(key, {})
        variables[key] = {"value": str(value),
                          "description": description if description is not None else previous.get("description")}
        doc["version"] = 1
        write_json_file(path, doc)


def delete(key: str, home: str | os.PathLike[str] | None = None) -> bool:
    path = _path(home)
    if path is None:
        return False
    with locked(path):
        doc = read_json_file(path, "Variables")
        if key not in doc.get("variables", {}):
            return False
        del doc["variables"][key]
        write_json_file(path, doc)
    return True


class Variable:
    """Airflow's `Variable` model, as DAG code uses it."""

    def __init__(self, key: str | None = None, val: Any = None, description: str | None = None) -> None:
        self.key = key
        self.val = val
        self.description = description

    @classmethod
    def get(cls, key: str, default_var: Any = MISSING, deserialize_json: bool = False) -> Any:
        value = get_value(key)
        if value is None:
            if default_var is not MISSING:
                return default_var
            raise KeyError(f"Variable {key} does not exist")
        if deserialize_json:
            parsed = json.loads(value)
            masking.register_doc({key: parsed})
            return parsed
        return value

    @classmethod
    def set(cls, key: str, value: Any, description: str | None = None, serialize_json: bool = False,
            session: Any = None) -> None:
        text = json.dumps(value, indent=2) if serialize_json else str(value)
        set_value(key, text, description)

    @classmethod
    def setdefault(cls, key: str, default: Any, description: str | None = None,
                   deserialize_json: bool = False) -> Any:
        value = cls.get(key, default_var=None, deserialize_json=deserialize_json)
        if value is None:
            if default is None:
                raise ValueError("Default Value must be set")
            cls.set(key, default, description=description, serialize_json=deserialize_json)
            return default
        return value

    @classmethod
    def update(cls, key: str, value: Any, serialize_json: bool = False, session: Any = None) -> None:
        cls.get(key)  # KeyError when it does not exist, as Airflow
        cls.set(key, value, serialize_json=serialize_json)

    @classmethod
    def delete(cls, key: str, session: Any = None) -> int:
        return int(delete(key))

    def __repr__(self) -> str:
        return f"{self.key}"


class _VariableValues:
    """`{{ var.value.key }}` and `{{ var.value.get('key', default) }}`."""

    def __init__(self, deserialize_json: bool) -> None:
        self._json = deserialize_json

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return Variable.get(key, deserialize_json=self._json)

    __getitem__ = __getattr__

    def get(self, key: str, default: Any = MISSING) -> Any:
        return Variable.get(key, default_var=default, deserialize_json=self._json)

    def __repr__(self) -> str:
        return "<var.json>" if self._json else "<var.value>"


class VariableAccessor:
    """`var` in the template context."""

    def __init__(self) -> None:
        self.value = _VariableValues(False)
        self.json = _VariableValues(True)
