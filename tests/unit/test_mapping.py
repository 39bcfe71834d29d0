"""Dynamic task mapping on the engine's loop: a real store in a temporary
home, the in-process executor and a fake clock. A mapped task becomes one
instance per element when it may run; the count comes from the committed
XCom of its upstream; empty input skips it, bad or too large input fails it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowctl import DAG, BashOperator, EmptyOperator, task
from flowctl.clock import FakeClock
from flowctl.engine.clearing import apply_clear, apply_mark, plan_clear
from flowctl.engine.drive import Driver
from flowctl.engine.runs import new_run
from flowctl.engine.scopes import RunScope
from flowctl.executors.base import Job
from flowctl.procs import owner_identity
from flowctl.records import RunKey, TaskInstance, TaskKey
from flowctl.specs import DagSpec
from flowctl.store import Store
from flowctl.testing import InlineExecutor, Outcome

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
ME = owner_identity("run")


def spec_of(dag: DAG) -> DagSpec:
    return DagSpec.from_dag(dag, "/dags/test.py", "UTC")


def make_run(store: Store, spec: DagSpec) -> RunKey:
    with store.transaction() as tx:
        run_id = new_run(tx, spec, run_type="manual", logical_date=T0, interval=(T0, T0 + timedelta(days=1)),
                         owner=ME, now=T0)
    assert run_id is not None
    return RunKey(spec.dag_id, run_id)


def carry(store: Store, spec: DagSpec, key: RunKey, ex: InlineExecutor, clock: FakeClock,
          max_map_length: int = 1024) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    driver = Driver(store=store, executor=ex, specs=lambda: {spec.dag_id: spec}, workers=2, owner=ME, clock=clock,
                    scope=RunScope({key}, store), announce=lambda kind, info: events.append((kind, info)),
                    max_map_length=max_map_length)
    return driver.run(), events


def tis(store: Store, key: RunKey) -> dict[str, TaskInstance]:
    """The instances as a fresh reader sees them on disk."""
    data = Store(store.home).read_run(*key)
    assert data is not None
    return {k.label(): ti for k, ti in data.tis.items()}


def returns(values: dict[str, Any]) -> Any:
    """Each try succeeds, returning `values[task_id]` (if any) as its XCom."""
    def behave(job: Job) -> Outcome:
        value = values.get(job.key.task_id)
        return Outcome({"state": "success", "xcom": {} if value is None else {"return_value": value}}, seconds=1)
    return behave


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def fan(upstream_value: Any = None, literal: list[Any] | None = None) -> DagSpec:
    """get >> double.expand(...) >> total"""
    with DAG("fan", schedule=None) as dag:
        @task
        def get() -> Any:
            return upstream_value

        @task
        def double(x: int) -> int:
            return x * 2

        @task
        def total(values: list[int]) -> int:
            return sum(values)

        doubled = double.expand(x=literal if literal is not None else get())
        total(doubled)
        if literal is not None:
            get()
    return spec_of(dag)


def test_a_literal_list_makes_one_instance_per_element(home: Path):
    store, clock = Store(home), FakeClock(T0)
    spec = fan(literal=[1, 2, 3])
    key = make_run(store, spec)
    ex = InlineExecutor(clock, returns({}))
    code, _ = carry(store, spec, key, ex, clock)
    assert code == 0
    got = tis(store, key)
    assert "double" not in got  # the place-holder gave way to its instances
    assert {k: ti.state for k, ti in got.items() if k.startswith("double")} == {
        "double[0]": "success", "double[1]": "success", "double[2]": "success"}
    assert sorted(j.key.map_index for j in ex.jobs if j.key.task_id == "double") == [0, 1, 2]
    assert store.read_run(*key).record.state == "success"


def test_the_count_comes_from_the_upstream_value_and_downstream_waits_for_every_instance(home: Path):
    store, clock = Store(home), FakeClock(T0)
    spec = fan(upstream_value=[5, 6, 7, 8])
    key = make_run(store, spec)
    ex = InlineExecutor(clock, returns({"get": [5, 6, 7, 8], "double": 1}))
    code, _ = carry(store, spec, key, ex, clock)
    assert code == 0
    got = tis(store, key)
    assert sorted(k for k in got if k.startswith("double")) == [f"double[{i}]" for i in range(4)]
    last_instance = max(datetime.fromisoformat(got[f"double[{i}]"].end_date) for i in range(4))
    assert datetime.fromisoformat(got["total"].start_date) >= last_instance
    data = store.read_run(*key)
    assert [data.xcom[(TaskKey("double", i), "return_value")] for i in range(4)] == [1, 1, 1, 1]


def test_an_empty_input_skips_the_task_and_its_downstream(home: Path):
    store, clock = Store(home), FakeClock(T0)
    spec = fan(upstream_value=[])
    key = make_run(store, spec)
    ex = InlineExecutor(clock, returns({"get": []}))
    code, _ = carry(store, spec, key, ex, clock)
    got = tis(store, key)
    assert got["double"].state == "skipped" and "empty" in got["double"].reason
    assert got["total"].state == "skipped"
    assert code == 0 and [j.key.task_id for j in ex.jobs] == ["get"]


def test_a_value_that_is_not_a_list_fails_the_task_and_says_why(home: Path):
    store, clock = Store(home), FakeClock(T0)
    spec = fan(upstream_value=7)
    key = make_run(store, spec)
    ex = InlineExecutor(clock, returns({"get": 7}))
    code, events = carry(store, spec, key, ex, clock)
    got = tis(store, key)
    assert code != 0
    assert got["double"].state == "failed"
    assert "cannot map over the value of 'get'" in got["double"].error and "int" in got["double"].error
    assert got["total"].state == "upstream_failed"
    assert any(kind == "task_finished" and info["task_id"] == "double" and info["state"] == "failed"
               for kind, info in events)


def test_more_instances_than_max_map_length_fail_the_task(home: Path):
    store, clock = Store(home), FakeClock(T0)
    spec = fan(upstream_value=[1, 2, 3])
    key = make_run(store, spec)
    ex = InlineExecutor(clock, returns({"get": [1, 2, 3]}))
    code, _ = carry(store, spec, key, ex, clock, max_map_length=2)
    got = tis(store, key)
    assert code != 0 and got["double"].state == "failed"
    assert "3 instances to map is more than max_map_length (2)" in got["double"].error
    assert not any(j.key.task_id == "double" for j in ex.jobs)


def test_a_failing_instance_is_retried_alone_and_fails_the_downstream(home: Path):
    store, clock = Store(home), FakeClock(T0)
    with DAG("retry", schedule=None) as dag:
        BashOperator.partial(task_id="cmd", retries=1, retry_delay=timedelta(seconds=30)).expand(
            bash_command=["true", "false", "true"]) >> EmptyOperator(task_id="after")
    spec = spec_of(dag)
    key = make_run(store, spec)

    def behave(job: Job) -> Outcome:
        ok = job.key.map_index != 1
        return Outcome({"state": "success" if ok else "failed", "xcom": {}, "error": None if ok else "exit 1"},
                       seconds=1)

    ex = InlineExecutor(clock, behave)
    code, _ = carry(store, spec, key, ex, clock)
    got = tis(store, key)
    assert code != 0
    assert [got[f"cmd[{i}]"].state for i in range(3)] == ["success", "failed", "success"]
    assert [got[f"cmd[{i}]"].try_number for i in range(3)] == [1, 2, 1]
    assert got["after"].state == "upstream_failed"


def test_mapping_over_a_mapped_task_counts_its_instances_values(home: Path):
    store, clock = Store(home), FakeClock(T0)
    with DAG("second", schedule=None) as dag:
        @task
        def nums() -> list[int]:
            return [1, 2, 3]

        @task
        def times_2(n: int) -> int:
            return n * 2

        @task
        def add_10(n: int) -> int:
            return n + 10

        add_10.expand(n=times_2.expand(n=nums()))
    spec = spec_of(dag)
    key = make_run(store, spec)

    def behave(job: Job) -> Outcome:
        value = {"nums": [1, 2, 3]}.get(job.key.task_id, None)
        if job.key.task_id == "times_2":
            value = None if job.key.map_index == 1 else 2  # an instance that returns nothing pushes nothing
        return Outcome({"state": "success", "xcom": {} if value is None else {"return_value": value}})

    ex = InlineExecutor(clock, behave)
    code, _ = carry(store, spec, key, ex, clock)
    got = tis(store, key)
    assert code == 0
    assert sorted(k for k in got if k.startswith("add_10")) == ["add_10[0]", "add_10[1]"]


def test_several_mapped_arguments_give_their_cross_product(home: Path):
    with DAG("cross", schedule=None) as dag:
        @task
        def pair(x: int, y: str) -> str:
            return f"{x}{y}"

        mapped = pair.expand(x=[1, 2], y=["a", "b", "c"])
    spec = spec_of(dag)
    assert spec.tasks["pair"].mapped == {"kind": "expand", "names": ["x", "y"],
                                         "inputs": [{"length": 2}, {"length": 3}]}
    op = mapped.operator
    assert [op.values_for(i, lambda a: None) for i in (0, 1, 3, 5)] == [
        {"x": 1, "y": "a"}, {"x": 1, "y": "b"}, {"x": 2, "y": "a"}, {"x": 2, "y": "c"}]
    store, clock = Store(home), FakeClock(T0)
    key = make_run(store, spec)
    code, _ = carry(store, spec, key, InlineExecutor(clock, returns({})), clock)
    assert code == 0 and len(tis(store, key)) == 6


def test_clearing_a_mapped_task_expands_it_anew_from_the_new_upstream_value(home: Path):
    store, clock = Store(home), FakeClock(T0)
    spec = fan(upstream_value=[1, 2, 3])
    key = make_run(store, spec)
    carry(store, spec, key, InlineExecutor(clock, returns({"get": [1, 2, 3], "double": 9})), clock)
    assert len([k for k in tis(store, key) if k.startswith("double[")]) == 3
    plan = plan_clear(store, spec, "fan", [key.run_id], task_regex="^get$", upstream=False, downstream=True,
                      only_failed=False, changed=False)
    assert {p["task_id"] for p in plan} == {"get", "double", "total"}
    apply_clear(store, spec, plan)
    cleared = tis(store, key)
    assert "double" in cleared and not any(k.startswith("double[") for k in cleared)
    assert (TaskKey("double", 2), "return_value") not in store.read_run(*key).xcom  # no stale value survives
    code, _ = carry(store, spec, key, InlineExecutor(clock, returns({"get": [1, 2, 3, 4, 5], "double": 9})), clock)
    got = tis(store, key)
    assert code == 0 and len([k for k in got if k.startswith("double[")]) == 5
    assert got["get"].try_number == 2


def test_marking_a_mapped_task_marks_every_instance(home: Path):
    store, clock = Store(home), FakeClock(T0)
    spec = fan(upstream_value=[1, 2])

    def behave(job: Job) -> Outcome:
        if job.key.task_id == "double":
            return Outcome({"state": "failed", "xcom": {}, "error": "boom"})
        return returns({"get": [1, 2]})(job)

    key = make_run(store, spec)
    carry(store, spec, key, InlineExecutor(clock, behave), clock)
    assert tis(store, key)["total"].state == "upstream_failed"
    marked = apply_mark(store, spec, "fan", key.run_id, "double", "success", downstream=False)
    got = tis(store, key)
    assert marked.marked == ["double"] and marked.reset == {"total": "upstream_failed"}
    assert got["double[0]"].state == got["double[1]"].state == "success"
    assert got["total"].state == "none"


def test_a_run_summary_shows_a_mapped_task_as_one_row(home: Path):
    store, clock = Store(home), FakeClock(T0)
    spec = fan(literal=[1, 2, 3])
    key = make_run(store, spec)
    carry(store, spec, key, InlineExecutor(clock, returns({})), clock)
    doc = store.read_run(*key).task_instances["double"]
    assert doc["state"] == "success" and doc["map_count"] == 3 and doc["map_states"] == {"success": 3}


def test_map_zip_and_concat_count_and_shape_the_elements(home: Path):
    """`.map(f)` keeps the count, `.zip` goes to the shortest (the longest with a
    fillvalue), `.concat` adds up; each instance gets its element."""
    with DAG("shapes", schedule=None) as dag:
        @task
        def letters() -> list[str]:
            return ["a", "b", "c"]

        @task
        def nums() -> list[int]:
            return [1, 2]

        @task
        def show(x: Any) -> Any:
            return x

        got_letters, got_nums = letters(), nums()
        upper = show.override(task_id="upper").expand(x=got_letters.map(str.upper))
        pairs = show.override(task_id="pairs").expand(x=got_letters.zip(got_nums))
        padded = show.override(task_id="padded").expand(x=got_letters.zip(got_nums, fillvalue=0))
        both = show.override(task_id="both").expand(x=got_letters.concat(got_nums))
    spec = spec_of(dag)
    assert list(spec.tasks["upper"].upstream) == ["letters"] and sorted(spec.tasks["pairs"].upstream) == ["letters", "nums"]
    store, clock = Store(home), FakeClock(T0)
    key = make_run(store, spec)
    code, _ = carry(store, spec, key, InlineExecutor(clock, returns({"letters": ["a", "b", "c"], "nums": [1, 2]})),
                    clock)
    got = tis(store, key)
    count = {name: len([k for k in got if k.startswith(f"{name}[")]) for name in ("upper", "pairs", "padded", "both")}
    assert code == 0 and count == {"upper": 3, "pairs": 2, "padded": 3, "both": 5}
    values = {"letters": ["a", "b", "c"], "nums": [1, 2]}
    pull = lambda arg: values[arg.operator.task_id]  # noqa: E731
    assert [upper.operator.values_for(i, pull) for i in range(3)] == [{"x": "A"}, {"x": "B"}, {"x": "C"}]
    assert padded.operator.values_for(2, pull) == {"x": ("c", 0)}
    assert both.operator.values_for(4, pull) == {"x": 2}
    assert pairs.operator.values_for(1, pull) == {"x": ("b", 2)}


def test_a_try_gets_its_upstream_values_with_its_payload(home: Path):
    """The values a task's upstream tasks committed ride with its try, so an
    instance need not read the whole run from the store (a thousand instances
    reading a growing run would cost the square of its size)."""
    store, clock = Store(home), FakeClock(T0)
    spec = fan(upstream_value=[5, 6])
    key = make_run(store, spec)
    ex = InlineExecutor(clock, returns({"get": [5, 6], "double": 1}))
    code, _ = carry(store, spec, key, ex, clock)
    assert code == 0
    double = [j.payload["xcom_given"] for j in ex.jobs if j.key.task_id == "double"]
    assert double and all(g == {"tasks": ["get"], "values": [
        {"task_id": "get", "map_index": -1, "key": "return_value", "value": [5, 6]}]} for g in double)
    total = next(j.payload["xcom_given"] for j in ex.jobs if j.key.task_id == "total")
    assert total["tasks"] == ["double"] and sorted(v["map_index"] for v in total["values"]) == [0, 1]


def test_the_task_process_uses_the_values_it_was_given():
    """execute_task with no store at all: the mapped instance and the reducer
    get their values from the payload."""
    from flowctl.runtime.runner import execute_task

    with DAG("given", schedule=None) as dag:
        @task
        def get() -> list[int]:
            return [5, 6]

        @task
        def double(x: int) -> int:
            return x * 2

        @task
        def total(values: list[int]) -> int:
            return sum(values)

        total(double.expand(x=get()))

    def payload(task_id: str, map_index: int, given: dict[str, Any]) -> dict[str, Any]:
        return {"dag_id": "given", "run_id": "manual__x", "task_id": task_id, "map_index": map_index,
                "try_number": 1, "timezone": "UTC", "fileloc": "/dags/given.py", "xcom_given": given,
                "run": {"run_id": "manual__x", "run_type": "manual", "logical_date": T0.isoformat(),
                        "data_interval_start": T0.isoformat(), "data_interval_end": T0.isoformat(), "conf": {}}}

    got = execute_task(dag, payload("double", 1, {"tasks": ["get"], "values": [
        {"task_id": "get", "map_index": -1, "key": "return_value", "value": [5, 6]}]}), None)
    assert got["state"] == "success" and got["xcom"] == {"return_value": 12}
    got = execute_task(dag, payload("total", -1, {"tasks": ["double"], "values": [
        {"task_id": "double", "map_index": i, "key": "return_value", "value": v} for i, v in ((1, 12), (0, 10))]}),
        None)
    assert got["xcom"] == {"return_value": 22}
