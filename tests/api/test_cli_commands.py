"""`tumbler` as a new user meets it: commands that find nothing say where they looked and create
nothing, bad input is one line and exit status 1, and an import or a server never runs with a master
key that cannot open the data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.helpers import letters
from tests.conftest import LiveServer

Run = subprocess.CompletedProcess[str]
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING) ")  # a log line, not the error


def tumbler(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TUMBLER_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "tumbler.cli", *args],
        capture_output=True, text=True, timeout=60, env={**clean, **(env or {})}, cwd=cwd,
    )  # fmt: skip


def assert_one_line_error(done: Run, *parts: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in done.stderr.strip().splitlines() if not LOG_LINE.match(line)]
    assert len(lines) == 1, output
    for part in parts:
        assert part in lines[0], lines[0]


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    """A stopped server's data directory with a secret, a named key and an export of it all."""
    live = LiveServer(tmp_path_factory.mktemp("cli") / "data").start()
    try:
        live.client().create_secret(Name="cli/one", SecretString="v1")
    finally:
        live.stop()
    done = tumbler("export", str(live.data_dir.parent / "export.jsonl"), "--data-dir", str(live.data_dir))
    assert done.returncode == 0, done.stderr
    return live


# --- item 4: read-only commands create nothing, and say where they looked ---------------------------

READERS = [
    ["keys", "list"],
    ["rotations", "cli/one"],
    ["logs", "some-function"],
    ["schedule", "preview", "--secret-id", "cli/one"],
    ["export", "out.jsonl"],
    ["env"],
]


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_a_reader_without_a_data_directory_names_it_and_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    done = tumbler(*command, cwd=tmp_path)
    assert_one_line_error(done, str(tmp_path / ".tumbler"), "--data-dir", "TUMBLER_DATA_DIR")
    assert list(tmp_path.iterdir()) == []
    elsewhere = tmp_path / "elsewhere"
    done = tumbler(*command, env={"TUMBLER_DATA_DIR": str(elsewhere)}, cwd=tmp_path)
    assert_one_line_error(done, str(elsewhere))
    assert list(tmp_path.iterdir()) == []


def test_env_exports_the_data_directory_for_later_commands(populated: LiveServer, tmp_path: Path) -> None:
    done = tumbler("env", "--data-dir", str(populated.data_dir))
    assert done.returncode == 0, done.stderr
    assert f"export TUMBLER_DATA_DIR={populated.data_dir}" in done.stdout
    script = f"{done.stdout}\n{sys.executable} -m tumbler.cli keys list"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TUMBLER_", "AWS_"))}
    ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=clean, cwd=tmp_path, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "alias/aws/secretsmanager" in ran.stdout
    assert list(tmp_path.iterdir()) == []


def test_keys_list_shows_the_default_key_first(populated: LiveServer) -> None:
    done = tumbler("keys", "list", "--data-dir", str(populated.data_dir))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["KEY", "ID", "ALIAS"]
    assert lines[1].split() == ["aws/secretsmanager", "alias/aws/secretsmanager", "(default)"]


# --- item 7: the rotation history as a table ------------------------------------------------------


