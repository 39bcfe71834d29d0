"""airflow.sdk.bases: base classes."""
