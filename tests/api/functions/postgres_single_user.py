"""Single-user PostgreSQL rotation in the style of AWS's RDS PostgreSQL template (driver: psycopg)."""

import json
import os

import boto3
import psycopg
from psycopg import sql


def lambda_handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    client = boto3.client("secretsmanager", endpoint_url=os.environ["SECRETS_MANAGER_ENDPOINT"])
    stages = client.describe_secret(SecretId=arn)["VersionIdsToStages"].get(token, [])
    if "AWSCURRENT" in stages:
        return
    if "AWSPENDING" not in stages:
        raise ValueError(f"Secret version {token} not set as AWSPENDING for rotation of secret {arn}.")
    {"createSecret": create, "setSecret": set_, "testSecret": test, "finishSecret": finish}[step](client, arn, token)


def _get(client, arn, stage, token=None):
    kw = {"VersionId": token} if token else {}
    return json.loads(client.get_secret_value(SecretId=arn, VersionStage=stage, **kw)["SecretString"])


def _connect(secret):
    return psycopg.connect(
        host=secret["host"], port=int(secret.get("port", 5432)), user=secret["username"],
        password=secret["password"], dbname=secret.get("dbname", "postgres"), connect_timeout=5,
    )


def create(client, arn, token):
    current = _get(client, arn, "AWSCURRENT")
    try:
        _get(client, arn, "AWSPENDING", token)
    except client.exceptions.ResourceNotFoundException:
        current["password"] = client.get_random_password(ExcludeCharacters=":/@\"'\\")["RandomPassword"]
        client.put_secret_value(
            SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(current), VersionStages=["AWSPENDING"]
        )


def set_(client, arn, token):
    pending, current = _get(client, arn, "AWSPENDING", token), _get(client, arn, "AWSCURRENT")
    if pending["username"] != current["username"] or pending["host"] != current["host"]:
        raise ValueError("Attempting to modify a user or host other than the current one")
    try:  # already set (a retried step)?
        _connect(pending).close()
        return
    except psycopg.OperationalError:
        pass
    with _connect(current) as conn:
        conn.execute(
            sql.SQL("ALTER USER {} WITH PASSWORD {}").format(
                sql.Identifier(pending["username"]), sql.Literal(pending["password"])
            )
        )


def test(client, arn, token):
    with _connect(_get(client, arn, "AWSPENDING", token)) as conn:
        conn.execute("SELECT now()")


def finish(client, arn, token):
    meta = client.describe_secret(SecretId=arn)
    current = next(v for v, s in meta["VersionIdsToStages"].items() if "AWSCURRENT" in s)
    if current != token:
        client.update_secret_version_stage(
            SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
        )
