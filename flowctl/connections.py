"""Airflow Connections kept in the home (`connections.json`, 0600), and `BaseHook`.

    flowctl connections add my_db --conn-uri 'postgres://ann:s3cret@db:5432/sales'
    BaseHook.get_connection("my_db").host        -> "db"
    {{ conn.my_db.login }}

`AIRFLOW_CONN_<ID>` (a URI or Airflow's JSON form) overrides the stored one.
A password is never printed: listings show `***`, and once a task reads a
connection its password (and sensitive extras) are redacted from the task log.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from flowctl import masking
from flowctl.variables import current_home, locked, read_json_file, write_json_file

FILE_NAME = "connections.json"
ENV_PREFIX = "AIRFLOW_CONN_"
FIELDS = ("conn_type", "description", "host", "login", "password", "schema", "port", "extra")


class Connection:
    """Airflow's `Connection`: where and how to reach an external system."""

    def __init__(self, conn_id: str | None = None, conn_type: str | None = None, description: str | None = None,
                 host: str | None = None, login: str | None = None, password: str | None = None,
                 schema: str | None = None, port: int | None = None, extra: str | dict[str, Any] | None = None,
                 uri: str | None = None) -> None:
        self.conn_id = conn_id
        self.description = description
        if uri is not None:
            self._parse_uri(uri)
        else:
            self.conn_type = conn_type
            self.host = host
            self.login = login
            self.password = password
            self.schema = schema
            self.port = int(port) if port not in (None, "") else None
            self.extra = json.dumps(extra) if isinstance(extra, dict) else extra

    # -- URIs, as Airflow writes and reads them ------------------------------

    def _parse_uri(self, uri: str) -> None:
        parts = urlsplit(uri)
        if not parts.scheme:
            raise ValueError(f"{uri!r} is not a connection URI (scheme://login:password@host:port/schema)")
        conn_type = parts.scheme
        if conn_type == "postgresql":
            conn_type = "postgres"
        self.conn_type = conn_type.replace("-", "_")
        self.host = unquote(parts.hostname) if parts.hostname else None
        self.schema = unquote(parts.path[1:]) if parts.path and parts.path != "/" else None
        self.login = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        try:
            self.port = parts.port
        except ValueError:
            raise ValueError(f"{uri!r}: the port is not a number") from None
        self.extra = None
        if parts.query:
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            self.extra = query["__extra__"] if "__extra__" in query else json.dumps(query)

    def get_uri(self) -> str:
        uri = f"{self.conn_type.lower().replace('_', '-')}://" if self.conn_type else "//"
        authority = ""
        if self.login is not None:
            authority += quote(self.login, safe="")
        if self.password is not None:
            authority += ":" + quote(self.password, safe="")
        if authority:
            uri += authority + "@"
        host = quote(self.host, safe="") if self.host else ""
        if self.port:
            host += f"@:{self.port}" if not host and not authority else f":{self.port}"
        if self.schema:
            host += f"/{quote(self.schema, safe='')}"
        uri += host
        if self.extra:
            extra = self.extra_dejson
            try:
                query: str | None = urlencode(extra)
            except TypeError:
                query = None
            if query and extra == dict(parse_qsl(query, keep_blank_values=True)):
                uri += ("?" if self.schema else "/?") + query
            else:
                uri += ("?" if self.schema else "/?") + urlencode({"__extra__": self.extra})
        return uri

    # -- what hooks and templates read ----------------------------------------

    @property
    def extra_dejson(self) -> dict[str, Any]:
        if not self.extra:
            return {}
        try:
            value = json.loads(self.extra)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def get_password(self) -> str | None:
        return self.password

    def get_extra(self) -> str | None:
        return self.extra

    def test_connection(self) -> tuple[bool, str]:
        return False, "flowctl does not test connections"

    def register_secrets(self) -> None:
        if self.password:
            masking.register(self.password)
        masking.register_doc(self.extra_dejson)

    def to_doc(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def masked_doc(self) -> dict[str, Any]:
        """The fields to show: the password as `***`, sensitive extras masked."""
        doc = self.to_doc()
        doc["conn_id"] = self.conn_id
        if doc["password"]:
            doc["password"] = masking.MASK
        doc["extra"] = masking.mask_doc(self.extra_dejson) if self.extra_dejson else (
            masking.MASK if self.extra else None)
        return doc

    def masked_uri(self) -> str:
        token = "__flowctl_masked__"
        shown = Connection(self.conn_id, self.conn_type, self.description, self.host, self.login,
                           token if self.password else None, self.schema, self.port,
                           json.dumps(masking.mask_doc(self.extra_dejson)) if self.extra_dejson else self.extra)
        return shown.get_uri().replace(token, masking.MASK)

    @classmethod
    def from_doc(cls, conn_id: str, doc: dict[str, Any]) -> Connection:
        return cls(conn_id=conn_id, **{k: doc.get(k) for k in FIELDS})

    @classmethod
    def from_env_value(cls, conn_id: str, value: str) -> Connection:
        text = value.strip()
        if text.startswith("{"):
            doc = json.loads(text)
            extra = doc.get("extra")
            return cls(conn_id=conn_id, conn_type=doc.get("conn_type"), description=doc.get("description"),
                       host=doc.get("host"), login=doc.get("login"), password=doc.get("password"),
                       schema=doc.get("schema"), port=doc.get("port"),
                       extra=json.dumps(extra) if isinstance(extra, dict) else extra)
        return cls(conn_id=conn_id, uri=text)

    @classmethod
    def get_connection_from_secrets(cls, conn_id: str) -> Connection:
        return get_connection(conn_id)

    def __repr__(self) -> str:
        return f"{self.conn_id}"


def _path(home: str | os.PathLike[str] | None) -> Path | None:
    base = Path(home) if home else current_home()
    return None if base is None else base / FILE_NAME


def stored(home: str | os.PathLike[str] | None = None) -> dict[str, Connection]:
    path = _path(home)
    if path is None:
        return {}
    docs = read_json_file(path, "Connections").get("connections", {})
    return {cid: Connection.from_doc(cid, doc) for cid, doc in sorted(docs.items())}


def find(conn_id: str, home: str | os.PathLike[str] | None = None) -> Connection | None:
    """The connection (the environment's first), or None; its secrets get registered."""
    name = ENV_PREFIX + conn_id.upper()
    env = os.environ.get(name)
    if not env:
        conn = stored(home).get(conn_id)
    else:
        try:
            conn = Connection.from_env_value(conn_id, env)
        except ValueError as exc:  # JSON's errors are ValueErrors too
            from flowctl.errors import UsageError

            raise UsageError(f"the environment variable {name} is not a connection: {exc}") from None
    if conn is not None:
        conn.register_secrets()
    return conn


def get_connection(conn_id: str, home: str | os.PathLike[str] | None = None) -> Connection:
    conn = find(conn_id, home)
    if conn is None:
        from flowctl.errors import NotFound

        raise NotFound(f"The conn_id `{conn_id}` isn't defined")
    return conn


def add(conn: Connection, home: str | os.PathLike[str] | None = None, replace: bool = False) -> None:
    from flowctl.errors import FlowctlError

    path = _path(home)
    if path is None:
        raise FlowctlError("no flowctl home to store the Connection in (set FLOWCTL_HOME)")
    with locked(path):
        doc = read_json_file(path, "Connections")
        conns = doc.setdefault("connections", {})
        if conn.conn_id in conns and not replace:
            raise FlowctlError(f"A connection with `conn_id`={conn.conn_id} already exists (delete it first)")
        conns[conn.conn_id] = conn.to_doc()
        doc["version"] = 1
        write_json_file(path, doc)


def delete(conn_id: str, home: str | os.PathLike[str] | None = None) -> bool:
    path = _path(home)
    if path is None:
        return False
    with locked(path):
        doc = read_json_file(path, "Connections")
        if conn_id not in doc.get("connections", {}):
            return False
        del doc["connections"][conn_id]
        write_json_file(path, doc)
    return True


class BaseHook:
    """Airflow's `BaseHook`: the base of hooks, and `get_connection`."""

    def __init__(self, logger_name: str | None = None, **kwargs: Any) -> None:
        self._logger_name = logger_name

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        return get_connection(conn_id)

    @classmethod
    def get_hook(cls, conn_id: str, hook_params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError("flowctl has no provider hooks; subclass BaseHook and use get_connection")

    def get_conn(self) -> Any:
        raise NotImplementedError

    @property
    def log(self) -> Any:
        import logging

        return logging.getLogger(self._logger_name or f"airflow.task.hooks.{type(self).__module__}.{type(self).__name__}")


class ConnectionAccessor:
    """`conn` in the template context: `{{ conn.my_db.host }}`."""

    def __getattr__(self, conn_id: str) -> Connection:
        if conn_id.startswith("__"):
            raise AttributeError(conn_id)
        return get_connection(conn_id)

    __getitem__ = __getattr__

    def get(self, conn_id: str, default: Any = None) -> Any:
        conn = find(conn_id)
        return default if conn is None else conn
