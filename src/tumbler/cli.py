"""The ``tumbler`` command: the server, and what an operator does around it.

Only ``server``, ``keys create``/``rotate``, ``import`` and ``migrate`` may create a data directory
or a master key; every other command reads what is there and says so, naming the path, if nothing
is. Whatever goes wrong reaches the user as one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from tumbler.core.rotation import BACKOFF_BASE, MAX_ATTEMPTS
from tumbler.server.config import DEFAULT_PORT, Config, data_dir_from

INSECURE_BANNER = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! DEV MODE: signatures are NOT verified. Any access key is accepted.              !!
!! Use this only for throwaway local testing, never for real secrets.              !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""

DESCRIPTION = """\
An AWS Secrets Manager-compatible server that really rotates secrets.

Start with `tumbler server` (it creates ./.tumbler: the store, the master key, an admin access key),
then point the AWS CLI or an SDK at it with `eval "$(tumbler env)"`. Every command takes
--data-dir (or TUMBLER_DATA_DIR) to use another data directory."""
SELF_SIGNED_DIR = "tls"  # where --tls-self-signed keeps its certificate, inside the data directory
KEY_NAME = re.compile(r"[A-Za-z0-9:/_-]{1,256}")  # as a KMS alias name


class CliError(Exception):
    """What the user did or has that the command cannot work with; the message is the one line shown."""


class _Parser(argparse.ArgumentParser):
    """argparse's, but a usage error is one line and exit status 1, as every other error."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(1)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tumbler", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _server_parser(sub)

    env = sub.add_parser(
        "env",
        help="print shell exports that point AWS tools at a running server",
        description='Print exports for the AWS CLI and SDKs: use as eval "$(tumbler env)". They include '
        "TUMBLER_DATA_DIR, so later tumbler commands in that shell find the same data directory, and "
        "AWS_CA_BUNDLE when the server uses a self-signed certificate.",
    )
    _data_dir(env)

    migrate = sub.add_parser("migrate", help="create or upgrade the store's schema (creates the store)")
    _data_dir(migrate)
    _store(migrate)
    export = sub.add_parser("export", help="write the whole store, still encrypted, to a file")
    export.add_argument("file", type=Path, help="the file to write (JSON lines)")
    _data_dir(export)
    _store(export)
    load = sub.add_parser(
        "import",
        help="load an export into a new, empty store (same master key)",
        description="Load a file written by `tumbler export` into an empty store. The master key this "
        "data directory runs with (its master.key, or TUMBLER_MASTER_KEY) must be the one the export was "
        "made with: it is checked against the export's data keys before anything is written.",
    )
    load.add_argument("file", type=Path, help="a file written by tumbler export")
    _data_dir(load)
    _store(load)

    rotations = sub.add_parser("rotations", help="a secret's rotation history, newest first")
    rotations.add_argument("secret_id", help="the secret's name or ARN")
    rotations.add_argument("--region", default=None, help="the secret's region (default: the server's)")
    rotations.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    _data_dir(rotations)
    _store(rotations)

    logs = sub.add_parser("logs", help="what a function printed, one block per invocation (values masked)")
    logs.add_argument("function", help="the function's name or ARN")
    logs.add_argument("--tail", type=int, default=10, help="the last N invocations (default 10)")
    _data_dir(logs)

    sched = sub.add_parser("schedule", help="rotation schedules")
    sched_sub = sched.add_subparsers(dest="schedule_command", required=True, metavar="SUBCOMMAND", parser_class=_Parser)
    preview = sched_sub.add_parser("preview", help="the next rotation windows of a secret or of given rules")
    which = preview.add_mutually_exclusive_group(required=True)
    which.add_argument("--secret-id", help="a secret whose schedule to show (reads the store)")
    which.add_argument("--expression", help="rate(...) or cron(...), as ScheduleExpression")
    which.add_argument("--after-days", type=int, help="as AutomaticallyAfterDays")
    preview.add_argument("--duration", help="the window length, e.g. 3h")
    preview.add_argument("--count", type=int, default=5, help="how many windows (default 5)")
    preview.add_argument("--region", default=None, help="the secret's region (default: the server's)")
    _data_dir(preview)
    _store(preview)

    certs = sub.add_parser("certs", help="TLS certificates")
    certs_sub = certs.add_subparsers(dest="certs_command", required=True, metavar="SUBCOMMAND", parser_class=_Parser)
    create_cert = certs_sub.add_parser(
        "create",
        help="write a self-signed certificate and key for a first try of HTTPS",
        description="Write a self-signed certificate (for localhost, 127.0.0.1 and ::1 unless --name is "
        "given) and its private key (mode 0600), then run: tumbler server --tls-cert CERT --tls-key KEY. "
        "Clients need the certificate as their CA bundle (tumbler env exports AWS_CA_BUNDLE).",
    )
    create_cert.add_argument("--cert", type=Path, default=Path("tumbler-cert.pem"), help="default tumbler-cert.pem")
    create_cert.add_argument("--key", type=Path, default=Path("tumbler-key.pem"), help="default tumbler-key.pem")
    create_cert.add_argument(
        "--name", action="append", help="a host name or IP address clients use (repeatable; default: local names)"
    )

    keys = sub.add_parser("keys", help="encryption keys: named keys (KmsKeyId) and the master key")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="SUBCOMMAND", parser_class=_Parser)
    create = keys_sub.add_parser("create", help="create a named key, usable as KmsKeyId alias/NAME")
    create.add_argument("name", help="letters, digits, and : / _ - (not aws/...)")
    rotate = keys_sub.add_parser("rotate", help="add a master key version and re-wrap every data key")
    listing = keys_sub.add_parser("list", help="list the keys secrets can name as KmsKeyId, the default first")
    for each in (create, rotate, listing):
        _data_dir(each)
        _store(each)
    return parser


