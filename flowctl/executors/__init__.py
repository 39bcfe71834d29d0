"""Executors carry out task tries: `local` (fork servers on this machine) and `dask`."""
