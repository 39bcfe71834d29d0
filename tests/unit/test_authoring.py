"""The authoring API: edges, chain, TaskFlow references, defaults, validation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flowctl import DAG, BashOperator, EmptyOperator, PythonOperator, chain, dag, task
from flowctl.errors import DagDefinitionError

pytestmark = pytest.mark.timeout(10)


def edges(d):
    return sorted((u, t.task_id) for t in d.tasks.values() for u in t.upstream_task_ids)


def test_shift_operators_and_lists():
    """`a >> [b, c] >> d` and `<<` make the edges they read as."""
    with DAG("d", schedule=None) as d:
        a, b, c, e = (EmptyOperator(task_id=x) for x in "abce")
        a >> [b, c]
        e << [b, c]
    assert edges(d) == [("a", "b"), ("a", "c"), ("b", "e"), ("c", "e")]


def test_chain_pairs_equal_lists():
    """chain(a, [b, c], [d, e], f) links b->d and c->e pairwise, as Airflow does."""
    with DAG("d", schedule=None) as d:
        a, b, c, x, y, f = (EmptyOperator(task_id=t) for t in ("a", "b", "c", "x", "y", "f"))
        chain(a, [b, c], [x, y], f)
    assert edges(d) == [("a", "b"), ("a", "c"), ("b", "x"), ("c", "y"), ("x", "f"), ("y", "f")]


def test_set_upstream_and_downstream():
    """set_upstream / set_downstream are the method forms of the edges."""
    with DAG("d", schedule=None) as d:
        a, b, c = (EmptyOperator(task_id=t) for t in "abc")
        b.set_upstream(a)
        b.set_downstream(c)
    assert edges(d) == [("a", "b"), ("b", "c")]


def test_taskflow_reference_makes_an_edge():
    """Passing a @task result to another @task call adds the edge."""
    with DAG("d", schedule=None) as d:
        @task
        def one():
            return 1

        @task
        def two(x):
            return x + 1

        two(one())
    assert edges(d) == [("one", "two")]


def test_dag_decorator_names_the_dag_after_the_function():
    """@dag builds a DAG named after the function when called."""
    @dag(schedule=None)
    def my_pipeline():
        EmptyOperator(task_id="only")

    built = my_pipeline()
    assert built.dag_id == "my_pipeline" and list(built.tasks) == ["only"]


def test_default_args_fill_and_explicit_args_win():
    """default_args fill what a task does not say; the task's own argument wins."""
    with DAG("d", schedule=None, default_args={"retries": 3, "retry_delay": timedelta(seconds=5)}):
        a = BashOperator(task_id="a", bash_command="true")
        b = BashOperator(task_id="b", bash_command="true", retries=0)
    assert (a.retries, a.retry_delay, b.retries) == (3, timedelta(seconds=5), 0)


def test_cycle_names_its_tasks():
    """A cycle is an error that names the tasks in it."""
    with DAG("d", schedule=None) as d:
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        a >> b >> a
    with pytest.raises(DagDefinitionError, match="a -> b -> a"):
        d.validate()


def test_duplicate_task_id_is_an_error():
    """Two tasks with one id in a DAG are refused, naming the id."""
    with pytest.raises(DagDefinitionError, match="duplicate task id 'x'"):
        with DAG("d", schedule=None):
            EmptyOperator(task_id="x")
            EmptyOperator(task_id="x")


def test_unknown_argument_and_trigger_rule_are_errors():
    """Typos in arguments are caught when the file is imported."""
    with DAG("d", schedule=None):
        with pytest.raises(DagDefinitionError, match="unknown argument"):
            PythonOperator(task_id="p", python_callable=print, retires=2)
        with pytest.raises(DagDefinitionError, match="unknown trigger_rule"):
            EmptyOperator(task_id="e", trigger_rule="all_sucess")


def test_task_outside_a_dag_is_an_error():
    """An operator needs a DAG."""
    with pytest.raises(DagDefinitionError, match="inside a DAG"):
        EmptyOperator(task_id="lonely")


def test_task_groups_prefix_ids_and_link_roots_and_leaves():
    """Edges into a group reach its roots and edges out of it leave from its
    leaves, nested groups included; ids carry the group prefix."""
    from flowctl import TaskGroup

    with DAG("d", schedule=None) as d:
        start = EmptyOperator(task_id="start")
        with TaskGroup("load") as load:
            first = EmptyOperator(task_id="first")
            with TaskGroup("inner") as inner:
                EmptyOperator(task_id="deep")
            first >> inner
        end = EmptyOperator(task_id="end")
        start >> load >> end
    assert sorted(d.tasks) == ["end", "load.first", "load.inner.deep", "start"]
    assert edges(d) == [("load.first", "load.inner.deep"), ("load.inner.deep", "end"), ("start", "load.first")]
