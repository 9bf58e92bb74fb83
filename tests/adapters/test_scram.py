"""SCRAM keys and the store of the keys of passwords set lately, without a server."""

from __future__ import annotations

import base64

from tumbler.adapters.targets.scram import FreshKeys, ScramKeys
from tumbler.ports.target import Credentials

SALT = bytes(range(16))


def creds(password: str, user: str = "app", host: str = "db") -> Credentials:
    return Credentials(host, 5432, user, password)


def test_keys_are_rfc_7677s() -> None:
    """RFC 7677's example: password "pencil", its salt and 4096 iterations give its StoredKey and ServerKey."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = ScramKeys.derive("pencil", salt, 4096).verifier()
    assert verifier == (
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
    )


def test_keys_never_show_in_a_repr() -> None:
    keys = ScramKeys.derive("pencil", SALT, 16)
    assert base64.b64encode(keys.client_key).decode() not in repr(keys)
    assert repr(keys.client_key) not in repr(keys)
    assert repr(keys.server_key) not in repr(keys)


def test_keys_serve_one_login_with_the_password_they_were_made_from() -> None:
    fresh, keys = FreshKeys(), ScramKeys.derive("new-pw", SALT, 16)
    fresh.put("db", 5432, "app", "new-pw", keys)
    assert fresh.take(creds("old-pw")) is None  # another password: left for the login it is kept for
    assert fresh.take(creds("new-pw", user="other")) is None
    assert fresh.take(creds("new-pw", host="elsewhere")) is None
    assert fresh.take(creds("new-pw")) == keys
    assert fresh.take(creds("new-pw")) is None  # at most once


def test_a_later_password_replaces_the_earlier() -> None:
    fresh = FreshKeys()
    fresh.put("db", 5432, "app", "first", ScramKeys.derive("first", SALT, 16))
    second = ScramKeys.derive("second", SALT, 16)
    fresh.put("db", 5432, "app", "second", second)
    assert fresh.take(creds("first")) is None
    assert fresh.take(creds("second")) == second


def test_fresh_keys_are_bounded() -> None:
    fresh, keys = FreshKeys(), ScramKeys.derive("pw", SALT, 16)
    fresh.LIMIT = 3
    for n in range(5):
        fresh.put("db", 5432, f"user{n}", "pw", keys)
    assert [fresh.take(creds("pw", user=f"user{n}")) is not None for n in range(5)] == [False, False, True, True, True]
