"""The service models: botocore's bundled ``service-2.json`` files are the spec.

botocore is pinned in pyproject.toml, so the model cannot change under us. Our own
additions, if any, live in ``wire/patches/<service>.json`` and are merged over the shapes.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel

PATCHES = Path(__file__).parent / "patches"


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


@cache
def load(service: str) -> ServiceModel:
    """The model of ``service`` ('secretsmanager' or 'lambda'), with our patches applied."""
    raw = Loader().load_service_model(service, "service-2")
    patch_file = PATCHES / f"{service}.json"
    if patch_file.exists():
        _merge(raw, json.loads(patch_file.read_text()))
    return ServiceModel(raw, service_name=service)
