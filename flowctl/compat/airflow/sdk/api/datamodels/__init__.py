"""airflow.sdk.api.datamodels."""
