"""airflow.providers: only `standard` (and smtp's EmailOperator) are part of flowctl."""
