"""Variables and Connections in the home, as Airflow's models and templates read them."""

from __future__ import annotations

import json
import os
import stat

import pytest

from flowctl import connections, masking, variables

pytestmark = pytest.mark.timeout(10)


@pytest.fixture
def home(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith(("AIRFLOW_VAR_", "AIRFLOW_CONN_")):
            monkeypatch.delenv(key)
    variables.use_home(tmp_path)
    masking.forget_all()
    yield tmp_path
    variables.use_home(None)
    masking.forget_all()


def test_variable_get_set_json_default_and_env_override(home, monkeypatch):
    """Variable.get/set as Airflow: strings, JSON both ways, default_var, AIRFLOW_VAR_ wins."""
    V = variables.Variable
    V.set("bucket", "s3://raw")
    V.set("cfg", {"region": "eu", "n": 3}, serialize_json=True)
    assert V.get("bucket") == "s3://raw"
    assert V.get("cfg", deserialize_json=True) == {"region": "eu", "n": 3}
    assert V.get("missing", default_var=None) is None
    with pytest.raises(KeyError):
        V.get("missing")
    monkeypatch.setenv("AIRFLOW_VAR_BUCKET", "s3://from-env")
    assert V.get("bucket") == "s3://from-env"
    path = home / "variables.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["variables"]["bucket"]["value"] == "s3://raw"


def test_a_sensitive_variable_is_registered_as_a_secret_once_read(home):
    """Reading a Variable whose key is sensitive redacts its value from what the task writes."""
    variables.Variable.set("api_token", "tok-12345")
    variables.Variable.get("api_token")
    assert masking.redact("sent tok-12345") == "sent ***"


def test_template_accessors(home):
    """{{ var.value.x }}, {{ var.json.x.y }} and {{ conn.id.field }} read the same stores."""
    from jinja2 import Environment, StrictUndefined

    variables.Variable.set("who", "ann")
    variables.Variable.set("cfg", '{"region": "eu"}')
    connections.add(connections.Connection("db", uri="postgres://u:pw123456@db.local:5432/sales"))
    env = Environment(undefined=StrictUndefined)
    ctx = {"var": variables.VariableAccessor(), "conn": connections.ConnectionAccessor()}
    text = "{{ var.value.who }} {{ var.json.cfg.region }} {{ conn.db.host }}:{{ conn.db.port }} {{ var.value.get('nope', 'd') }}"
    assert env.from_string(text).render(ctx) == "ann eu db.local:5432 d"


def test_connection_uri_round_trip_and_fields():
    """Airflow's URI form: scheme -> conn_type, quoted login/password, schema, query -> extra."""
    conn = connections.Connection("x", uri="postgresql://ann:p%40ss%2Fw@db.example:5433/sales?sslmode=require&timeout=5")
    assert (conn.conn_type, conn.login, conn.password, conn.host, conn.port, conn.schema) == (
        "postgres", "ann", "p@ss/w", "db.example", 5433, "sales")
    assert conn.extra_dejson == {"sslmode": "require", "timeout": "5"}
    again = connections.Connection("y", uri=conn.get_uri())
    assert again.to_doc() == conn.to_doc()
    assert "p@ss" not in conn.masked_uri() and "***" in conn.masked_uri()


def test_connections_stored_env_json_and_basehook(home, monkeypatch):
    """add/get/delete in the home; AIRFLOW_CONN_ (URI or JSON) overrides; BaseHook.get_connection reads them."""
    from flowctl.errors import NotFound

    connections.add(connections.Connection("db", conn_type="postgres", host="h", login="u", password="pw-9876", port=5432))
    assert masking.redact("pw-9876") == "pw-9876"  # stored, not yet read: nothing to redact
    assert connections.get_connection("db").host == "h"
    assert masking.redact("pw-9876") == "***"
    with pytest.raises(Exception, match="already exists"):
        connections.add(connections.Connection("db", conn_type="http"))
    monkeypatch.setenv("AIRFLOW_CONN_API", json.dumps({"conn_type": "http", "host": "api.example", "extra": {"token": "tk-555555"}}))
    api = connections.BaseHook.get_connection("api")
    assert api.host == "api.example" and api.extra_dejson == {"token": "tk-555555"}
    assert masking.redact("token tk-555555") == "token ***"
    assert connections.delete("db") and not connections.delete("db")
    with pytest.raises(NotFound, match="isn't defined"):
        connections.get_connection("db")
    assert stat.S_IMODE((home / "connections.json").stat().st_mode) == 0o600


def test_masked_doc_never_shows_the_password():
    """What listings show: the password as ***, sensitive extras masked."""
    conn = connections.Connection("c", conn_type="http", host="h", password="s3cret", extra={"api_key": "k", "n": 1})
    doc = conn.masked_doc()
    assert doc["password"] == "***" and doc["extra"] == {"api_key": "***", "n": 1}
