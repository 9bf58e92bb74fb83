"""Masking secret values in text meant for people: logs, errors, the rotation journal.

A value can appear as itself or escaped, as JSON (either way round non-ASCII) or ``repr`` would
print it; every form is masked, the longest first, so no form is left half-replaced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

REDACTED = "****"


def forms(secrets: Iterable[str]) -> list[str]:
    """Every printed form of each non-empty secret, longest first."""
    found = {
        form
        for secret in secrets
        if secret
        for form in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1])
    }
    return sorted(found, key=len, reverse=True)


def mask(text: str, masked_forms: list[str]) -> str:
    """``text`` with each of ``forms(...)`` replaced."""
    for form in masked_forms:
        text = text.replace(form, REDACTED)
    return text


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every secret masked."""
    return mask(text, forms(secrets))
