"""The file-drop sensor's tick time and stored cursor size against the number of files already processed.

    uv run python -m benchmarks.sensor_tick --processed 0 1000 100000 [--waiting 2] [--repeat 5] [--json]

For each count N, a temporary SQLite instance and data root are built the way
N processed files leave them (N dynamic partitions, N raw copies under
``raw/<run_id>/``; no run is executed), ``--waiting`` new files are dropped
into ``incoming/``, and the sensor is evaluated directly, ``--repeat`` times
with fresh files each time. Reported: the median tick time and the cursor's
size in bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg

from datatasker_pipeline.defs.resources import DataRoot
from datatasker_pipeline.defs.sales.sensors import incoming_csv_sensor
from datatasker_pipeline.vocabulary import PARTITIONS_DEF_NAME, RAW_DIR

CSV = "region,revenue,quantity,discount\nEast,1,1,0\n"


def build_history(instance: dg.DagsterInstance, root: Path, processed: int) -> None:
    keys = [f"processed-{i:07d}.csv" for i in range(processed)]
    if keys:
        instance.add_dynamic_partitions(PARTITIONS_DEF_NAME, keys)
    for start in range(0, processed, 1000):
        folder = root / RAW_DIR / f"run-{start // 1000:05d}"
        folder.mkdir(parents=True)
        for key in keys[start:start + 1000]:
            (folder / key).touch()


def measure(processed: int, waiting: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test(temp_dir=tmp) as instance:
        root = Path(tmp) / "data"
        (root / "incoming").mkdir(parents=True)
        data_root = DataRoot(path=str(root), settle_seconds=0)
        build_history(instance, root, processed)
        cursor, seconds, sizes = None, [], []
        for round_ in range(repeat):
            for i in range(waiting):
                path = root / "incoming" / f"waiting-{i}.csv"
                path.write_text(CSV + f"R{round_},{i},1,0\n")
                past = time.time() - 5
                os.utime(path, (past, past))
            context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"data_root": data_root})
            started = time.perf_counter()
            result = incoming_csv_sensor(context)
            seconds.append(time.perf_counter() - started)
            sizes.append(len(result.cursor))
            for path in (root / "incoming").iterdir():  # their runs take them out of the inbox
                path.unlink()
            cursor = result.cursor
        return {"processed": processed, "waiting": waiting, "tick_seconds_median": statistics.median(seconds),
                "tick_seconds_max": max(seconds), "cursor_bytes": max(sizes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processed", type=int, nargs="+", default=[0, 1000, 100_000])
    parser.add_argument("--waiting", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(n, args.waiting, args.repeat) for n in args.processed]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'processed':>10}  {'waiting':>7}  {'tick median':>11}  {'tick max':>9}  {'cursor':>8}")
    for row in rows:
        print(f"{row['processed']:>10,}  {row['waiting']:>7}  {row['tick_seconds_median']:>10.3f}s"
              f"  {row['tick_seconds_max']:>8.3f}s  {row['cursor_bytes']:>6} B")


if __name__ == "__main__":
    main()
