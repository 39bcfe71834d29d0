"""airflow.models.param"""

from __future__ import annotations

from flowctl.authoring.params import Param, ParamsDict  # noqa: F401

__all__ = ['Param', 'ParamsDict']
