"""One rule for ids (Airflow's: Unicode letters and digits, `_`, `.`, `-`) in the
authoring model and in the home's paths, and graph walks that take a chain of
any length (flowctl/home.py, flowctl/authoring/dag.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from flowctl import DAG, EmptyOperator, TaskGroup, chain
from flowctl.authoring.dag import check_id
from flowctl.errors import DagDefinitionError, UsageError
from flowctl.home import Home, is_valid_id, safe_component

pytestmark = pytest.mark.timeout(60)

START = datetime(2026, 1, 1)


@pytest.mark.parametrize("value", [
    pytest.param("café", id="latin"),
    pytest.param("tâche", id="circumflex"),
    pytest.param("データ", id="japanese"),
    pytest.param("группа.задача", id="cyrillic-group"),
    pytest.param(".hidden", id="leading-dot"),
    pytest.param("a" * 250, id="250-characters"),
])
def test_an_id_the_loader_accepts_the_store_accepts(value: str, tmp_path):
    """Any id `check_id` lets a DAG file use is a path component the home takes."""
    assert check_id("dag_id", value) == value
    assert is_valid_id(value)
    assert safe_component(value, "DAG id") == value
    assert Home(tmp_path).log_file(value, "manual__x", value, 1).is_relative_to(tmp_path / "logs")


@pytest.mark.parametrize("value", [
    pytest.param("", id="empty"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="dot-dot"),
    pytest.param("a/b", id="slash"),
    pytest.param("../x", id="parent"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("a b", id="space"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\udcffb", id="lone-surrogate"),
    pytest.param("a" * 251, id="251-characters"),
    pytest.param("é" * 128, id="over-255-bytes"),
])
def test_an_id_that_could_escape_or_not_fit_is_refused_by_both(value: str):
    """Separators, NUL, `.`/`..`, ids too long in characters or for one file name:
    an import error at load, and never a path."""
    assert not is_valid_id(value)
    with pytest.raises(DagDefinitionError):
        check_id("dag_id", value)
    with pytest.raises(UsageError):
        safe_component(value, "DAG id")


def test_a_5000_task_chain_is_ordered():
    """A linear chain far deeper than Python's recursion limit is ordered upstream first."""
    with DAG("long", schedule=None, start_date=START) as dag:
        chain(*[EmptyOperator(task_id=f"t{i}") for i in range(5000)])
    dag.validate()
    assert dag.topological_order() == [f"t{i}" for i in range(5000)]


def test_a_cycle_in_a_long_chain_is_still_named():
    """The walk without recursion still names the cycle it finds, in order."""
    with DAG("loop", schedule=None, start_date=START) as dag:
        tasks = [EmptyOperator(task_id=f"t{i}") for i in range(3000)]
        chain(*tasks)
        tasks[-1] >> tasks[2997]
    with pytest.raises(DagDefinitionError, match=r"has a cycle: t2997 -> t2998 -> t2999 -> t2997$"):
        dag.topological_order()


def test_a_long_chain_of_teardowns_in_a_group_finds_the_work_before_them():
    """An edge from a group ending in 3,000 teardowns leaves from the work before them."""
    with DAG("tear", schedule=None, start_date=START) as dag:
        with TaskGroup("g") as group:
            work = EmptyOperator(task_id="work")
            downs = [EmptyOperator(task_id=f"down{i}").as_teardown() for i in range(3000)]
            chain(work, *downs)
        after = EmptyOperator(task_id="after")
        group >> after
    assert [t.task_id for t in group.leaves()] == ["g.work"]
    assert "after" in dag.get_task("g.work").downstream_task_ids
