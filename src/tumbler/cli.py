"""The ``tumbler`` command: server, env, keys."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from tumbler.core.rotation import BACKOFF_BASE, MAX_ATTEMPTS
from tumbler.server.config import DEFAULT_PORT, Config, data_dir_from

INSECURE_BANNER = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! DEV MODE: signatures are NOT verified. Any access key is accepted.              !!
!! Use this only for throwaway local testing, never for real secrets.              !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tumbler", description="An AWS Secrets Manager-compatible server.")
    sub = parser.add_subparsers(dest="command", required=True)

    server = sub.add_parser("server", help="run the server")
    _data_dir(server)
    server.add_argument("--host", default=os.environ.get("TUMBLER_HOST", "127.0.0.1"))
    server.add_argument("--port", type=int, default=int(os.environ.get("TUMBLER_PORT", DEFAULT_PORT)))
    server.add_argument("--region", default=os.environ.get("TUMBLER_REGION", "us-east-1"))
    server.add_argument("--account-id", default=os.environ.get("TUMBLER_ACCOUNT_ID", "123456789012"))
    _store(server)
    server.add_argument(
        "--rotation-lease",
        type=float,
        default=float(os.environ.get("TUMBLER_ROTATION_LEASE", "30")),
        help="seconds a node's claim on a rotation lasts unless renewed (a dead node's rotations resume after it)",
    )
    server.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("TUMBLER_WORKERS", "1")),
        help="server processes sharing the port (default 1; one per core for the most requests per second)",
    )
    server.add_argument("--dev", action="store_true", help="accept any signature (insecure, for emulator use)")
    server.add_argument("--access-log", action="store_true", help="log one line per request (never values)")
    server.add_argument(
        "--rotation-attempts", type=int, default=int(os.environ.get("TUMBLER_ROTATION_ATTEMPTS", MAX_ATTEMPTS))
    )
    server.add_argument(
        "--rotation-backoff",
        type=float,
        default=float(os.environ.get("TUMBLER_ROTATION_BACKOFF", BACKOFF_BASE.total_seconds())),
        help="seconds before the first retry of a failed rotation; doubles on each retry (capped, jittered)",
    )

    env = sub.add_parser("env", help="print shell exports that point AWS tools at this server")
    _data_dir(env)

    migrate = sub.add_parser("migrate", help="create or upgrade the store's schema")
    _data_dir(migrate)
    _store(migrate)
    export = sub.add_parser("export", help="write the whole store (encrypted) to a file")
    export.add_argument("file", type=Path)
    _data_dir(export)
    _store(export)
    load = sub.add_parser("import", help="load an export into a new, empty store (same master key)")
    load.add_argument("file", type=Path)
    _data_dir(load)
    _store(load)

    rotations = sub.add_parser("rotations", help="a secret's rotation history, newest first")
    rotations.add_argument("secret_id")
    rotations.add_argument("--region", default=None)
    rotations.add_argument("--json", action="store_true")
    _data_dir(rotations)
    _store(rotations)

    logs = sub.add_parser("logs", help="what a function printed, one block per invocation (values masked)")
    logs.add_argument("function")
    logs.add_argument("--tail", type=int, default=10, help="the last N invocations")
    _data_dir(logs)

    sched = sub.add_parser("schedule", help="rotation schedules")
    sched_sub = sched.add_subparsers(dest="schedule_command", required=True)
    preview = sched_sub.add_parser("preview", help="the next rotation windows of a secret or of given rules")
    which = preview.add_mutually_exclusive_group(required=True)
    which.add_argument("--secret-id")
    which.add_argument("--expression", help="rate(...) or cron(...), as ScheduleExpression")
    which.add_argument("--after-days", type=int, help="as AutomaticallyAfterDays")
    preview.add_argument("--duration", help="the window length, e.g. 3h")
    preview.add_argument("--count", type=int, default=5)
    preview.add_argument("--region", default=None)
    _data_dir(preview)
    _store(preview)

    keys = sub.add_parser("keys", help="manage encryption keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a named key, usable as KmsKeyId alias/NAME")
    create.add_argument("name")
    _data_dir(create)
    rotate = keys_sub.add_parser("rotate", help="add a master key version and re-wrap every data key")
    _data_dir(rotate)
    listing = keys_sub.add_parser("list", help="list named keys")
    _data_dir(listing)
    return parser


def _store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=os.environ.get("TUMBLER_STORE"),
        help="postgresql://... for a store shared by several nodes (default: SQLite in the data directory)",
    )


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="data directory (default ./.tumbler, or TUMBLER_DATA_DIR)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir = data_dir_from(args.data_dir)
    if args.command == "server":
        config = Config(
            data_dir=data_dir,
            host=args.host,
            port=args.port,
            region=args.region,
            account_id=args.account_id,
            dev=args.dev,
            access_log=args.access_log,
            workers=args.workers,
            store=args.store,
            rotation_lease=args.rotation_lease,
            rotation_attempts=args.rotation_attempts,
            rotation_backoff=args.rotation_backoff,
        )
        return serve(config)
    if args.command == "env":
        return print_env(data_dir)
    if args.command in ("migrate", "export", "import"):
        return store_command(args.command, Config(data_dir=data_dir, store=args.store), getattr(args, "file", None))
    if args.command == "rotations":
        from tumbler.server.inspect import print_rotations

        return print_rotations(
            Config(data_dir=data_dir, store=args.store), args.secret_id, args.region, as_json=args.json
        )
    if args.command == "schedule":
        from tumbler.server.inspect import print_preview

        return print_preview(Config(data_dir=data_dir, store=args.store), args)
    if args.command == "logs":
        from tumbler.server.inspect import print_logs

        return print_logs(data_dir, args.function, args.tail)
    return keys_command(args.keys_command, data_dir, getattr(args, "name", None))


def serve(config: Config) -> int:
    import uvicorn

    from tumbler.server import credentials
    from tumbler.server.asgi import CONFIG_VAR, config_to_env
    from tumbler.server.http import server_options
    from tumbler.server.runtime import build_app, open_runtime, release_stale_leases

    runtime = open_runtime(config)
    release_stale_leases(runtime)  # before any worker starts: this server owns the embedded store
    key_id, _secret, created = credentials.ensure_admin_key(runtime.store, runtime.keyring, config.credentials_file)
    (config.data_dir / "endpoint").write_text(f"{config.endpoint}\n{config.region}\n")
    verb = "created" if created else "using"
    print(f"tumbler: {verb} admin access key {key_id} in {config.credentials_file} (profile 'tumbler')")
    print(f'tumbler: listening on {config.endpoint}  (eval "$(tumbler env --data-dir {config.data_dir})")')
    if config.dev:
        print(INSECURE_BANNER, file=sys.stderr)
    # uvicorn with httptools and uvloop: measured faster than granian for this app here (6.8k vs 5.2k
    # signed GetSecretValue/s on one process); see benchmarks/README.md.
    options = {**server_options(config.host, config.port), "lifespan": "on"}
    if config.workers <= 1:
        uvicorn.run(build_app(runtime), **options)
        return 0
    runtime.store.close()
    os.environ[CONFIG_VAR] = config_to_env(config)  # each worker builds its own app from it
    uvicorn.run("tumbler.server.asgi:create_app", factory=True, workers=config.workers, **options)
    return 0


def store_command(command: str, config: Config, file: Path | None) -> int:
    from tumbler.server.runtime import open_store
    from tumbler.server.transfer import export_store, import_store

    if command == "migrate":
        if config.store:
            from tumbler.adapters.store.postgres import migrate

            print(f"tumbler: schema version {migrate(config.store)}")
        else:
            open_store(config).close()  # SQLite creates its schema when opened
            print(f"tumbler: {config.database} is ready")
        return 0
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = open_store(config)
    assert file is not None
    if command == "export":
        counts = export_store(store, file)
        print("tumbler: exported " + ", ".join(f"{n} {t}" for t, n in counts.items()))
        return 0
    try:
        checked = import_store(store, file)
    except ValueError as err:
        print(f"tumbler: {err}", file=sys.stderr)
        return 1
    bad = {t: c for t, c in checked.items() if c[0] != c[1]}
    print("tumbler: imported " + ", ".join(f"{found}/{want} {t}" for t, (want, found) in checked.items()))
    if bad:
        print(f"tumbler: verification FAILED for {sorted(bad)}", file=sys.stderr)
        return 1
    print("tumbler: verification passed: every table's count matches the export")
    return 0


def print_env(data_dir: Path) -> int:
    from tumbler.server import credentials

    config = Config(data_dir=data_dir)
    found = credentials.read_credentials(config.credentials_file)
    if found is None:
        print(f"tumbler: no credentials in {config.credentials_file}; start `tumbler server` first", file=sys.stderr)
        return 1
    endpoint, region = config.endpoint, config.region
    marker = data_dir / "endpoint"
    if marker.exists():
        endpoint, region = marker.read_text().split()[:2]
    exports = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": found[0],
        "AWS_SECRET_ACCESS_KEY": found[1],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    print(" ".join(f"export {k}={shlex.quote(v)}" for k, v in exports.items()))
    return 0


def keys_command(command: str, data_dir: Path, name: str | None) -> int:
    from tumbler.server.keys import create_key, rotate_master_key
    from tumbler.server.runtime import open_runtime

    runtime = open_runtime(Config(data_dir=data_dir))
    if command == "create":
        key_id = create_key(runtime, str(name), str(uuid.uuid4()))
        print(f"created key {key_id} (use KmsKeyId alias/{name})")
    elif command == "rotate":
        version, count = rotate_master_key(runtime)
        print(f"master key version {version} is current; re-wrapped {count} data keys")
    else:
        with runtime.store.reader() as reader:
            for key_id, alias in reader.kms_keys():
                print(f"{key_id}  alias/{alias}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