AUTHORIZATION_MODES = ("enforce", "audit", "off")


def _server_parser(sub: Any) -> None:
    server = sub.add_parser(
        "server",
        help="run the server (creates the data directory and its master key on first start)",
        description="Run the server. Beyond loopback it serves only HTTPS (--tls-cert and --tls-key, or "
        "--tls-self-signed), unless --insecure-http is given.",
    )
    _data_dir(server)
    env = os.environ.get
    server.add_argument("--host", default=env("TUMBLER_HOST", "127.0.0.1"), help="address to listen on (TUMBLER_HOST)")
    server.add_argument("--port", type=int, default=env("TUMBLER_PORT", str(DEFAULT_PORT)), help="(TUMBLER_PORT)")
    server.add_argument("--region", default=env("TUMBLER_REGION", "us-east-1"), help="default region (TUMBLER_REGION)")
    server.add_argument("--account-id", default=env("TUMBLER_ACCOUNT_ID", "123456789012"), help="(TUMBLER_ACCOUNT_ID)")
    _store(server)
    server.add_argument(
        "--tls-cert", default=env("TUMBLER_TLS_CERT"), help="PEM certificate: serve HTTPS (TUMBLER_TLS_CERT)"
    )
    server.add_argument("--tls-key", default=env("TUMBLER_TLS_KEY"), help="its PEM private key (TUMBLER_TLS_KEY)")
    server.add_argument(
        "--tls-self-signed",
        action="store_true",
        help=f"serve HTTPS with a self-signed certificate kept in DATA_DIR/{SELF_SIGNED_DIR} (made on first use)",
    )
    server.add_argument(
        "--insecure-http",
        action="store_true",
        help="allow plain HTTP on a non-loopback address (secret values then cross the network in clear)",
    )
    server.add_argument(
        "--rotation-lease",
        type=float,
        default=env("TUMBLER_ROTATION_LEASE", "30"),
        help="seconds a node's claim on a rotation lasts unless renewed (a dead node's rotations resume after it)",
    )
    server.add_argument(
        "--node-id",
        default=env("TUMBLER_NODE_ID"),
        help="this node's name in rotation leases (TUMBLER_NODE_ID; default: made once, kept in DATA_DIR/node-id)",
    )
    server.add_argument(
        "--workers",
        type=int,
        default=env("TUMBLER_WORKERS", "1"),
        help="server processes sharing the port (default 1; one per core for the most requests per second)",
    )
    server.add_argument("--dev", action="store_true", help="accept any signature (insecure, for emulator use)")
    server.add_argument("--access-log", action="store_true", help="log one line per request (never values)")
    server.add_argument(
        "--authorization",
        choices=AUTHORIZATION_MODES,
        default=env("TUMBLER_AUTHORIZATION", "enforce"),
        help="enforce IAM policies (default); audit: allow, but log each request enforce would refuse; off: "
        "decide nothing (TUMBLER_AUTHORIZATION)",
    )
    server.add_argument(
        "--rotation-attempts",
        type=int,
        default=env("TUMBLER_ROTATION_ATTEMPTS", str(MAX_ATTEMPTS)),
        help=f"tries of a failing rotation before it is marked failed (default {MAX_ATTEMPTS})",
    )
    server.add_argument(
        "--rotation-backoff",
        type=float,
        default=env("TUMBLER_ROTATION_BACKOFF", str(BACKOFF_BASE.total_seconds())),
        help="seconds before the first retry of a failed rotation; doubles on each retry (capped, jittered)",
    )


