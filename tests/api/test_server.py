"""The server as an operator runs it: `tumbler env`, `--dev`, `tumbler keys`, purging, concurrent writers."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import LiveServer
from tumbler.server.config import Config
from tumbler.server.runtime import open_runtime, purge_due


def tumbler(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tumbler.cli", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data").start()
    yield live
    live.stop()


def test_env_exports_work_for_boto3(server: LiveServer) -> None:
    done = tumbler("env", "--data-dir", str(server.data_dir))
    assert done.returncode == 0, done.stderr
    probe = "import boto3; print(boto3.client('secretsmanager').list_secrets()['ResponseMetadata']['HTTPStatusCode'])"
    script = f'{done.stdout}\n{sys.executable} -c "{probe}"'
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=clean, timeout=60)
    assert ran.stdout.strip() == "200", ran.stderr
    assert f"AWS_ENDPOINT_URL={server.endpoint}" in done.stdout


def test_env_without_a_server_says_so(tmp_path: Path) -> None:
    done = tumbler("env", "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1
    assert "start `tumbler server` first" in done.stderr


def test_dev_mode_accepts_any_key_and_warns(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "dev", extra_args=["--dev"]).start()
    try:
        client = live.client(keys=("AKIAANYTHINGATALL000", "not-the-secret"))
        client.create_secret(Name="dev/one", SecretString="v")
        assert client.get_secret_value(SecretId="dev/one")["SecretString"] == "v"
    finally:
        live.stop()
    log = (tmp_path / f"server-{live.port}.log").read_text()
    assert "DEV MODE: signatures are NOT verified" in log


def test_wrong_key_refused_without_dev(server: LiveServer) -> None:
    key_id, _ = server.keys
    with pytest.raises(ClientError) as raised:
        server.client(keys=(key_id, "wrong")).list_secrets()
    assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_named_keys_and_master_key_rotation(own_server: LiveServer) -> None:
    sm = own_server.client()
    sm.create_secret(Name="k/default", SecretString="under the default key")
    own_server.stop()
    created = tumbler("keys", "create", "payments", "--data-dir", str(own_server.data_dir))
    assert created.returncode == 0, created.stderr
    own_server.start()
    sm = own_server.client()
    arn = sm.create_secret(Name="k/named", SecretString="under payments", KmsKeyId="alias/payments")["ARN"]
    assert sm.describe_secret(SecretId=arn)["KmsKeyId"] == "alias/payments"
    with pytest.raises(ClientError) as raised:
        sm.create_secret(Name="k/unknown", SecretString="x", KmsKeyId="alias/nope")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    own_server.stop()
    rotated = tumbler("keys", "rotate", "--data-dir", str(own_server.data_dir))
    assert rotated.returncode == 0, rotated.stderr
    assert "master key version 2 is current" in rotated.stdout
    assert len(json.loads((own_server.data_dir / "master.key").read_text())["keys"]) == 2
    own_server.start()
    sm = own_server.client()  # the admin key's own data key was re-wrapped too: signing still works
    assert sm.get_secret_value(SecretId="k/default")["SecretString"] == "under the default key"
    assert sm.get_secret_value(SecretId="k/named")["SecretString"] == "under payments"


def test_purge_removes_secrets_whose_window_ended(tmp_path: Path) -> None:
    runtime = open_runtime(Config(data_dir=tmp_path / "purge"))
    from tumbler.ops.context import Context
    from tumbler.ops.secretsmanager import OPERATIONS

    def call(op: str, now: datetime, **params: Any) -> Any:
        params = {"ClientRequestToken": str(uuid.uuid4()), **params}  # as an SDK fills it in
        return OPERATIONS[op].func(Context(runtime.services, "us-east-1", now), params)

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    call("CreateSecret", t0, Name="gone", SecretString="v")
    call("CreateSecret", t0, Name="kept", SecretString="v")
    call("DeleteSecret", t0, SecretId="gone", RecoveryWindowInDays=7)
    call("DeleteSecret", t0, SecretId="kept", RecoveryWindowInDays=8)

    class At:
        def now(self) -> datetime:
            return t0 + timedelta(days=7, seconds=1)

    runtime.services = type(runtime.services)(**{**runtime.services.__dict__, "clock": At()})
    assert purge_due(runtime) == 1
    with runtime.store.reader() as reader:
        assert reader.find_secret("us-east-1", "gone") is None
        kept = reader.find_secret("us-east-1", "kept")
        assert kept is not None
        assert kept.is_deleted


def test_concurrent_writers_keep_every_invariant(server: LiveServer, name: str) -> None:
    sm = server.client()
    sm.create_secret(Name=name, SecretString="0")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        client = boto3.session.Session().client(
            "secretsmanager",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=server.keys[0],
            aws_secret_access_key=server.keys[1],
        )
        try:
            for i in range(12):
                vid = str(uuid.uuid4())
                client.put_secret_value(SecretId=name, SecretString=f"{n}-{i}", ClientRequestToken=vid)
                client.put_secret_value(SecretId=name, SecretString=f"p{n}-{i}", VersionStages=[f"L{n}"])
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    listed = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True, MaxResults=100)
    versions = listed["Versions"]
    while "NextToken" in listed:
        listed = sm.list_secret_version_ids(
            SecretId=name, IncludeDeprecated=True, MaxResults=100, NextToken=listed["NextToken"]
        )
        versions += listed["Versions"]
    assert len(versions) == 1 + 6 * 12 * 2  # nothing lost (all younger than 24 h, so none pruned)
    holders: dict[str, list[str]] = {}
    for v in versions:
        for label in v.get("VersionStages", []):
            holders.setdefault(label, []).append(v["VersionId"])
    assert all(len(vids) == 1 for vids in holders.values()), holders
    assert set(holders) == {"AWSCURRENT", "AWSPREVIOUS", *(f"L{n}" for n in range(6))}
    assert holders["AWSCURRENT"] != holders["AWSPREVIOUS"]
    current = sm.get_secret_value(SecretId=name)
    assert current["VersionId"] == holders["AWSCURRENT"][0]


def test_schedule_preview_of_rules_and_of_a_secret(server: LiveServer, sm: Any, name: str) -> None:
    done = tumbler("schedule", "preview", "--expression", "cron(0 16 ? * 6 *)", "--duration", "2h", "--count", "3")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    starts = [datetime.strptime(line.split(" UTC")[0], "%Y-%m-%d %H:%M") for line in lines]
    assert all(s.weekday() == 4 and s.hour == 16 for s in starts)  # Fridays (AWS day 6) at 16:00
    assert [b - a for a, b in itertools.pairwise(starts)] == [timedelta(days=7)] * 2
    assert all(line.endswith("18:00 UTC") for line in lines)
    bad = tumbler("schedule", "preview", "--expression", "rate(2 hours)")
    assert bad.returncode == 1  # bad input: one line and exit status 1, as every command
    assert "Rate in hour should be least 4" in bad.stderr
    sm.create_secret(Name=name, SecretString="v")
    missing = tumbler("schedule", "preview", "--secret-id", name, "--data-dir", str(server.data_dir))
    assert missing.returncode == 1
    assert "has no rotation schedule" in missing.stderr


def test_several_workers_serve_and_rotate(tmp_path: Path, name: str) -> None:
    from tests.api.rotation_helpers import create_function, current_is, wait_for

    live = LiveServer(tmp_path / "workers", extra_args=["--workers", "2"]).start()
    try:
        sm = live.client()
        sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "p"}))
        values = {sm.get_secret_value(SecretId=name)["SecretString"] for _ in range(20)}
        assert len(values) == 1
        fn = create_function(live.client("lambda"), "generic_rotation.py")
        token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
        wait_for(lambda: current_is(sm, name, token), timeout=30)
    finally:
        live.stop()


def test_first_reads_of_the_day_during_writes_never_fail(server: LiveServer) -> None:
    # The first read of a secret on a day records LastAccessedDate: a write that once ran inside the
    # read's own transaction and failed with "database is locked" when another writer had committed.
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        sm = server.client()
        try:
            for i in range(15):
                name = f"touch/{uuid.uuid4().hex[:10]}"
                sm.create_secret(Name=name, SecretString=f"{n}-{i}")
                assert sm.get_secret_value(SecretId=name)["SecretString"] == f"{n}-{i}"
        except BaseException as err:  # reported below
            failures.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:1]
