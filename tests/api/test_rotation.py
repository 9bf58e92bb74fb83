"""RotateSecret end to end: a Lambda-style rotation function registered through the Lambda API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.rotation_helpers import create_function, current_is, stages, wait_for
from tests.conftest import LiveServer

PREVIOUS_INCOMPLETE = "A previous rotation isn't complete. That rotation will be reattempted."


@pytest.fixture(scope="module")
def lam(server: LiveServer) -> Any:
    return server.client("lambda")


def events_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def history(server: LiveServer, secret_id: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "tumbler.cli", "rotations", secret_id, "--data-dir", str(server.data_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def settled(server: LiveServer, secret_id: str) -> dict[str, Any] | None:
    found = history(server, secret_id)
    return found[0] if found and found[0]["state"] not in ("pending", "running") else None


def pending_filled(sm: Any, name: str, token: str) -> bool:
    try:
        sm.get_secret_value(SecretId=name, VersionId=token, VersionStage="AWSPENDING")
    except ClientError:
        return False
    return True


def new_secret(sm: Any, name: str) -> str:
    return str(sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "initial"}))["ARN"])


def test_full_rotation(server: LiveServer, sm: Any, lam: Any, name: str, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    fn = create_function(lam, "generic_rotation.py", {"EVENTS_FILE": str(events)})
    arn = new_secret(sm, name)
    first = sm.get_secret_value(SecretId=name)["VersionId"]
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 30})[
        "VersionId"
    ]
    wait_for(lambda: current_is(sm, name, token))
    wait_for(lambda: settled(server, name))
    assert stages(sm, name) == {token: ["AWSCURRENT"], first: ["AWSPREVIOUS"]}  # AWSPENDING removed
    value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert value["generation"] == 1
    assert value["password"] != "initial"
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == fn
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert "LastRotatedDate" in described
    seen = events_of(events)
    assert [e["Step"] for e in seen] == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    assert all(e["SecretId"] == arn and e["ClientRequestToken"] == token for e in seen)
    assert all(set(e) == {"Step", "SecretId", "ClientRequestToken", "RotationToken"} for e in seen)
    assert history(server, name)[0]["state"] == "succeeded"


def test_token_is_the_pending_placeholder_before_create(sm: Any, lam: Any, name: str, token: str) -> None:
    fn = create_function(lam, "generic_rotation.py", {"SLEEP_STEP": "createSecret", "SLEEP_SECONDS": "2"})
    new_secret(sm, name)
    assert sm.rotate_secret(SecretId=name, RotationLambdaARN=fn, ClientRequestToken=token)["VersionId"] == token
    assert stages(sm, name)[token] == ["AWSPENDING"]
    for kw in ({"VersionId": token}, {"VersionStage": "AWSPENDING"}):
        with pytest.raises(ClientError) as raised:
            sm.get_secret_value(SecretId=name, **kw)
        assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    again = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn, ClientRequestToken=token)
    assert again["VersionId"] == token  # the same token is a retry of the same rotation
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name, RotationLambdaARN=fn, ClientRequestToken=str(uuid.uuid4()))
    assert raised.value.response["Error"] == {"Code": "InvalidRequestException", "Message": PREVIOUS_INCOMPLETE}
    wait_for(lambda: current_is(sm, name, token))


def test_failing_step_is_retried_then_fails(server: LiveServer, sm: Any, lam: Any, name: str, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    fn = create_function(lam, "generic_rotation.py", {"FAIL_STEP": "testSecret", "EVENTS_FILE": str(events)})
    new_secret(sm, name)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    final = wait_for(lambda: settled(server, name), timeout=60)
    assert final["state"] == "failed"
    assert final["attempt"] == 3  # the test server allows 3 attempts
    assert final["last_error"] == "testSecret: RuntimeError: testSecret failed on purpose"
    assert [e["Step"] for e in events_of(events)].count("testSecret") == 3
    assert stages(sm, name)[token] == ["AWSPENDING"]  # left in place, as AWS does
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)
    assert raised.value.response["Error"]["Message"] == PREVIOUS_INCOMPLETE
    runs = history(server, name)  # "That rotation will be reattempted": the same version, again
    assert len(runs) == 2
    assert runs[0]["token"] == token
    audit = (server.data_dir / "audit.log").read_text()
    assert '"event":"RotationFailed"' in audit
    assert token in audit


def test_a_failure_shows_the_step_that_failed(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    """The history and the audit log name setSecret, whose error they show, not the step a retry starts at."""
    fn = create_function(lam, "generic_rotation.py", {"FAIL_STEP": "setSecret"})
    new_secret(sm, name)
    sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)
    final = wait_for(lambda: settled(server, name), timeout=60)
    error = "setSecret: RuntimeError: setSecret failed on purpose"
    assert (final["state"], final["step"], final["attempt"], final["last_error"]) == ("failed", "setSecret", 3, error)
    audit = [json.loads(line) for line in (server.data_dir / "audit.log").read_text().splitlines()]
    failures = [e for e in audit if e.get("rotation") == final["rotation_id"] and "reason" in e]
    shown = [(e["event"], e["step"], e["attempt"], e["reason"]) for e in failures]
    assert shown == [
        ("RotationStepFailed", "setSecret", 1, error),
        ("RotationStepFailed", "setSecret", 2, error),
        ("RotationFailed", "setSecret", 3, error),
    ]


def test_transient_failure_recovers(server: LiveServer, sm: Any, lam: Any, name: str, tmp_path: Path) -> None:
    env = {"FAIL_STEP": "setSecret", "FAIL_TIMES": "1", "COUNTER_FILE": str(tmp_path / "count")}
    fn = create_function(lam, "generic_rotation.py", env)
    new_secret(sm, name)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    wait_for(lambda: current_is(sm, name, token), timeout=60)
    final = wait_for(lambda: settled(server, name))
    assert (final["state"], final["attempt"]) == ("succeeded", 2)


def test_function_timeout_fails_the_rotation(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    fn = create_function(lam, "generic_rotation.py", {"SLEEP_STEP": "setSecret", "SLEEP_SECONDS": "5"}, timeout=1)
    new_secret(sm, name)
    sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)
    final = wait_for(lambda: settled(server, name), timeout=60)
    assert final["state"] == "failed"
    assert "Task timed out after 1.00 seconds" in final["last_error"]


def test_rotate_immediately_false_only_tests(sm: Any, lam: Any, name: str, tmp_path: Path, server: LiveServer) -> None:
    events = tmp_path / "events.jsonl"
    fn = create_function(lam, "generic_rotation.py", {"EVENTS_FILE": str(events)})
    new_secret(sm, name)
    before = stages(sm, name)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn, RotateImmediately=False)["VersionId"]
    final = wait_for(lambda: settled(server, name))
    assert final["state"] == "succeeded"
    assert [e["Step"] for e in events_of(events)] == ["testSecret"]
    assert stages(sm, name) == before
    listed = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert token not in [v["VersionId"] for v in listed]
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is True


def test_cancel_rotate_secret(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    fn = create_function(lam, "generic_rotation.py", {"SLEEP_STEP": "setSecret", "SLEEP_SECONDS": "2"})
    new_secret(sm, name)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    cancelled = sm.cancel_rotate_secret(SecretId=name)
    assert cancelled["VersionId"] == token
    described = sm.describe_secret(SecretId=name)
    assert described["RotationEnabled"] is False
    assert "NextRotationDate" not in described
    final = wait_for(lambda: settled(server, name))
    assert final["state"] == "abandoned"
    time.sleep(2.5)  # the setSecret that was running when we cancelled has ended by now
    assert history(server, name)[0]["state"] == "abandoned"  # and it did not bring the rotation back
    assert not current_is(sm, name, token)


def test_rotate_secret_after_cancel_turns_rotation_on_again(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    """AWS: "To turn on automatic rotation again, call RotateSecret". The cancelled rotation's AWSPENDING is
    reattempted, and the function's "is rotation enabled?" check passes."""
    fn = create_function(lam, "generic_rotation.py", {"SLEEP_STEP": "setSecret", "SLEEP_SECONDS": "1"})
    new_secret(sm, name)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is True
    wait_for(lambda: pending_filled(sm, name, token))  # createSecret done; setSecret is sleeping
    sm.cancel_rotate_secret(SecretId=name)
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is False
    assert wait_for(lambda: settled(server, name))["state"] == "abandoned"
    assert stages(sm, name)[token] == ["AWSPENDING"]  # left behind, as AWS leaves it
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name)
    assert raised.value.response["Error"]["Message"] == PREVIOUS_INCOMPLETE
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is True
    wait_for(lambda: current_is(sm, name, token), timeout=30)
    final = wait_for(lambda: settled(server, name))
    assert (final["state"], final["token"], final["attempt"]) == ("succeeded", token, 1)
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is True