def _store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=os.environ.get("TUMBLER_STORE"),
        help="postgresql://... for a store shared by several nodes (TUMBLER_STORE; default: SQLite in the data dir)",
    )


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="data directory (default ./.tumbler, or TUMBLER_DATA_DIR)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # the one place every failure becomes one line for the user
        if os.environ.get("TUMBLER_DEBUG"):
            raise
        print(f"tumbler: {_one_line(err)}", file=sys.stderr)
        return 1


def _one_line(err: Exception) -> str:
    from tumbler.adapters.crypto.masterkey import MasterKeyError
    from tumbler.core.errors import DomainError

    if isinstance(err, CliError | MasterKeyError | ValueError):
        text = str(err)
    elif isinstance(err, DomainError):
        text = err.message
    elif isinstance(err, OSError) and err.filename:
        text = f"{err.filename}: {err.strerror or err}"
    else:  # a store or library error: its class says where it came from (TUMBLER_DEBUG=1 shows the traceback)
        text = f"{type(err).__name__}: {err}"
    return " ".join(text.split()) or type(err).__name__


def run(args: argparse.Namespace) -> int:
    data_dir = data_dir_from(getattr(args, "data_dir", None))
    store = getattr(args, "store", None)
    if store and not store.startswith(("postgresql://", "postgres://")):
        raise CliError(f"--store must be a postgresql:// URL, not {store.split(':', 1)[0]!r}")
    config = Config(data_dir=data_dir, store=store)
    if args.command == "server":
        return serve(server_config(args, data_dir))
    if args.command == "env":
        return print_env(_existing_dir(data_dir))
    if args.command == "certs":
        return create_certificate(args.cert, args.key, tuple(args.name or ()))
    if args.command in ("migrate", "export", "import"):
        return store_command(args.command, config, getattr(args, "file", None))
    if args.command == "rotations":
        from tumbler.server.inspect import print_rotations

        return print_rotations(_readable(config), args.secret_id, args.region, as_json=args.json)
    if args.command == "schedule":
        from tumbler.server.inspect import print_preview

        return print_preview(_readable(config) if args.secret_id else config, args)
    if args.command == "logs":
        from tumbler.server.inspect import print_logs

        return print_logs(_existing_dir(data_dir), args.function, args.tail)
    return keys_command(args.keys_command, config, getattr(args, "name", None))


# -- where the data is -----------------------------------------------------------------------------


def _missing(path: Path, what: str) -> CliError:
    return CliError(
        f"no {what} at {path}; start `tumbler server` first (it creates one), "
        "or choose another directory with --data-dir or TUMBLER_DATA_DIR"
    )


def _existing_dir(data_dir: Path) -> Path:
    if not data_dir.is_dir():
        raise _missing(data_dir, "Tumbler data directory")
    return data_dir


def _readable(config: Config) -> Config:
    """``config`` if its store exists; reading never creates one (a shared store's URL is the user's)."""
    if config.store is None and not config.database.is_file():
        _existing_dir(config.data_dir)
        raise _missing(config.database, "Tumbler store")
    return config


# -- server ------------------------------------------------------------------------------------------


