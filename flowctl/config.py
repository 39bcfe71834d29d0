"""Settings: command-line option > environment > flowctl.toml > default.

`flowctl.toml` is looked for in the current directory and its parents;
relative paths in it are relative to the file (contract section 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowctl.errors import UsageError

CONFIG_NAME = "flowctl.toml"


@dataclass(frozen=True)
class NotifySettings:
    webhook: str | None = None
    command: str | None = None
    desktop: bool | None = None  #: None = where a notifier exists


@dataclass(frozen=True)
class Settings:
    dags_folder: Path
    home: Path
    workers: int
    default_timezone: str
    dag_file_timeout: float
    executor: str
    dask_address: str | None
    notify: NotifySettings = field(default_factory=NotifySettings)
    config_file: Path | None = None
    max_xcom_bytes: int = 1 << 20  #: the largest XCom value, in bytes of JSON
    max_map_length: int = 1024  #: the most instances one mapped task may expand into
    dag_discovery_safe_mode: bool = True  #: skip .py files mentioning neither "dag" nor "airflow"
    dag_ignore_file_syntax: str = "regexp"  #: how .airflowignore lines are read: regexp or glob

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"


def find_config_file(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None


def local_timezone() -> str:
    """The machine's zone name (e.g. Europe/Amsterdam), UTC when it cannot be told."""
    tz = os.environ.get("TZ")
    if tz and "/" in tz:
        return tz.lstrip(":")
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            return link.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    try:
        name = Path("/etc/timezone").read_text().strip()
        if name:
            return name
    except OSError:
        pass
    return "UTC"


def load_settings(**options: Any) -> Settings:
    """Resolve every setting; `options` are the command line's (None = not given)."""
    env = os.environ
    config_file = find_config_file()
    toml: dict[str, Any] = _read_toml(config_file) if config_file else {}
    base = config_file.parent if config_file else Path.cwd()

    def pick(name: str, env_name: str | None, default: Any) -> tuple[Any, str]:
        if options.get(name) is not None:
            return options[name], "option"
        if env_name and env.get(env_name):
            return env[env_name], "env"
        if name in toml:
            return toml[name], "toml"
        return default, "default"

    def path(name: str, env_name: str, default: str) -> Path:
        value, source = pick(name, env_name, default)
        p = Path(os.path.expanduser(str(value)))
        if not p.is_absolute():
            p = (base if source == "toml" else Path.cwd()) / p
        return p.resolve()

    workers_raw, workers_from = pick("workers", "FLOWCTL_WORKERS", os.cpu_count() or 2)
    timeout_raw, timeout_from = pick("dag_file_timeout", "FLOWCTL_DAG_FILE_TIMEOUT", 30)

    def source(where: str, env_name: str, key: str) -> str:
        """Where a bad value came from, as the user set it."""
        if where == "toml":
            return f"{key} in {config_file}" if config_file else key
        return {"env": env_name, "option": f"--{key.replace('_', '-')}"}.get(where, key)

    try:
        workers = int(workers_raw)
    except (TypeError, ValueError):
        raise UsageError(f"workers must be a whole number, not {workers_raw!r} "
                         f"({source(workers_from, 'FLOWCTL_WORKERS', 'workers')})") from None
    try:
        timeout = float(timeout_raw)
    except (TypeError, ValueError):
        raise UsageError(f"dag_file_timeout must be a number of seconds, not {timeout_raw!r} "
                         f"({source(timeout_from, 'FLOWCTL_DAG_FILE_TIMEOUT', 'dag_file_timeout')})") from None
    if workers < 1:
        raise UsageError(f"workers must be at least 1, not {workers} ({source(workers_from, 'FLOWCTL_WORKERS', 'workers')})")
    if not timeout > 0:  # also refuses NaN
        raise UsageError(
            f"dag_file_timeout must be more than 0 seconds, not {timeout_raw!r} "
            f"({source(timeout_from, 'FLOWCTL_DAG_FILE_TIMEOUT', 'dag_file_timeout')})"
        )
    executor, _ = pick("executor", "FLOWCTL_EXECUTOR", "local")
    if executor not in ("local", "dask"):
        raise UsageError(f"executor must be 'local' or 'dask', not {executor!r}")
    tz, _ = pick("default_timezone", "FLOWCTL_TIMEZONE", None)
    tz = tz or local_timezone()
    _check_zone(tz)
    notify = notify_settings(env, toml)
    dask_address, _ = pick("dask_address", "FLOWCTL_DASK_ADDRESS", None)
    return Settings(
        dags_folder=path("dags_folder", "FLOWCTL_DAGS_FOLDER", "dags"),
        home=path("home", "FLOWCTL_HOME", ".flowctl"),
        workers=workers,
        default_timezone=tz,
        dag_file_timeout=timeout,
        executor=executor,
        dask_address=dask_address,
        notify=notify,
        config_file=config_file,
        max_xcom_bytes=max_xcom_bytes(env, toml, config_file),
        max_map_length=max_map_length(env, toml, config_file),
        dag_discovery_safe_mode=safe_mode(env, toml),
        dag_ignore_file_syntax=ignore_file_syntax(env, toml),
    )


