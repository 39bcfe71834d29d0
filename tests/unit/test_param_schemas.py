"""Params: Airflow's Param checked with JSON Schema, when a run is made (on the
schemas the DagSpec records) and in the task."""

from __future__ import annotations

import pytest

from flowctl import DAG, EmptyOperator, Param
from flowctl.authoring.params import conf_problem, schema_problem
from flowctl.engine.runs import ParamsRefused, check_params
from flowctl.specs import DagSpec

pytestmark = pytest.mark.timeout(30)


def spec_with(**params) -> DagSpec:
    with DAG("p", schedule=None, params=params) as dag:
        EmptyOperator(task_id="t")
    return DagSpec.from_dag(dag, "/dags/p.py", "UTC")


@pytest.mark.parametrize("param, value, words", [
    pytest.param(Param(5, type="integer"), "five", "'five' is not of type 'integer' (rule: type)", id="type"),
    pytest.param(Param(5, type="integer"), True, "True is not of type 'integer' (rule: type)", id="bool-is-no-int"),
    pytest.param(Param("a", enum=["a", "b"]), "c", "'c' is not one of ['a', 'b'] (rule: enum)", id="enum"),
    pytest.param(Param(5, type="integer", minimum=1), 0, "0 is less than the minimum of 1 (rule: minimum)",
                 id="minimum"),
    pytest.param(Param(5, type="number", maximum=10), 10.5, "10.5 is greater than the maximum of 10 (rule: maximum)",
                 id="maximum"),
    pytest.param(Param("abc", type="string", minLength=2), "a", "'a' is too short (rule: minLength)", id="minLength"),
    pytest.param(Param("2026-01-01", type="string", format="date"), "01/01/2026",
                 "'01/01/2026' is not a 'date' (rule: format)", id="format"),
    pytest.param(Param([1], type="array", items={"type": "integer"}), [1, "x"],
                 "[1]: 'x' is not of type 'integer' (rule: type)", id="array-items"),
])
def test_a_value_against_its_param(param, value, words):
    """Each JSON Schema rule refuses with the rule named; the default itself passes."""
    assert schema_problem(param.value, param.schema) is None
    assert schema_problem(value, param.schema) == words


def test_a_run_conf_is_checked_against_every_param():
    """The conf's value is checked, else the default; a param with no default must be given;
    conf keys that are not params are the run's own business."""
    spec = spec_with(limit=Param(10, type="integer", minimum=1), mode=Param("fast", enum=["fast", "slow"]),
                     plain=3)
    assert conf_problem(spec.param_schemas, {}) is None
    assert conf_problem(spec.param_schemas, {"limit": 4, "other": "x"}) is None
    assert conf_problem(spec.param_schemas, {"limit": 0}) == (
        "param 'limit' = 0 is refused: 0 is less than the minimum of 1 (rule: minimum)")
    with pytest.raises(ParamsRefused, match="param 'mode' = \"medium\" is refused") as err:
        check_params(spec, {"mode": "medium"})
    assert err.value.exit_code == 2
    required = spec_with(day=Param(type="string"))
    assert conf_problem(required.param_schemas, {}) == "param 'day' has no default and --conf does not give it"
    assert conf_problem(required.param_schemas, {"day": "mon"}) is None


def test_a_secret_default_is_masked_in_the_spec():
    """A secret-looking param's default never lands in the DAG cache; a given value is still checked."""
    spec = spec_with(api_token=Param("s3cret", type="string", minLength=3))
    entry = spec.param_schemas["api_token"]
    assert entry["default"] == "***" and entry["masked"]
    assert conf_problem(spec.param_schemas, {}) is None
    assert "too short" in conf_problem(spec.param_schemas, {"api_token": "x"})