def server_config(args: argparse.Namespace, data_dir: Path) -> Config:
    from tumbler.server import node, tls

    cert, key = args.tls_cert, args.tls_key
    if args.tls_self_signed:
        if cert or key:
            raise CliError("give either --tls-self-signed or --tls-cert and --tls-key, not both")
        cert, key = _self_signed(data_dir)
    if bool(cert) != bool(key):
        raise CliError("--tls-cert and --tls-key go together: give both, or neither")
    if cert and key:
        tls.check_pair(Path(cert), Path(key))
    elif not tls.is_loopback(args.host) and not args.insecure_http:
        raise CliError(
            f"refusing to serve plain HTTP on {args.host}: secret values would cross the network in clear "
            "(SigV4 signs requests, it does not encrypt them). Give --tls-cert and --tls-key "
            "(or --tls-self-signed), or --insecure-http to accept that"
        )
    if args.authorization not in AUTHORIZATION_MODES:  # argparse checks a flag's choices, not an env default
        modes = ", ".join(AUTHORIZATION_MODES)
        raise CliError(f"TUMBLER_AUTHORIZATION must be one of {modes}, not {args.authorization!r}")
    if args.node_id is not None and not node.VALID.fullmatch(args.node_id):
        raise CliError("--node-id: 1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
    return Config(
        data_dir=data_dir,
        host=args.host,
        port=args.port,
        region=args.region,
        account_id=args.account_id,
        dev=args.dev,
        access_log=args.access_log,
        authorization=args.authorization,
        workers=args.workers,
        node_id=args.node_id,
        store=args.store,
        rotation_lease=args.rotation_lease,
        rotation_attempts=args.rotation_attempts,
        rotation_backoff=args.rotation_backoff,
        tls_cert=str(Path(cert).absolute()) if cert else None,
        tls_key=str(Path(key).absolute()) if key else None,
    )


def _self_signed(data_dir: Path) -> tuple[str, str]:
    from tumbler.server import tls

    folder = data_dir / SELF_SIGNED_DIR
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not cert.exists():
        key.unlink(missing_ok=True)
        tls.create_self_signed(cert, key)
    return str(cert), str(key)


def serve(config: Config) -> int:
    import uvicorn

    from tumbler.server import credentials, tls
    from tumbler.server.asgi import CONFIG_VAR, config_to_env
    from tumbler.server.http import server_options
    from tumbler.server.runtime import build_app, open_runtime, release_stale_leases

    runtime = open_runtime(config)
    release_stale_leases(runtime)  # before any worker starts: this server owns the embedded store
    key_id, _secret, created = credentials.ensure_admin_key(runtime.store, runtime.keyring, config.credentials_file)
    ca_bundle = config.tls_cert if config.tls_cert and tls.is_self_signed(Path(config.tls_cert)) else ""
    (config.data_dir / "endpoint").write_text(f"{config.endpoint}\n{config.region}\n{ca_bundle}\n")
    if ca_bundle:
        os.environ[tls.CA_BUNDLE_VAR] = ca_bundle  # functions call back over HTTPS and must trust it
    verb = "created" if created else "using"
    print(f"tumbler: {verb} admin access key {key_id} in {config.credentials_file} (profile 'tumbler')")
    print(f'tumbler: listening on {config.endpoint}  (eval "$(tumbler env --data-dir {config.data_dir})")')
    if config.dev:
        print(INSECURE_BANNER, file=sys.stderr)
    # uvicorn with httptools and uvloop: measured faster than granian for this app here (6.8k vs 5.2k
    # signed GetSecretValue/s on one process); see benchmarks/README.md.
    options = {**server_options(config.host, config.port), "lifespan": "on"}
    if config.tls_cert and config.tls_key:
        options.update(tls.uvicorn_options(Path(config.tls_cert), Path(config.tls_key)))
    if config.workers <= 1:
        uvicorn.run(build_app(runtime), **options)
        return 0
    runtime.store.close()
    os.environ[CONFIG_VAR] = config_to_env(config)  # each worker builds its own app from it
    uvicorn.run("tumbler.server.asgi:create_app", factory=True, workers=config.workers, **options)
    return 0


def create_certificate(cert: Path, key: Path, names: tuple[str, ...]) -> int:
    from tumbler.server import tls

    for path in (cert, key):
        if path.exists():
            raise CliError(f"{path} exists already; remove it or choose another with --cert / --key")
    tls.create_self_signed(cert, key, names or tls.LOCAL_NAMES)
    print(f"tumbler: wrote {cert} and {key} (mode 0600)")
    print(f"tumbler: run: tumbler server --tls-cert {shlex.quote(str(cert))} --tls-key {shlex.quote(str(key))}")
    return 0


# -- the store as a whole -------------------------------------------------------------------------------


def store_command(command: str, config: Config, file: Path | None) -> int:
    from tumbler.server.runtime import open_store
    from tumbler.server.transfer import export_store, import_store

    if command == "migrate":
        if config.store:
            from tumbler.adapters.store.postgres import migrate

            print(f"tumbler: schema version {migrate(config.store)}")
        else:
            config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            open_store(config).close()  # SQLite creates its schema when opened
            print(f"tumbler: {config.database} is ready")
        return 0
    assert file is not None
    if command == "export":
        store = open_store(_readable(config))
        counts = export_store(store, file)
        print("tumbler: exported " + ", ".join(f"{n} {t}" for t, n in counts.items()))
        return 0
    _check_import_key(config, file)  # before anything is created or written
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    checked = import_store(open_store(config), file)
    bad = {t: c for t, c in checked.items() if c[0] != c[1]}
    print("tumbler: imported " + ", ".join(f"{found}/{want} {t}" for t, (want, found) in checked.items()))
    if bad:
        print(f"tumbler: verification FAILED for {sorted(bad)}", file=sys.stderr)
        return 1
    print("tumbler: verification passed: every table's count matches the export, and the master key opens its keys")
    return 0


def _check_import_key(config: Config, file: Path) -> None:
    """The master key the data directory will run with must open the export's data keys."""
    from tumbler.adapters.crypto.masterkey import existing_master_key
    from tumbler.server.keys import check_master_key, one_per_version
    from tumbler.server.transfer import wrapped_keys

    samples = one_per_version(wrapped_keys(file))
    if samples:
        master = existing_master_key(config.data_dir, os.environ)
        check_master_key(master, samples, config.data_dir, f"the export {file}")


# -- the rest ------------------------------------------------------------------------------------------


def print_env(data_dir: Path) -> int:
    from tumbler.server import credentials

    config = Config(data_dir=data_dir)
    found = credentials.read_credentials(config.credentials_file)
    if found is None:
        raise CliError(f"no credentials in {config.credentials_file}; start `tumbler server` first")
    endpoint, region, ca_bundle = config.endpoint, config.region, ""
    marker = data_dir / "endpoint"
    if marker.exists():
        lines = [*marker.read_text().splitlines(), "", "", ""]
        endpoint, region, ca_bundle = lines[0], lines[1], lines[2]
    exports = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": found[0],
        "AWS_SECRET_ACCESS_KEY": found[1],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "TUMBLER_DATA_DIR": str(data_dir),
    }
    if ca_bundle:
        exports["AWS_CA_BUNDLE"] = ca_bundle
    print(" ".join(f"export {k}={shlex.quote(v)}" for k, v in exports.items()))
    return 0


