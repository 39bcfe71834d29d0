"""airflow.sdk.definitions: where Airflow 3 defines its authoring names."""
