"""`tumbler export` / `tumbler import`: move a whole store to another, still encrypted.

The file is JSON lines: a header, then one line per row (``{"table": ..., "row": {...}}``, bytes
as base64), then a trailer with the row count of each table. Values and keys stay sealed: the
target must use the same master key (share it by configuration, as a fleet does anyway).
After an import, every table's count in the target is checked against the file.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from rich.progress import Progress

from tumbler.ports.store import TABLES, Store

FORMAT = "tumbler-export-1"
BATCH = 500


def _encode(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: {"b64": base64.b64encode(v).decode()} if isinstance(v, bytes | memoryview) else v for k, v in row.items()
    }


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    return {k: base64.b64decode(v["b64"]) if isinstance(v, dict) and "b64" in v else v for k, v in row.items()}


def export_store(store: Store, path: Path, *, show: bool = True) -> Counter[str]:
    with store.reader() as reader:
        totals = {t: reader.count(t) for t in TABLES}
    counts: Counter[str] = Counter()
    with path.open("wb") as out, Progress(disable=not show) as progress:
        task = progress.add_task("exporting", total=sum(totals.values()))
        out.write(orjson.dumps({"format": FORMAT, "tables": list(TABLES)}) + b"\n")
        with store.reader() as reader:
            for table in TABLES:
                for row in reader.dump(table):
                    out.write(orjson.dumps({"table": table, "row": _encode(row)}) + b"\n")
                    counts[table] += 1
                    progress.advance(task)
        out.write(orjson.dumps({"counts": counts}) + b"\n")
    return counts


def _lines(source: IO[bytes]) -> Iterator[dict[str, Any]]:
    """The items after the header; ValueError (one line, naming the line) for anything else."""
    name = getattr(source, "name", "the file")
    try:
        header = orjson.loads(source.readline())
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{name} is not a Tumbler export (its first line is not a {FORMAT} header)")
    for number, line in enumerate(source, 2):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            item = None
        if not isinstance(item, dict) or not ("counts" in item or {"table", "row"} <= item.keys()):
            raise ValueError(f"{name}, line {number}: not a line of a Tumbler export")
        if "table" in item and (item["table"] not in TABLES or not isinstance(item["row"], dict)):
            raise ValueError(f"{name}, line {number}: not a row of a Tumbler table")
        yield item


def wrapped_keys(path: Path) -> Iterator[tuple[str, bytes]]:
    """(owner, wrapped data key) of every secret and access key in an export, reading the whole file."""
    with path.open("rb") as source:
        for item in _lines(source):
            row = _decode(item["row"]) if "table" in item else {}
            key = row.get("wrapped_key")
            if item.get("table") in ("secrets", "access_keys") and isinstance(key, bytes):
                yield str(row.get("arn") or row.get("access_key_id")), key


def import_store(store: Store, path: Path, *, show: bool = True) -> dict[str, tuple[int, int]]:
    """Load an export into an empty store, in one transaction; (expected, found) per table."""
    with store.reader() as reader:
        if any(reader.count(t) for t in TABLES):
            raise ValueError("the target store is not empty: import only into a new store")
    expected: dict[str, int] = {}
    with path.open("rb") as source, Progress(disable=not show) as progress, store.transaction() as uow:
        task = progress.add_task("importing", total=None)
        batch: list[dict[str, Any]] = []
        table = None
        for item in _lines(source):
            if "counts" in item:
                expected = dict(item["counts"])
                break
            if item["table"] != table and batch:
                uow.load(str(table), batch)
                batch = []
            table = item["table"]
            batch.append(_decode(item["row"]))
            if len(batch) >= BATCH:
                uow.load(table, batch)
                batch = []
            progress.advance(task)
        if batch:
            uow.load(str(table), batch)
    with store.reader() as reader:
        return {t: (expected.get(t, 0), reader.count(t)) for t in TABLES}