def notify_settings(env: Any = None, toml: dict[str, Any] | None = None) -> NotifySettings:
    """The notice channels (contract section 6), from the environment and flowctl.toml."""
    env = os.environ if env is None else env
    if toml is None:
        config_file = find_config_file()
        toml = _read_toml(config_file) if config_file else {}
    notify_toml = toml.get("notify", {}) if isinstance(toml.get("notify"), dict) else {}
    desktop_raw = env.get("FLOWCTL_NOTIFY_DESKTOP", notify_toml.get("desktop"))
    return NotifySettings(
        webhook=env.get("FLOWCTL_NOTIFY_WEBHOOK") or notify_toml.get("webhook"),
        command=env.get("FLOWCTL_NOTIFY_COMMAND") or notify_toml.get("command"),
        desktop=None if desktop_raw is None else _truthy(desktop_raw),
    )


def _env_or_toml(env: Any, toml: dict[str, Any] | None, env_name: str, key: str) -> Any:
    """The environment's value, else flowctl.toml's (found from the current directory)."""
    return _setting(env, toml, env_name, key)[0]


def _setting(env: Any, toml: dict[str, Any] | None, env_name: str, key: str,
             config_file: Path | None = None) -> tuple[Any, str]:
    """(the environment's value, else flowctl.toml's; where it was set, for an error)."""
    if env.get(env_name):
        return env[env_name], env_name
    if toml is None:
        config_file = find_config_file()
        toml = _read_toml(config_file) if config_file else {}
    return toml.get(key), f"{key} in {config_file or 'flowctl.toml'}"


def _whole_number(env: Any, toml: dict[str, Any] | None, env_name: str, key: str, default: int,
                  config_file: Path | None) -> int:
    """A setting that is a whole number of at least 1; a bad one names where it was set."""
    raw, where = _setting(os.environ if env is None else env, toml, env_name, key, config_file)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise UsageError(f"{key} must be a whole number, not {raw!r} ({where})") from None
    if value < 1:
        raise UsageError(f"{key} must be at least 1, not {value} ({where})")
    return value


def max_xcom_bytes(env: Any = None, toml: dict[str, Any] | None = None, config_file: Path | None = None) -> int:
    """`max_xcom_bytes` / FLOWCTL_MAX_XCOM_BYTES: the largest XCom value (JSON bytes), default 1 MB."""
    return _whole_number(env, toml, "FLOWCTL_MAX_XCOM_BYTES", "max_xcom_bytes", 1 << 20, config_file)


def max_map_length(env: Any = None, toml: dict[str, Any] | None = None, config_file: Path | None = None) -> int:
    """`max_map_length` / FLOWCTL_MAX_MAP_LENGTH: the most instances a mapped task
    may expand into (Airflow's [core] max_map_length), default 1024."""
    return _whole_number(env, toml, "FLOWCTL_MAX_MAP_LENGTH", "max_map_length", 1024, config_file)


def safe_mode(env: Any = None, toml: dict[str, Any] | None = None) -> bool:
    """`dag_discovery_safe_mode` / FLOWCTL_DAG_DISCOVERY_SAFE_MODE (Airflow's setting), default true:
    a .py file whose text mentions neither `dag` nor `airflow` is not imported."""
    raw = _env_or_toml(os.environ if env is None else env, toml, "FLOWCTL_DAG_DISCOVERY_SAFE_MODE",
                       "dag_discovery_safe_mode")
    return True if raw is None else _truthy(raw)


def ignore_file_syntax(env: Any = None, toml: dict[str, Any] | None = None) -> str:
    """`dag_ignore_file_syntax` / FLOWCTL_DAG_IGNORE_FILE_SYNTAX (Airflow's setting): how
    `.airflowignore` lines are read, "regexp" (Airflow 2's default) or "glob" (Airflow 3's)."""
    raw = _env_or_toml(os.environ if env is None else env, toml, "FLOWCTL_DAG_IGNORE_FILE_SYNTAX",
                       "dag_ignore_file_syntax")
    value = str(raw or "regexp").strip().lower()
    if value not in ("regexp", "glob"):
        raise UsageError(f"dag_ignore_file_syntax must be 'regexp' or 'glob', not {raw!r}")
    return value


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _check_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r} (use an IANA name like Europe/Amsterdam)") from None
