"""`tumbler rotations` and `tumbler logs`: what happened, read from the data directory."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson

from tumbler.core.rotation import Rotation
from tumbler.server.config import Config


def _region(data_dir: Path, region: str | None) -> str:
    marker = data_dir / "endpoint"
    if region:
        return region
    return marker.read_text().split()[1] if marker.exists() else Config().region


def rotation_fields(rotation: Rotation) -> dict[str, Any]:
    fields = asdict(rotation)
    fields["state"] = rotation.state.value
    fields["step"] = rotation.step
    fields["late_by"] = rotation.late_by.total_seconds() if rotation.late_by else None
    return fields


def print_rotations(config: Config, secret_id: str, region: str | None, *, as_json: bool) -> int:
    from tumbler.server.runtime import open_store

    store = open_store(config)
    with store.reader() as reader:
        secret = reader.find_secret(_region(config.data_dir, region), secret_id)
        found = reader.rotations(secret.arn) if secret else None
    if found is None:
        print(f"tumbler: no secret {secret_id}", file=sys.stderr)
        return 1
    rows = [rotation_fields(r) for r in found]
    if as_json:
        print(orjson.dumps(rows, default=str).decode())
        return 0
    if not rows:
        print(f"no rotations yet for {secret.name if secret else secret_id}")
        return 0
    print(f"{'CREATED':<20}  {'STATE':<9}  {'STEP':<12}  {'ATTEMPT':<7}  {'VERSION':<36}  ERROR")
    for rotation, row in zip(found, rows, strict=True):
        print(
            f"{rotation.created.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}  {row['state']:<9}  {row['step']:<12}  "
            f"{row['attempt']:<7}  {row['token']:<36}  {row['last_error'] or ''}".rstrip()
        )
    return 0


def print_logs(data_dir: Path, function: str, tail: int) -> int:
    folder = data_dir / "logs" / function.split(":")[-1]
    files = sorted(folder.glob("*.log"))[-tail:] if folder.is_dir() else []
    if not files:
        print(f"tumbler: no logs for {function}", file=sys.stderr)
        return 1
    for path in files:
        print(f"==> {path.stem}")
        print(path.read_text(), end="" if path.read_text().endswith("\n") else "\n")
    return 0


def print_preview(config: Config, args: Any) -> int:
    """The next rotation windows of a secret, or of rules given on the command line."""
    from datetime import datetime

    from tumbler.core import schedule
    from tumbler.core.errors import DomainError

    now = datetime.now(UTC)
    if args.secret_id:
        from tumbler.server.runtime import open_store

        with open_store(config).reader() as reader:
            secret = reader.find_secret(_region(config.data_dir, args.region), args.secret_id)
        if secret is None or not secret.rotation.rules:
            print(f"tumbler: {args.secret_id} has no rotation schedule", file=sys.stderr)
            return 1
        raw, last, created = secret.rotation.rules, secret.rotation.last_rotated, secret.created
    else:
        raw = (
            {"ScheduleExpression": args.expression} if args.expression else {"AutomaticallyAfterDays": args.after_days}
        )
        if args.duration:
            raw["Duration"] = args.duration
        last, created = now, now
    try:
        rules = schedule.parse_rules(raw)
    except DomainError as err:
        print(f"tumbler: invalid rules: {err.message}", file=sys.stderr)
        return 1
    first_after = last or created
    for window in schedule.windows(rules, last, created, max(now, first_after), args.count):
        print(f"{window.start:%Y-%m-%d %H:%M} UTC  ->  {window.end:%Y-%m-%d %H:%M} UTC")
    return 0
