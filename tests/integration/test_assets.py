"""Assets through the real `flowctl` command: outlets recorded with their task's
success, DAGs scheduled on assets (lists, `&`, `|`) run by the scheduler with
the triggering events in their context, `assets list`, `dags next`, `explain`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(180)

PIPELINE = """
import pendulum
from flowctl import DAG, Asset, BashOperator, PythonOperator, task

raw = Asset("s3://lake/raw.csv")
clean = Asset(name="clean", uri="file:///tmp/lake/clean.parquet")
report = Asset("s3://lake/report.pdf")

with DAG("ingest", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    BashOperator(task_id="download", bash_command="echo rows", outlets=[raw])

with DAG("tidy", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    @task(outlets=[clean])
    def tidy(*, outlet_events=None):
        outlet_events[clean].extra = {"rows": 42}
    tidy()

with DAG("on_raw", schedule=[raw], start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    @task
    def show(triggering_asset_events=None, dag_run=None):
        for asset, events in triggering_asset_events.items():
            for e in events:
                print(f"got {asset.uri} from {e.source_dag_id}.{e.source_task_id} extra={e.extra}")
        print(f"run type {dag_run.run_type}")
    show()

with DAG("on_both", schedule=raw & clean, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    @task
    def both(triggering_asset_events=None):
        import json
        print("extras", " | ".join(sorted(json.dumps(e.extra) for es in triggering_asset_events.values() for e in es)))
    both()

with DAG("on_either", schedule=raw | clean, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    PythonOperator(task_id="either", python_callable=lambda: None, outlets=[report])
"""


def run_ids(flow, dag_id: str) -> list[str]:
    return [r["run_id"] for r in flow("runs", "list", "--dag", dag_id, "--json").json()]


def until_idle(flow) -> str:
    res = flow("scheduler", "--until-idle", timeout=150)
    assert res.code == 0, res.out + res.err
    return res.out + res.err


def test_outlets_schedule_consumers_with_their_events(flow):
    """ingest updates raw: on_raw and on_either run (once each), on_both waits for clean;
    tidy updates clean (with an extra): on_both runs with both events, on_either again."""
    flow.write_dag("pipeline.py", PIPELINE)
    assert flow("run", "ingest").code == 0
    out = until_idle(flow)
    assert "for on_raw (assets updated: s3://lake/raw.csv)" in out
    assert len(run_ids(flow, "on_raw")) == 1 and len(run_ids(flow, "on_either")) == 1
    assert run_ids(flow, "on_both") == []
    (run,) = run_ids(flow, "on_raw")
    assert run.startswith("asset_triggered__")
    log = flow("logs", "on_raw", run, "show").out
    assert "got s3://lake/raw.csv from ingest.download extra={}" in log and "run type asset_triggered" in log

    assert flow("run", "tidy").code == 0
    until_idle(flow)
    assert len(run_ids(flow, "on_both")) == 1 and len(run_ids(flow, "on_either")) == 2
    assert len(run_ids(flow, "on_raw")) == 1  # nothing new for it
    (both,) = run_ids(flow, "on_both")
    assert 'extras {"rows": 42} | {}' in flow("logs", "on_both", both, "both").out
    doc = next(r for r in flow("runs", "list", "--json").json() if r["dag_id"] == "on_both")
    assert doc["run_type"] == "asset_triggered"
    assert [e["uri"] for e in doc["triggering_asset_events"]] == ["s3://lake/raw.csv", "file:///tmp/lake/clean.parquet"]


def test_assets_list_shows_producers_consumers_and_last_update(flow):
    """`assets list --json`: each asset, who updates it, which DAGs it schedules, its last update."""
    flow.write_dag("pipeline.py", PIPELINE)
    rows = {r["uri"]: r for r in flow("assets", "list", "--json").json()}
    assert rows["s3://lake/raw.csv"]["producers"] == ["ingest.download"]
    assert rows["s3://lake/raw.csv"]["consumers"] == ["on_both", "on_either", "on_raw"]
    assert rows["s3://lake/raw.csv"]["last_update"] is None and rows["s3://lake/raw.csv"]["events"] == 0
    assert rows["file:///tmp/lake/clean.parquet"]["name"] == "clean"
    assert flow("run", "ingest").code == 0
    rows = {r["uri"]: r for r in flow("assets", "list", "--json").json()}
    raw = rows["s3://lake/raw.csv"]
    assert raw["events"] == 1 and raw["last_update"].endswith("+00:00")
    assert raw["last_producer"].startswith("ingest.download manual__")
    table = flow("assets", "list").out
    assert "s3://lake/raw.csv" in table and "ingest.download" in table and "never" in table
    events = flow("assets", "events", "s3://lake/raw.csv", "--json").json()
    assert [(e["n"], e["task_id"], e["queued_for"]) for e in events] == [(1, "download", ["on_both", "on_either",
                                                                                          "on_raw"])]


def test_dags_list_next_and_explain_speak_of_assets(flow):
    """`dags list` says "on asset updates" (and the condition in --json), `dags next` what
    the DAG still waits for, `explain` what made an asset-triggered run and what a task updated."""
    flow.write_dag("pipeline.py", PIPELINE)
    dags = {d["dag_id"]: d for d in flow("dags", "list", "--json").json()}
    assert dags["on_both"]["schedule"] == "on asset updates"
    assert dags["on_both"]["asset_condition"] == "s3://lake/raw.csv & file:///tmp/lake/clean.parquet"
    assert dags["on_both"]["next_data_interval_start"] is None and dags["ingest"]["asset_condition"] is None
    assert flow("dags", "next", "on_both", "--json").json() == []
    assert flow("run", "ingest").code == 0
    out = flow("dags", "next", "on_both").out
    assert "on_both runs on asset updates: s3://lake/raw.csv & file:///tmp/lake/clean.parquet" in out
    assert "updated since its last asset-triggered run: s3://lake/raw.csv" in out
    (ingest,) = run_ids(flow, "ingest")
    assert "updated s3://lake/raw.csv" in flow("explain", "ingest", ingest).out
    until_idle(flow)
    (run,) = run_ids(flow, "on_raw")
    doc = flow("explain", "on_raw", run, "--json").json()
    assert any("made by 1 asset event(s): s3://lake/raw.csv (by ingest.download)" in n for n in doc["notes"])


def test_datasets_airflow_2_spelling(flow):
    """Airflow 2's Dataset, `schedule=[Dataset(...)]` and `triggering_dataset_events` keyed by URI."""
    flow.write_dag("ds.py", """
        import pendulum
        from airflow import DAG
        from airflow.datasets import Dataset
        from airflow.operators.bash import BashOperator
        from airflow.operators.python import PythonOperator

        ds = Dataset("s3://old/style.csv")
        with DAG("make", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
            BashOperator(task_id="m", bash_command="true", outlets=[ds])

        def read(triggering_dataset_events=None):
            print("events for", [str(uri) for uri in triggering_dataset_events],
                  len(triggering_dataset_events["s3://old/style.csv"]))

        with DAG("use", schedule=[ds], start_date=pendulum.datetime(2026, 1, 1)):
            PythonOperator(task_id="u", python_callable=read)
    """)
    assert flow("run", "make").code == 0
    until_idle(flow)
    (run,) = run_ids(flow, "use")
    assert "events for [\"Asset('s3://old/style.csv')\"] 1" in flow("logs", "use", run, "u").out


def test_a_paused_consumer_gets_no_run(flow):
    """A consumer paused when its asset is updated is not queued for (Airflow's rule)."""
    flow.write_dag("pipeline.py", PIPELINE)
    assert flow("pause", "on_raw").code == 0
    assert flow("run", "ingest").code == 0
    assert flow("unpause", "on_raw").code == 0
    until_idle(flow)
    assert run_ids(flow, "on_raw") == [] and len(run_ids(flow, "on_either")) == 1