def test_rotations_without_any_says_so(populated: LiveServer) -> None:
    done = tumbler("rotations", "cli/one", "--data-dir", str(populated.data_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no rotations yet for cli/one"


# --- item 5: every command's bad input is one line and exit status 1 --------------------------------


def bad_inputs(data: Path, export: Path, scratch: Path) -> list[tuple[list[str], dict[str, str], str]]:
    """(arguments, environment, a part of the expected message)."""
    bad_json = scratch / "bad.jsonl"
    bad_json.write_text('{"format": "tumbler-export-1", "tables": []}\n{not json\n')
    not_export = scratch / "not-export.jsonl"
    not_export.write_text("hello\n")
    unreachable = "postgresql://tumbler@127.0.0.1:1/nothing"
    d = ["--data-dir", str(data)]
    return [
        (["keys", "create", "payments", *d], {}, "exists already"),  # made by the fixture below
        (["keys", "create", "aws/mine", *d], {}, "not a key name"),
        (["keys", "create", "bad name!", *d], {}, "not a key name"),
        (["keys", "list", "--store", unreachable], {}, "OperationalError"),
        (["keys", "list", "--store", "mysql://x", *d], {}, "postgresql://"),
        (["keys", "rotate", *d], {"TUMBLER_MASTER_KEY": "not a key"}, "TUMBLER_MASTER_KEY"),
        (["rotations", "cli/none", *d], {}, "no secret cli/none"),
        (["rotations", "cli/one", "--store", unreachable], {}, "OperationalError"),
        (["logs", "nothing-here", *d], {}, "no logs for nothing-here"),
        (["logs", "f", "--tail", "many", *d], {}, "invalid int value"),
        (["schedule", "preview", "--expression", "rate(banana)"], {}, "invalid rules"),
        (["schedule", "preview", "--secret-id", "cli/none", *d], {}, "no rotation schedule"),
        (["schedule", "preview"], {}, "one of the arguments"),
        (["export", str(scratch / "no-such-dir" / "x.jsonl"), *d], {}, "No such file or directory"),
        (["import", str(scratch / "missing.jsonl"), "--data-dir", str(scratch / "i1")], {}, "No such file"),
        (["import", str(bad_json), "--data-dir", str(scratch / "i2")], {}, "line 2"),
        (["import", str(not_export), "--data-dir", str(scratch / "i3")], {}, "not a Tumbler export"),
        (["import", str(export), *d], {}, "not empty"),
        (["migrate", "--store", unreachable], {}, "OperationalError"),
        (["env", "--data-dir", str(scratch)], {}, "no credentials"),
        (["server", "--port", "http", *d], {}, "invalid int value"),
        (["server", *d], {"TUMBLER_PORT": "eighty"}, "invalid int value"),
        (["server", "--host", "0.0.0.0", *d], {}, "--insecure-http"),
        (["server", "--tls-cert", str(scratch / "none.pem"), *d], {}, "--tls-key"),
        (["server", "--tls-cert", str(scratch / "c.pem"), "--tls-key", str(scratch / "k.pem"), *d], {}, "c.pem"),
        (["certs", "create", "--cert", str(export), "--key", str(scratch / "k2.pem")], {}, "exists already"),
        (["no-such-command"], {}, "invalid choice"),
        (["keys"], {}, "required"),
    ]


def test_every_command_answers_bad_input_in_one_line(populated: LiveServer, tmp_path: Path) -> None:
    data = populated.data_dir
    assert tumbler("keys", "create", "payments", "--data-dir", str(data)).returncode == 0
    (data / "master.key").chmod(0o600)
    for args, env, part in bad_inputs(data, data.parent / "export.jsonl", tmp_path):
        done = tumbler(*args, env=env)
        assert_one_line_error(done, part)
    for folder in ("i1", "i2", "i3"):
        assert not (tmp_path / folder).exists(), f"a failed import created {folder}"


def test_a_master_key_others_can_read_is_one_line(populated: LiveServer, tmp_path: Path) -> None:
    data = tmp_path / "copy"
    data.mkdir()
    (data / "master.key").write_text((populated.data_dir / "master.key").read_text())
    (data / "master.key").chmod(0o644)
    assert_one_line_error(tumbler("keys", "rotate", "--data-dir", str(data)), "chmod 600")


# --- item 3: the master key must open the data ------------------------------------------------------


def test_import_with_another_master_key_is_refused_before_writing(populated: LiveServer, tmp_path: Path) -> None:
    export = populated.data_dir.parent / "export.jsonl"
    target = tmp_path / "target"
    done = tumbler("import", str(export), "--data-dir", str(target))
    assert_one_line_error(done, "master key version 1", "there is no master key", "TUMBLER_MASTER_KEY")
    assert not target.exists()
    other = tmp_path / "other"
    assert tumbler("keys", "rotate", "--data-dir", str(other)).returncode == 0  # a data directory with its own key
    done = tumbler("import", str(export), "--data-dir", str(other))
    assert_one_line_error(done, "does not open", "version 1")
    assert "tumbler.db" not in {p.name for p in other.iterdir()} or _count_secrets(other) == 0


def _count_secrets(data: Path) -> int:
    import sqlite3

    with sqlite3.connect(data / "tumbler.db") as db:
        return int(db.execute("SELECT count(*) FROM secrets").fetchone()[0])


def test_import_with_the_right_master_key_passes(populated: LiveServer, tmp_path: Path) -> None:
    export = populated.data_dir.parent / "export.jsonl"
    key = (populated.data_dir / "master.key").read_text()
    target = tmp_path / "target"
    done = tumbler("import", str(export), "--data-dir", str(target), env={"TUMBLER_MASTER_KEY": key})
    assert done.returncode == 0, done.stderr
    assert "verification passed" in done.stdout
    assert not (target / "master.key").exists()


def test_a_server_never_makes_a_new_master_key_for_existing_data(populated: LiveServer, tmp_path: Path) -> None:
    data = tmp_path / "moved"
    data.mkdir()
    (data / "tumbler.db").write_bytes((populated.data_dir / "tumbler.db").read_bytes())
    done = tumbler("server", "--data-dir", str(data), "--port", "1")
    assert_one_line_error(done, "master key version 1", str(data))
    assert not (data / "master.key").exists()
    (data / "master.key").write_text(json.dumps({"format": 1, "keys": {"1": "A" * 43 + "="}}))
    (data / "master.key").chmod(0o600)
    done = tumbler("server", "--data-dir", str(data), "--port", "1")
    assert_one_line_error(done, "does not open", "version 1")


def test_a_server_creates_a_key_for_an_empty_data_directory(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "fresh").start()
    try:
        assert live.client().list_secrets()["SecretList"] == []
    finally:
        live.stop()
    assert (tmp_path / "fresh" / "master.key").exists()


def test_rotations_table_has_a_header(server: LiveServer) -> None:
    from tests.api.rotation_helpers import create_function, current_is, wait_for

    name = f"cli/{letters()}"
    sm = server.client()
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "initial"}))
    fn = create_function(server.client("lambda"), "generic_rotation.py")
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    wait_for(lambda: current_is(sm, name, token))
    done = tumbler("rotations", name, "--data-dir", str(server.data_dir))
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split() == ["CREATED", "STATE", "STEP", "ATTEMPT", "VERSION", "ERROR"]
    assert row.split()[1] == "succeeded"
    assert token in row.split()
