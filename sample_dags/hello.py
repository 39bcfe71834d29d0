# hello: the smallest useful DAG. A Bash task, a Python task and two TaskFlow
# tasks passing a value; run it with `flowctl run hello`.
import pendulum

from flowctl import DAG, BashOperator, PythonOperator, task


def greet(ds, params):
    print(f"Hello from {ds}, {params['name']}!")
    return {"greeted": params["name"]}


with DAG(
    dag_id="hello",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"name": "world"},
    tags=["example"],
) as dag:
    say = BashOperator(task_id="say", bash_command="echo 'running for {{ ds }}'; echo {{ ds_nodash }}")
    py = PythonOperator(task_id="greet", python_callable=greet)

    @task
    def numbers() -> list[int]:
        return [1, 2, 3, 4]

    @task
    def total(values: list[int]) -> int:
        print(f"adding {values}")
        return sum(values)

    say >> py >> total(numbers())
