"""The ASGI application for process managers that import it (uvicorn workers, granian).

Each worker process builds its own app from the configuration the parent put in the
environment (``TUMBLER_CONFIG``, a JSON object of ``Config`` fields).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tumbler.server.app import App
from tumbler.server.config import Config
from tumbler.server.runtime import build_app, open_runtime

CONFIG_VAR = "TUMBLER_CONFIG"


def config_to_env(config: Config) -> str:
    fields = {**config.__dict__, "data_dir": str(config.data_dir)}
    return json.dumps(fields)


def create_app() -> App:
    fields = json.loads(os.environ[CONFIG_VAR])
    fields["data_dir"] = Path(fields["data_dir"])
    return build_app(open_runtime(Config(**fields)))
