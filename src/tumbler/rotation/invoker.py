"""Running one step: AWS's rotation event to the function, its outcome with every secret value masked."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import orjson

from tumbler.core.redact import redact
from tumbler.core.rotation import Rotation
from tumbler.ports.keyring import Keyring
from tumbler.ports.runner import FunctionHost
from tumbler.ports.store import Store
from tumbler.rotation.permission import invoke_refusal

MAX_ERROR_CHARS = 1000
# Fields of the usual JSON secret that only say where (masked only as part of the whole value).
PUBLIC_FIELDS = frozenset({"engine", "host", "port", "username", "dbname", "ssl", "masterarn", "alternate_username"})


@dataclass(frozen=True)
class StepOutcome:
    ok: bool
    error: str | None = None  # masked, at most MAX_ERROR_CHARS


class Invoker:
    def __init__(self, functions: FunctionHost, store: Store, keyring: Keyring) -> None:
        self.functions, self.store, self.keyring = functions, store, keyring

    def run_step(self, rotation: Rotation) -> StepOutcome:
        """Invoke the rotation's function for its step, as Secrets Manager does, and wait for it."""
        if (refused := invoke_refusal(self.functions, self.store, rotation)) is not None:
            return StepOutcome(False, f"{rotation.step}: {refused}")
        event = {
            "Step": rotation.step,
            "SecretId": rotation.secret_arn,
            "ClientRequestToken": rotation.token,
            "RotationToken": rotation.rotation_id,
        }
        # The values to mask are read when the step has ended, not before: createSecret's new one is among them.
        values = functools.partial(self._values, rotation)
        try:
            result = self.functions.invoke(rotation.region, rotation.lambda_arn, orjson.dumps(event), redact=values)
        except Exception as err:  # the function could not be found or started
            return _failed(f"{rotation.step}: {type(err).__name__}: {getattr(err, 'message', err)}", values())
        if result.function_error:  # the runner masked the values in its log; the payload is masked here
            return _failed(f"{rotation.step}: {_error_text(result.payload)}", values())
        return StepOutcome(True)

    def _values(self, rotation: Rotation) -> list[str]:
        """Every value the secret holds now: each labelled version's (AWSPENDING's too), the rotation's own
        and the one it started from; whole and, for the usual JSON secret, each value in them but the
        ones that only say where (host, user, engine...)."""
        with self.store.reader() as reader:
            secret = reader.find_secret(rotation.region, rotation.secret_arn)
            labelled = secret.stages.values() if secret else ()
            versions = {rotation.token, rotation.current_at_start, *labelled} - {None}
            stored = [reader.value(rotation.secret_arn, version) for version in sorted(versions)]
        out: list[str] = []
        for item in stored:
            if item is None or item.blob is None:
                continue
            value = self.keyring.open_value(item.wrapped_key, item.arn, item.version_id, item.blob)
            if value.string:
                out += [value.string, *_secret_leaves(value.string)]
        return out


def _failed(error: str, values: list[str]) -> StepOutcome:
    return StepOutcome(False, redact(error, values)[:MAX_ERROR_CHARS])


def _secret_leaves(text: str) -> list[str]:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(document, dict):
        return []
    return [v for k, v in document.items() if k not in PUBLIC_FIELDS and isinstance(v, str) and len(v) >= 4]


def _error_text(payload: bytes) -> str:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return "the function failed"
    if isinstance(body, dict):
        return f"{body.get('errorType', 'Error')}: {body.get('errorMessage', '')}"
    return "the function failed"
