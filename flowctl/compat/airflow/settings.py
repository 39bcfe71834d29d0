"""airflow.settings: `Session` is importable and refused when called (see airflow.utils.session)."""

from __future__ import annotations

import os
from typing import Any, NoReturn

from airflow.utils.session import no_session

DAGS_FOLDER = os.environ.get("FLOWCTL_DAGS_FOLDER", "dags")


def Session(*args: Any, **kwargs: Any) -> NoReturn:  # noqa: N802 (Airflow's name)
    no_session("airflow.settings.Session")


__all__ = ['DAGS_FOLDER', 'Session']
