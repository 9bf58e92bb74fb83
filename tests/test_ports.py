"""The ports' public names: adding or moving one is a decision, so this list changes with it.

(That each adapter satisfies its port is checked by mypy --strict where server/runtime.py assembles them.)
"""

import tumbler.ports as ports


def test_exported_members() -> None:
    exported = {name for name in dir(ports) if not name.startswith("_") and name[0].isupper()}
    assert exported == set(ports.__all__)
    assert {"Store", "Keyring", "Clock", "FunctionRunner", "RotationTarget", "AuditLog"} <= exported
