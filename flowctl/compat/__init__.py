"""Compatibility layers. `compat/airflow` is the `airflow` package DAG files import:
the loader puts this folder (not the package `flowctl.compat`) on sys.path, so
the modules there are only ever imported as `airflow...`.

`import_error_message` turns an import of a part of Airflow flowctl does not
have into one line that says so (a provider package, or a module outside the
core and standard-provider API).
"""

from __future__ import annotations

import re

_NAMESPACES = {"apache", "cncf", "microsoft", "common", "atlassian", "dbt", "alibaba"}


def provider_package(module: str) -> str | None:
    """`airflow.providers.cncf.kubernetes.operators.pod` -> `apache-airflow-providers-cncf-kubernetes`."""
    parts = module.split(".")
    if len(parts) < 3 or parts[:2] != ["airflow", "providers"]:
        return None
    name = parts[2]
    if name in _NAMESPACES and len(parts) > 3:
        name = f"{name}-{parts[3]}"
    return "apache-airflow-providers-" + name.replace("_", "-")


def import_error_message(exc: BaseException, source_line: str | None = None) -> str | None:
    """One line for an ImportError of a part of `airflow` flowctl does not have, else None.
    `source_line` (the DAG file's import statement) names the module more fully than
    the exception does (`airflow.providers.cncf` -> `...cncf.kubernetes.operators.pod`)."""
    if not isinstance(exc, ImportError):
        return None
    name = exc.name or ""
    if not (name == "airflow" or name.startswith("airflow.")):
        return None
    stated = re.search(r"\b(?:from|import)\s+(airflow[\w.]*)", source_line or "")
    if stated and stated.group(1).startswith(name):
        name = stated.group(1) if isinstance(exc, ModuleNotFoundError) else name
    package = provider_package(name)
    if package is not None and package not in ("apache-airflow-providers-standard", "apache-airflow-providers-smtp"):
        return (f"this DAG file needs the Airflow provider package {package} ({name}), which flowctl "
                "does not ship: flowctl runs DAG code that uses Airflow's core and standard provider")
    missing = re.search(r"cannot import name '([^']+)'", str(exc))
    if missing:
        return (f"flowctl's airflow layer has no {name}.{missing.group(1)}: it covers the names of Airflow's core "
                "and standard provider that DAG files use (see README: Moving from Airflow)")
    if isinstance(exc, ModuleNotFoundError):
        what = "Airflow 1's contributed modules" if name.startswith("airflow.contrib") else "this module"
        return (f"flowctl's airflow layer has no module {name} ({what}): it covers the core and "
                "standard-provider API DAG files use (see README: Moving from Airflow)")
    return None
