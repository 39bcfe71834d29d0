"""Airflow features flowctl refuses, each with a one-line reason."""

from __future__ import annotations

from typing import Any, NoReturn

from flowctl.errors import DagDefinitionError


def refuse(name: str, why: str) -> NoReturn:
    raise DagDefinitionError(f"{name}: {why} (see README: Moving from Airflow)")


def _refused_class(name: str, why: str) -> type:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        refuse(name, why)

    return type(name, (), {"__init__": __init__, "__doc__": f"Refused by flowctl: {why}."})


SubDagOperator = _refused_class("SubDagOperator", "SubDAGs were deprecated in Airflow 2 and removed in 3; flowctl runs none: use a TaskGroup")
