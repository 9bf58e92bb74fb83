"""A rotation function in the style of AWS's SecretsManagerRotationTemplate, with knobs for tests.

Environment knobs: FAIL_STEP (a step that raises), FAIL_TIMES (raise only that many times,
counted in COUNTER_FILE), SLEEP_STEP + SLEEP_SECONDS (a slow step), PRINT_VALUES (print the
secret values, to prove the logs mask them), LEAK_PENDING (print the new value after each step and
raise an error holding it once, in createSecret, counted in COUNTER_FILE), EVENTS_FILE (append
each event, for assertions).
"""

import json
import os
import time

import boto3


def lambda_handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    client = boto3.client("secretsmanager", endpoint_url=os.environ["SECRETS_MANAGER_ENDPOINT"])
    _record(event)
    meta = client.describe_secret(SecretId=arn)
    if not meta.get("RotationEnabled"):
        raise ValueError(f"Secret {arn} is not enabled for rotation")
    stages = meta["VersionIdsToStages"].get(token)
    if stages is None:
        raise ValueError(f"Secret version {token} has no stage for rotation of secret {arn}.")
    if "AWSCURRENT" in stages:
        return None
    if "AWSPENDING" not in stages:
        raise ValueError(f"Secret version {token} not set as AWSPENDING for rotation of secret {arn}.")
    _knobs(step, client, arn, token)
    steps = {"createSecret": create, "setSecret": lambda *a: None, "testSecret": test, "finishSecret": finish}
    if step not in steps:
        raise ValueError(f"Invalid step parameter {step}")
    steps[step](client, arn, token)
    if os.environ.get("LEAK_PENDING"):
        _leak_pending(step, client, arn, token)
    return None


def create(client, arn, token):
    current = json.loads(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    except client.exceptions.ResourceNotFoundException:
        current["password"] = client.get_random_password(ExcludeCharacters="/@\"'\\")["RandomPassword"]
        current["generation"] = current.get("generation", 0) + 1
        client.put_secret_value(
            SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current), VersionStages=["AWSPENDING"]
        )


def test(client, arn, token):
    pending = json.loads(client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"])
    if "password" not in pending:
        raise ValueError("pending secret has no password")


def finish(client, arn, token):
    meta = client.describe_secret(SecretId=arn)
    current = next(v for v, s in meta["VersionIdsToStages"].items() if "AWSCURRENT" in s)
    if current != token:
        client.update_secret_version_stage(
            SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
        )


def _knobs(step, client, arn, token):
    if os.environ.get("PRINT_VALUES"):
        print("current value:", client.get_secret_value(SecretId=arn)["SecretString"])
    if os.environ.get("SLEEP_STEP") == step:
        time.sleep(float(os.environ.get("SLEEP_SECONDS", "3")))
    if os.environ.get("FAIL_STEP") == step:
        counter = os.environ.get("COUNTER_FILE")
        failures = 0
        if counter and os.path.exists(counter):
            failures = int(open(counter).read() or 0)
        if not counter or failures < int(os.environ.get("FAIL_TIMES", "1000000")):
            if counter:
                open(counter, "w").write(str(failures + 1))
            detail = ""
            if os.environ.get("LEAK_PASSWORD"):  # a careless function: its error carries the password
                current = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
                detail = f" (password {current['password']})"
            raise RuntimeError(f"{step} failed on purpose{detail}")


def _leak_pending(step, client, arn, token):
    """A careless function, as AWS's guide warns: it prints the value it made, and once raises with it."""
    value = client.get_secret_value(SecretId=arn, VersionId=token)["SecretString"]
    print(f"{step} new value: {value} password: {json.loads(value)['password']}")
    if step == "finishSecret":
        previous = client.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"]
        print(f"finishSecret replaced: {previous}")
    counter = os.environ["COUNTER_FILE"]
    if step == "createSecret" and not os.path.exists(counter):
        open(counter, "w").close()
        raise RuntimeError(f"createSecret stored {value} but failed")


def _record(event):
    path = os.environ.get("EVENTS_FILE")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(event) + "\n")
