"""A user's Python rotation function, end to end per rotation: cold (first) and warm.

Registers ``tests/api/functions/generic_rotation.py`` (AWS rotation template style: four steps,
each calling Secrets Manager back through boto3) with the Lambda API, then rotates one new secret
at a time with RotateSecret and times each rotation from its creation to its finish (AWSCURRENT
moved), as the server's own rotation record has them. The first rotation through a new function
is cold (a worker process starts and imports the handler); the rest are warm. ``--functions``
new functions give as many cold samples.

    python benchmarks/function_rotation.py [--functions 3] [--rotations 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.api.rotation_helpers import create_function  # noqa: E402

from benchmarks.harness import TumblerProcess  # noqa: E402
from tumbler.adapters.store.codec import rotation_from_doc  # noqa: E402
from tumbler.core.rotation import Rotation  # noqa: E402
from tumbler.server.config import Config  # noqa: E402


def settled(conn: sqlite3.Connection, arn: str, timeout: float = 60.0) -> Rotation:
    """The secret's rotation once it is neither pending nor running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute("SELECT doc FROM rotations WHERE secret_arn = ? ORDER BY created DESC", (arn,)).fetchone()
        if row:
            rotation = rotation_from_doc(row[0])
            if not rotation.active:
                return rotation
        time.sleep(0.002)
    raise RuntimeError(f"rotation of {arn} did not finish within {timeout} s")


def measure(functions: int, rotations: int, tmp: Path) -> dict[str, Any]:
    cold: list[float] = []
    warm: list[float] = []
    failed = 0
    with TumblerProcess(tmp / "data") as server:
        sm, lam = server.client(), server.client("lambda")
        conn = sqlite3.connect(f"file:{Config(data_dir=server.data_dir).database}?mode=ro", uri=True)
        try:
            for f in range(functions):
                fn = create_function(lam, "generic_rotation.py")
                for i in range(rotations):
                    value = json.dumps({"username": "app", "password": "initial"})
                    arn = sm.create_secret(Name=f"fn{f}/secret{i}", SecretString=value)["ARN"]
                    sm.rotate_secret(SecretId=arn, RotationLambdaARN=fn)
                    rotation = settled(conn, arn)
                    failed += rotation.state.value != "succeeded"
                    assert rotation.finished is not None
                    (warm if i else cold).append((rotation.finished - rotation.created).total_seconds())
        finally:
            conn.close()
    return {"functions": functions, "rotations": rotations, "cold_s": cold, "warm_s": warm, "failed": failed}


def table(data: dict[str, Any]) -> str:
    cold, warm = data["cold_s"], data["warm_s"]

    def median(seconds: list[float]) -> float:
        return statistics.median(seconds) * 1e3

    p90 = statistics.quantiles(warm, n=10)[-1] if len(warm) > 1 else warm[0]
    return "\n".join(
        [
            "| Python rotation function (generic_rotation.py), per rotation | |",
            "|---|---:|",
            f"| cold: first rotation through a new function (median of {len(cold)}) | {median(cold):.0f} ms |",
            f"| warm (median of {len(warm)}) | {median(warm):.0f} ms |",
            f"| warm, p90 | {p90 * 1e3:.0f} ms |",
            f"| failed rotations | {data['failed']} of {len(cold) + len(warm)} |",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=3)
    parser.add_argument("--rotations", type=int, default=20, help="per function, the first one cold")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tumbler-bench-") as tmp:
        data = measure(args.functions, max(args.rotations, 2), Path(tmp))
    print(table(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0 if data["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
