# user_events_etl: an incremental daily ETL, keyed by the data interval.
# Each run generates one day of (synthetic, offline) user events into
# sample_output/events/<ds>.jsonl, checks the file, aggregates it into
# sample_output/stats/<ds>.json and reports. Re-running a day rewrites that
# day only, so `flowctl backfill user_events_etl --start ... --end ...`
# rebuilds history and `flowctl clear` re-runs a day after a code change.
import json
import random
from collections import Counter
from pathlib import Path

import pendulum

from flowctl import DAG, BashOperator, task

OUT = Path(__file__).resolve().parent.parent / "sample_output"
EVENT_TYPES = ["page_view", "click", "signup", "purchase"]

with DAG(
    dag_id="user_events_etl",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 1, "retry_delay": pendulum.duration(seconds=10)},
    params={"events_per_day": 500},
    tags=["example", "etl"],
) as dag:

    @task
    def extract(ds=None, params=None) -> str:
        """Generate the day's events; the same day always gives the same events."""
        rng = random.Random(ds)
        day = pendulum.parse(ds)
        path = OUT / "events" / f"{ds}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as f:
            for _ in range(params["events_per_day"]):
                at = day.add(seconds=rng.randrange(86400))
                event = {"user": f"u{rng.randrange(120)}", "type": rng.choice(EVENT_TYPES), "at": at.isoformat()}
                f.write(json.dumps(event) + "\n")
        print(f"wrote {params['events_per_day']} events to {path}")
        return str(path)

    check = BashOperator(
        task_id="check",
        bash_command=f"test -s {OUT}/events/{{{{ ds }}}}.jsonl && wc -l < {OUT}/events/{{{{ ds }}}}.jsonl",
    )

    @task
    def aggregate(path: str, ds=None) -> dict:
        """Count events per type and distinct users for the day."""
        events = [json.loads(line) for line in Path(path).read_text().splitlines()]
        stats = {
            "day": ds,
            "events": len(events),
            "users": len({e["user"] for e in events}),
            "by_type": dict(Counter(e["type"] for e in events)),
        }
        out = OUT / "stats" / f"{ds}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(stats, indent=2))
        return stats

    @task
    def report(stats: dict) -> str:
        line = f"{stats['day']}: {stats['events']} events from {stats['users']} users"
        print(line)
        return line

    events = extract()
    events >> check
    stats = aggregate(events)
    check >> stats
    report(stats)
