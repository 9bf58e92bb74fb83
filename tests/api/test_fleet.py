"""Several stateless Tumbler nodes on one PostgreSQL: exactly-once rotations, takeover, invariants, migration."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.api.rotation_helpers import create_function, current_is, execution_role, wait_for
from tests.api.test_rotation import events_of
from tests.conftest import LiveServer, service_missing
from tests.dbs import PrivatePostgres

ADMIN_URL = os.environ.get("TUMBLER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own on the machine's PostgreSQL."""
    name = f"fleet_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as err:
        service_missing(f"PostgreSQL for the fleet tests ({err})")
    yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def tumbler(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "tumbler.cli", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def node(tmp: Path, url: str, key: str, index: int, lease: str = "3") -> LiveServer:
    env = {"TUMBLER_MASTER_KEY": key, "TUMBLER_ROTATION_LEASE": lease, "TUMBLER_ROTATION_BACKOFF": "0.2"}
    return LiveServer(tmp / f"node{index}", extra_args=["--store", url], env=env)


@pytest.fixture
def fleet(tmp_path: Path, database: str) -> Iterator[list[LiveServer]]:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    nodes = [node(tmp_path, database, key, i).start() for i in range(3)]
    yield nodes
    for n in nodes:
        n.stop()


def rotation_counts(url: str) -> Counter[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT secret_arn, state FROM rotations").fetchall()
    return Counter(arn for arn, _ in rows)


def test_due_rotations_run_exactly_once_across_nodes(fleet: list[LiveServer], database: str, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    fn = create_function(fleet[0].client("lambda"), "generic_rotation.py", {"EVENTS_FILE": str(events)})
    clients = [n.client() for n in fleet]
    arns = []
    for i in range(200):  # rotation configured on every node in turn; a function registered on one runs on all
        sm = clients[i % 3]
        arn = sm.create_secret(Name=f"fleet/{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"password": "p"}))["ARN"]
        sm.rotate_secret(SecretId=arn, RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 1},
                         RotateImmediately=False)  # fmt: skip
        arns.append(arn)
    wait_for(lambda: sum(rotation_counts(database).values()) == 200 and _all_settled(database), timeout=120)
    events.unlink(missing_ok=True)
    with psycopg.connect(database) as conn:  # every schedule falls due at this very moment
        conn.execute("UPDATE secrets SET next_rotation = extract(epoch FROM now()) WHERE next_rotation IS NOT NULL")
    wait_for(lambda: sum(rotation_counts(database).values()) == 400 and _all_settled(database), timeout=240)
    assert set(rotation_counts(database).values()) == {2}  # the test-only run and exactly one scheduled one
    steps = Counter((e["SecretId"], e["Step"]) for e in events_of(events))
    assert {steps[(arn, step)] for arn in arns for step in ("createSecret", "finishSecret")} == {1}
    with psycopg.connect(database) as conn:
        states = Counter(r[0] for r in conn.execute("SELECT state FROM rotations").fetchall())
    assert states == {"succeeded": 400}


def _all_settled(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM rotations WHERE state IN ('pending', 'running')").fetchone() == (0,)


def test_a_killed_node_rotations_are_finished_by_the_others(tmp_path: Path, database: str) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    first = node(tmp_path, database, key, 0).start()
    others: list[LiveServer] = []
    try:
        events = tmp_path / "events.jsonl"
        env = {"SLEEP_STEP": "setSecret", "SLEEP_SECONDS": "2", "EVENTS_FILE": str(events)}
        fn = create_function(first.client("lambda"), "generic_rotation.py", env)
        sm = first.client()
        tokens = {}
        for _ in range(3):
            arn = sm.create_secret(Name=f"kill/{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"p": "1"}))["ARN"]
            tokens[arn] = sm.rotate_secret(SecretId=arn, RotationLambdaARN=fn)["VersionId"]
        wait_for(lambda: any(e["Step"] == "setSecret" for e in events_of(events)))
        others = [node(tmp_path, database, key, i).start() for i in (1, 2)]
        first.stop(kill=True)  # SIGKILL mid-rotation: its lease (3 s) expires and the others take over
        survivor = others[0].client()
        for arn, token in tokens.items():
            wait_for(lambda arn=arn, token=token: current_is(survivor, arn, token), timeout=120)
        assert set(rotation_counts(database).values()) == {1}  # resumed, never started again
        with psycopg.connect(database) as conn:
            assert {r[0] for r in conn.execute("SELECT state FROM rotations").fetchall()} == {"succeeded"}
    finally:
        for n in [first, *others]:
            n.stop()


def test_concurrent_writes_from_all_nodes_keep_every_invariant(fleet: list[LiveServer]) -> None:
    names = [f"race/{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for name in names:
        fleet[0].client().create_secret(Name=name, SecretString="0")
    failures: list[BaseException] = []

    def writer(server: LiveServer, n: int) -> None:
        sm = server.client()
        try:
            for i in range(10):
                for name in names:
                    vid = sm.put_secret_value(SecretId=name, SecretString=f"{n}-{i}")["VersionId"]
                    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
                    holder = next((v for v, s in stages.items() if "BLUE" in s), None)
                    move = {"SecretId": name, "VersionStage": "BLUE", "MoveToVersionId": vid}
                    if holder:
                        move["RemoveFromVersionId"] = holder
                    # another node may move BLUE between our read and our move: refused, as it must be
                    with contextlib.suppress(sm.exceptions.InvalidParameterException):
                        sm.update_secret_version_stage(**move)
        except BaseException as err:  # reported below
            failures.append(err)

    threads = [threading.Thread(target=writer, args=(server, n)) for n, server in enumerate(fleet * 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    sm = fleet[2].client()
    for name in names:
        versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True, MaxResults=100)["Versions"]
        assert len(versions) == 1 + 6 * 10  # no version lost
        labels = Counter(label for v in versions for label in v.get("VersionStages", []))
        assert labels == {"AWSCURRENT": 1, "AWSPREVIOUS": 1, "BLUE": 1}  # no label duplicated


def test_export_from_sqlite_import_into_postgresql(tmp_path: Path, database: str) -> None:
    source = LiveServer(tmp_path / "embedded").start()
    try:
        sm = source.client()
        tags = [{"Key": "k", "Value": "v"}]
        sm.create_secret(Name="mig/a", SecretString='{"password": "alpha"}', Description="d", Tags=tags)
        sm.put_secret_value(
            SecretId="mig/a", SecretString='{"password": "alpha-2"}', VersionStages=["AWSCURRENT", "BLUE"]
        )
        sm.create_secret(Name="mig/b", SecretBinary=b"\x00\x01binary")
        statement = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "secretsmanager:*"}
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{**statement, "Resource": "*"}]})
        sm.put_resource_policy(SecretId="mig/b", ResourcePolicy=policy)
        sm.replicate_secret_to_regions(SecretId="mig/b", AddReplicaRegions=[{"Region": "eu-west-1"}])
        fn = create_function(source.client("lambda"), "generic_rotation.py")
        token = sm.rotate_secret(SecretId="mig/a", RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 5})
        wait_for(lambda: current_is(sm, "mig/a", token["VersionId"]))
        before = {n: _snapshot(sm, n) for n in ("mig/a", "mig/b")}
        functions_before = source.client("lambda").list_functions()["Functions"]
    finally:
        source.stop()
    export = tmp_path / "export.jsonl"
    tumbler("export", str(export), "--data-dir", str(source.data_dir))
    tumbler("migrate", "--store", database)
    key = (source.data_dir / "master.key").read_text()  # the master key travels by configuration
    importer = {"TUMBLER_MASTER_KEY": key}  # import checks that it opens the export's data keys
    done = tumbler("import", str(export), "--store", database, "--data-dir", str(tmp_path / "importer"), env=importer)
    assert "verification passed" in done.stdout
    target_dir = tmp_path / "fleet-node"
    target_dir.mkdir()
    (target_dir / "credentials").write_text((source.data_dir / "credentials").read_text())
    os.chmod(target_dir / "credentials", 0o600)
    target = LiveServer(target_dir, extra_args=["--store", database], env={"TUMBLER_MASTER_KEY": key}).start()
    try:
        sm = target.client()
        assert {n: _snapshot(sm, n) for n in ("mig/a", "mig/b")} == before
        assert target.client("lambda").list_functions()["Functions"] == functions_before
        replica = target.client(region="eu-west-1").get_secret_value(SecretId="mig/b")
        assert replica["SecretBinary"] == b"\x00\x01binary"
    finally:
        target.stop()
    history = tumbler("rotations", "mig/a", "--store", database, "--data-dir", str(target_dir), "--json")
    assert json.loads(history.stdout)[0]["state"] == "succeeded"


def _snapshot(sm: Any, name: str) -> dict[str, Any]:
    described = sm.describe_secret(SecretId=name)
    described.pop("ResponseMetadata")
    described.pop("LastAccessedDate", None)
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    values = {}
    for v in versions:
        got = sm.get_secret_value(SecretId=name, VersionId=v["VersionId"])
        values[v["VersionId"]] = got.get("SecretString", got.get("SecretBinary"))
        v.pop("LastAccessedDate", None)
    policy = sm.get_resource_policy(SecretId=name).get("ResourcePolicy")
    return {"described": described, "versions": versions, "values": values, "policy": policy}


def test_a_restarted_node_resumes_its_own_rotations_before_their_lease_ends(tmp_path: Path, database: str) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    first = node(tmp_path, database, key, 0, lease="60")
    first.start()
    try:
        events = tmp_path / "events.jsonl"
        env = {"SLEEP_STEP": "setSecret", "SLEEP_SECONDS": "2", "EVENTS_FILE": str(events)}
        sm = first.client()
        fn = create_function(first.client("lambda"), "generic_rotation.py", env)
        arn = sm.create_secret(Name=f"restart/{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"p": "1"}))["ARN"]
        token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=fn)["VersionId"]
        wait_for(lambda: any(e["Step"] == "setSecret" for e in events_of(events)))
        first.stop(kill=True)  # SIGKILL mid-step: its lease has about a minute left
        killed = time.monotonic()
        first.start()  # the same data directory: the same node id
        wait_for(lambda: current_is(first.client(), arn, token), timeout=60)
        assert time.monotonic() - killed < 20  # resumed at once, not when the 60 s lease lapsed
        with psycopg.connect(database) as conn:
            assert conn.execute("SELECT state FROM rotations").fetchall() == [("succeeded",)]
        assert (first.data_dir / "node-id").read_text().strip()
    finally:
        first.stop()


def test_a_configured_node_id_names_the_leases(tmp_path: Path, database: str) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    live = node(tmp_path, database, key, 0, lease="60")
    live.extra_args += ["--node-id", "node-a.example"]
    live.start()
    try:
        fn = create_function(live.client("lambda"), "generic_rotation.py", {"SLEEP_STEP": "setSecret",
                                                                              "SLEEP_SECONDS": "2"})  # fmt: skip
        sm = live.client()
        arn = sm.create_secret(Name=f"named/{uuid.uuid4().hex[:8]}", SecretString="x")["ARN"]
        sm.rotate_secret(SecretId=arn, RotationLambdaARN=fn)

        def owners() -> set[str]:
            with psycopg.connect(database) as conn:
                return {r[0] for r in conn.execute("SELECT lease_owner FROM rotations WHERE lease_owner IS NOT NULL")}

        wait_for(lambda: owners() == {"node-a.example"})
    finally:
        live.stop()


def test_a_write_on_one_node_is_read_on_another(fleet: list[LiveServer]) -> None:
    a, b = fleet[0].client(), fleet[1].client()
    name = f"fresh/{uuid.uuid4().hex[:8]}"
    a.create_secret(Name=name, SecretString="one")
    for _ in range(20):  # node B now holds it in memory
        assert b.get_secret_value(SecretId=name)["SecretString"] == "one"
    for value in ("two", "three"):
        a.put_secret_value(SecretId=name, SecretString=value)
        assert a.get_secret_value(SecretId=name)["SecretString"] == value  # the writing node: at once
        deadline = time.monotonic() + 1  # another node: when PostgreSQL's notification arrives (ms)
        while b.get_secret_value(SecretId=name)["SecretString"] != value:
            assert time.monotonic() < deadline, "node B served a stale value for a second"
    a.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    wait_for(lambda: _gone(b, name), timeout=1)


def _gone(sm: Any, name: str) -> bool:
    try:
        sm.get_secret_value(SecretId=name)
    except sm.exceptions.ResourceNotFoundException:
        return True
    return False


def _end_backends(url: str) -> int:
    """End every backend of the node's database (what a restart, a failover or an administrator does)."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        ended = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(ended)


def test_requests_succeed_across_dropped_database_connections(tmp_path: Path, database: str) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    live = node(tmp_path, database, key, 0).start()
    try:
        sm = live.client()
        name = f"drop/{uuid.uuid4().hex[:8]}"
        first = sm.create_secret(Name=name, SecretString="0")["VersionId"]
        for i in range(5):  # between requests: every pooled connection is gone when the next one comes
            assert _end_backends(database) > 0
            sm.put_secret_value(SecretId=name, SecretString=str(i + 1))
            assert sm.get_secret_value(SecretId=name, VersionId=first)["SecretString"] == "0"
            assert sm.describe_secret(SecretId=name)["Name"] == name
        failures: list[BaseException] = []
        stop = threading.Event()

        def reads() -> None:
            client = live.client()
            try:
                while not stop.is_set():
                    client.describe_secret(SecretId=name)
                    client.get_secret_value(SecretId=name, VersionId=first)
                    client.list_secrets(MaxResults=5)
            except BaseException as err:  # reported below
                failures.append(err)

        readers = [threading.Thread(target=reads) for _ in range(4)]
        for t in readers:
            t.start()
        for _ in range(10):  # under load
            time.sleep(0.1)
            _end_backends(database)
        stop.set()
        for t in readers:
            t.join()
        assert not failures
        assert sm.get_secret_value(SecretId=name)["SecretString"] == "5"
    finally:
        live.stop()


FUNCTION_DUMPING_ITS_ENVIRONMENT = """
import json, os
def lambda_handler(event, context):
    print(json.dumps(dict(os.environ)))
    with open(os.environ["ENV_FILE"], "w") as out:
        json.dump(dict(os.environ), out)
    return {"ok": True}
"""


def test_the_store_password_reaches_no_function_and_no_log(tmp_path: Path) -> None:
    password = f"pw-{secrets.token_hex(12)}"
    with PrivatePostgres.running() as cluster:
        user = cluster.create_user(password)
        with cluster.connect() as conn:
            conn.execute(f'CREATE DATABASE "{user}" OWNER "{user}"')
        url = f"postgresql://{user}:{password}@127.0.0.1:{cluster.port}/{user}"
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        live = node(tmp_path, url, key, 0)
        live.env["TUMBLER_STORE"] = url  # by the environment as well as by the flag
        live.start()
        try:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("lambda_function.py", FUNCTION_DUMPING_ITS_ENVIRONMENT)
            lam = live.client("lambda")
            env_file = tmp_path / "function-env.json"
            lam.create_function(FunctionName="envdump", Runtime="python3.12", Role=execution_role(lam),
                                Handler="lambda_function.lambda_handler", Code={"ZipFile": buffer.getvalue()},
                                Environment={"Variables": {"ENV_FILE": str(env_file)}})  # fmt: skip
            answer = lam.invoke(FunctionName="envdump", LogType="Tail")
            assert json.loads(answer["Payload"].read()) == {"ok": True}
            seen = env_file.read_text()
            assert "ENV_FILE" in seen
            assert password not in seen
            assert password not in base64.b64decode(answer["LogResult"]).decode()
            live.client().create_secret(Name="pw/check", SecretString="x")
        finally:
            live.stop()
        cluster_log_free = all(password.encode() not in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
                               and p != env_file)  # fmt: skip
        assert cluster_log_free  # the server's log, the audit log, function logs: none holds it
