"""Executors carry out task tries: `local` (fork servers on this machine) and `dask`."""

from typing import Any


def make_executor(settings: Any) -> Any:
    """The executor the settings ask for."""
    if settings.executor == "local":
        from flowctl.executors.local import LocalExecutor

        return LocalExecutor()
    from flowctl.executors.dask import DaskExecutor

    return DaskExecutor(settings.dask_address, settings.workers)
