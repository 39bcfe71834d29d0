"""airflow.sdk.api."""