def keys_command(command: str, config: Config, name: str | None) -> int:
    from tumbler.adapters.crypto.keyring import DEFAULT_KEY_ID
    from tumbler.server.keys import KeyExists, create_key, rotate_master_key
    from tumbler.server.runtime import open_runtime, open_store

    if command == "list":
        with open_store(_readable(config)).reader() as reader:
            named = reader.kms_keys()
        print(f"{'KEY ID':<36}  ALIAS")
        print(f"{DEFAULT_KEY_ID:<36}  alias/{DEFAULT_KEY_ID} (default)")
        for key_id, alias in named:
            print(f"{key_id:<36}  alias/{alias}")
        return 0
    if command == "create":
        alias = str(name).removeprefix("alias/")
        if not KEY_NAME.fullmatch(alias) or alias.startswith("aws/"):
            raise CliError(f"{name!r} is not a key name: use letters, digits and : / _ - (aws/ is reserved)")
        runtime = open_runtime(config)
        try:
            key_id = create_key(runtime, alias, str(uuid.uuid4()))
        except KeyExists as err:
            raise CliError(str(err)) from None
        print(f"created key {key_id} (use KmsKeyId alias/{alias})")
        return 0
    version, count = rotate_master_key(open_runtime(config))
    print(f"master key version {version} is current; re-wrapped {count} data keys")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
