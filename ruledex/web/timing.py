"""Time every kind of page of the web catalog on a built catalog.

``python -m ruledex.web.timing --db ruledex.sqlite`` prints, per page kind, the
first request (caches cold) and the median and slowest of the following ones,
through the whole application (routing, view, template, compression off).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from urllib.parse import quote

from rich.console import Console
from starlette.testclient import TestClient

from ruledex.web.app import create_app

SAMPLES = 50


def page_sets(client: TestClient, samples: int) -> dict[str, list[str]]:
    """Paths to request per page kind, sampled from the catalog."""
    conn = client.app.state.catalog.conn  # type: ignore[attr-defined]
    pick = random.Random(7)

    def sample(sql: str) -> list[tuple[str, ...]]:
        rows = [tuple(map(str, r)) for r in conn.execute(sql)]
        return pick.sample(rows, min(samples, len(rows)))

    event = conn.execute("SELECT event_id, COUNT(*) FROM rule_events GROUP BY 1 "
                         "ORDER BY 2 DESC LIMIT 1").fetchone()
    return {
        "home": ["/", "/?vendor=elastic", "/?multi=1"],
        "technique T1059.001": ["/techniques/T1059.001"],
        "technique (sampled)": [f"/techniques/{t}" for (t,) in sample(
            "SELECT DISTINCT technique_id FROM rule_techniques")],
        "rule": [f"/rules/{v}/{quote(i, safe='')}" for v, i in sample(
            "SELECT vendor, id FROM rules")],
        "fields index": ["/fields"],
        "field process.command_line": ["/fields/process.command_line"],
        "indicator": [f"/indicators/{i}" for (i,) in sample("SELECT iid FROM indicators")],
        "vendor": [f"/vendors/{v}" for v in ("sigma", "elastic", "splunk")],
        "tactic": [f"/tactics/{t}" for (t,) in sample("SELECT shortname FROM tactics")],
        "search": ["/search?q=" + quote(q) for q in (
            "powershell", "CommandLine contains vssadmin", "field:Image value:*\\rundll32.exe",
            "technique:T1059.001 vendor:elastic", "level:high", "value:mimikatz")],
        "events index": ["/events"],
        "event (most used)": [f"/events/{quote(event[0], safe='')}"] if event else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("ruledex.sqlite"))
    parser.add_argument("--samples", type=int, default=SAMPLES)
    args = parser.parse_args()
    console = Console(highlight=False)
    with TestClient(create_app(args.db)) as client:
        console.print(f"{'page':28} {'first':>8} {'median':>8} {'max':>8} {'n':>4}  {'KiB':>6}")
        for kind, paths in page_sets(client, args.samples).items():
            times, sizes = [], []
            for path in paths * (3 if len(paths) < 5 else 1):
                started = time.perf_counter()
                response = client.get(path, headers={"accept-encoding": "identity"})
                times.append((time.perf_counter() - started) * 1000)
                sizes.append(len(response.content))
                if response.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {response.status_code}")
            rest = times[1:] or times
            console.print(f"{kind:28} {times[0]:7.1f}ms {statistics.median(rest):7.1f}ms "
                  f"{max(rest):7.1f}ms {len(times):4d}  {statistics.median(sizes) / 1024:6.0f}")


if __name__ == "__main__":
    main()
