# weather: the DAG of the README's tour. A Bash task writes a file and hands
# its path on; a TaskFlow task reads it; another reports. Run it with
# `flowctl run weather`.
import pendulum

from flowctl import DAG, BashOperator, task

with DAG(
    dag_id="weather",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam"),
    catchup=False,
    default_args={"retries": 2},
) as dag:
    fetch = BashOperator(
        task_id="fetch",
        bash_command="mkdir -p data && echo '{\"temp\": 12}' > data/{{ ds }}.json && echo data/{{ ds }}.json",
    )

    @task
    def parse(path: str) -> float:
        import json
        return json.load(open(path))["temp"]

    @task
    def report(temp: float, ds=None):
        print(f"{ds}: {temp} degrees")

    report(parse(fetch.output))