def test_a_cancelled_rotations_pending_cleared_as_the_readme_says_lets_a_new_one_start(
    server: LiveServer, sm: Any, lam: Any, name: str
) -> None:
    fn = create_function(lam, "generic_rotation.py", {"SLEEP_STEP": "setSecret", "SLEEP_SECONDS": "1"})
    new_secret(sm, name)
    stale = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    wait_for(lambda: pending_filled(sm, name, stale))
    assert sm.cancel_rotate_secret(SecretId=name)["VersionId"] == stale
    server.aws("secretsmanager", "update-secret-version-stage", "--secret-id", name,
               "--version-stage", "AWSPENDING", "--remove-from-version-id", stale)  # fmt: skip
    fresh = sm.rotate_secret(SecretId=name)["VersionId"]
    assert fresh != stale
    final = wait_for(lambda: (found := settled(server, name)) and found["token"] == fresh and found, timeout=30)
    assert final["state"] == "succeeded"
    assert stages(sm, name)[fresh] == ["AWSCURRENT"]
    assert stale not in stages(sm, name)  # no label left on it


def test_manual_put_during_rotation_abandons_it(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    fn = create_function(lam, "generic_rotation.py", {"SLEEP_STEP": "setSecret", "SLEEP_SECONDS": "2"})
    new_secret(sm, name)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    wait_for(lambda: pending_filled(sm, name, token))  # createSecret done; setSecret is sleeping
    manual = sm.put_secret_value(SecretId=name, SecretString=json.dumps({"username": "app", "password": "manual"}))
    final = wait_for(lambda: settled(server, name), timeout=30)
    assert final["state"] == "abandoned"
    assert current_is(sm, name, manual["VersionId"])
    assert "AWSPENDING" not in stages(sm, name).get(token, [])
    assert '"event":"RotationAbandoned"' in (server.data_dir / "audit.log").read_text()


def test_values_never_reach_logs(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    fn = create_function(lam, "generic_rotation.py", {"PRINT_VALUES": "1", "FAIL_STEP": "finishSecret"})
    marker = f"marker-{uuid.uuid4().hex}"
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": marker}))
    sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)
    wait_for(lambda: settled(server, name), timeout=60)
    logs = subprocess.run(
        [sys.executable, "-m", "tumbler.cli", "logs", fn.split(":")[-1], "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert logs.returncode == 0, logs.stderr
    assert "current value:" in logs.stdout
    assert "****" in logs.stdout
    pending = sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["SecretString"]
    new_password = json.loads(pending)["password"]
    for text in (logs.stdout, (server.data_dir / "audit.log").read_text(), json.dumps(history(server, name))):
        assert marker not in text
        assert new_password not in text
    server_log = (server.data_dir.parent / f"server-{server.port}.log").read_text()
    assert marker not in server_log
    assert new_password not in server_log


def test_a_value_made_during_the_rotation_is_masked_everywhere(
    server: LiveServer, sm: Any, lam: Any, name: str, tmp_path: Path
) -> None:
    """The function prints the new value in each of the four steps, and raises with it in createSecret,
    where it did not exist before the step ran: no log, history or file of the data directory shows it."""
    fn = create_function(lam, "generic_rotation.py", {"LEAK_PENDING": "1", "COUNTER_FILE": str(tmp_path / "count")})
    marker = f"pw-{uuid.uuid4().hex}"
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": marker}))
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    assert wait_for(lambda: settled(server, name), timeout=60)["state"] == "succeeded"
    new_value = sm.get_secret_value(SecretId=name, VersionId=token)["SecretString"]
    logs = subprocess.run(
        [sys.executable, "-m", "tumbler.cli", "logs", fn.split(":")[-1], "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert logs.returncode == 0, logs.stderr
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        assert f"{step} new value: **** password: ****" in logs.stdout
    assert "finishSecret replaced: ****" in logs.stdout
    audit = (server.data_dir / "audit.log").read_text()
    assert "createSecret: RuntimeError: createSecret stored **** but failed" in audit
    shown = [logs.stdout, audit, json.dumps(history(server, name))]
    files = [path.read_bytes() for path in server.data_dir.rglob("*") if path.is_file()]  # the database, WAL, logs
    assert any(path.name.endswith("-wal") for path in server.data_dir.rglob("*"))
    for secret in (new_value, json.loads(new_value)["password"], marker):
        assert all(secret not in text for text in shown)
        assert all(secret.encode() not in data for data in files)


def test_a_password_in_a_function_error_is_masked(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    fn = create_function(lam, "generic_rotation.py", {"FAIL_STEP": "setSecret", "LEAK_PASSWORD": "1"})
    marker = f"pw-{uuid.uuid4().hex}"
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": marker}))
    sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)
    final = wait_for(lambda: settled(server, name), timeout=60)
    assert final["last_error"] == "setSecret: RuntimeError: setSecret failed on purpose (password ****)"
    assert marker not in (server.data_dir / "audit.log").read_text()


def test_rotation_needs_a_function(sm: Any, name: str) -> None:
    new_secret(sm, name)
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name)
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name, RotationLambdaARN="arn:aws:lambda:us-east-1:123456789012:function:nope")
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"  # AWS's answer for a missing function
    described = sm.describe_secret(SecretId=name)
    assert "RotationEnabled" not in described  # a refused RotateSecret leaves nothing behind
    assert list(described["VersionIdsToStages"].values()) == [["AWSCURRENT"]]


def test_cli_rotate(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    fn = create_function(lam, "generic_rotation.py")
    new_secret(sm, name)
    out = server.aws("secretsmanager", "rotate-secret", "--secret-id", name, "--rotation-lambda-arn", fn)
    wait_for(lambda: current_is(sm, name, out["VersionId"]))


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"AutomaticallyAfterDays": 7, "ScheduleExpression": "rate(7 days)"}, "You cannot specify both rotation"),
        ({"ScheduleExpression": "rate(3 hours)"}, "Rate in hour should be least 4"),
        ({"ScheduleExpression": "cron(15 10 * * ? *)"}, "Invalid schedule expression."),
        ({"ScheduleExpression": "cron(0 10 1 * MON *)"}, "Invalid schedule expression."),
        ({"ScheduleExpression": "rate(1 day)", "Duration": "25h"}, "Duration must be at least 1 hour"),
    ],
)
def test_invalid_rules_are_refused_and_change_nothing(
    sm: Any, lam: Any, name: str, rules: dict[str, Any], message: str
) -> None:
    fn = create_function(lam, "generic_rotation.py")
    new_secret(sm, name)
    before = sm.describe_secret(SecretId=name)
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name, RotationLambdaARN=fn, RotationRules=rules)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert raised.value.response["Error"]["Message"].startswith(message)
    after = sm.describe_secret(SecretId=name)
    assert after["VersionIdsToStages"] == before["VersionIdsToStages"]
    assert "RotationEnabled" not in after


def test_describe_shows_schedule_fields(sm: Any, lam: Any, name: str) -> None:
    fn = create_function(lam, "generic_rotation.py")
    new_secret(sm, name)
    token = sm.rotate_secret(
        SecretId=name, RotationLambdaARN=fn, RotationRules={"ScheduleExpression": "rate(10 days)", "Duration": "3h"}
    )["VersionId"]
    wait_for(lambda: current_is(sm, name, token))
    described = wait_for(lambda: (d := sm.describe_secret(SecretId=name)).get("NextRotationDate") and d)
    assert described["RotationRules"] == {
        "ScheduleExpression": "rate(10 days)",
        "Duration": "3h",
        "AutomaticallyAfterDays": 10,
    }
    last, nxt = described["LastRotatedDate"], described["NextRotationDate"]
    assert (nxt.date() - last.date()).days == 10
    assert (nxt.hour, nxt.minute, nxt.second) == (2, 59, 59)  # the last second of a 00:00-03:00 UTC window
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"][0]
    assert listed["NextRotationDate"] == nxt
    assert listed["RotationEnabled"] is True
