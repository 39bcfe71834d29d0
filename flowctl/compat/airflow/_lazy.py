"""Attribute access to a package's submodules, as after Airflow's eager `import airflow`.

Airflow's `import airflow` imports settings, models and much of utils, so DAG files
write `airflow.utils.dates.days_ago(1)` after a bare `import airflow`. The layer keeps
`import airflow` cheap and imports `airflow.<name>` on first attribute access instead
(PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def submodule_getattr(package: str) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `package.<name>`; AttributeError when there is none."""

    def __getattr__(name: str) -> Any:
        if not name.startswith("_"):
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
