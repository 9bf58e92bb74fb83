"""SCRAM keys, the check of their derivation and the store of the keys of passwords set lately, without a server."""

from __future__ import annotations

import base64

import pytest

from tumbler.adapters.targets.scram import DerivationCheck, FreshKeys, ScramKeys, same_as
from tumbler.ports.target import Credentials

SALT = bytes(range(16))
LOGIN = ("db", 5432, "app")


def creds(password: str, user: str = "app", host: str = "db") -> Credentials:
    return Credentials(host, 5432, user, password)


def keys_of(password: str) -> ScramKeys:
    return ScramKeys.derive(password, SALT, 16)


def test_keys_are_rfc_7677s() -> None:
    """RFC 7677's example: password "pencil", its salt and 4096 iterations give its StoredKey and ServerKey."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = ScramKeys.derive("pencil", salt, 4096).verifier()
    assert verifier == (
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
    )
    assert same_as(verifier, "pencil")
    assert not same_as(verifier, "pencil2")
    assert not same_as("md5" + "0" * 32, "pencil")


def test_keys_never_show_in_a_repr() -> None:
    keys = keys_of("pencil")
    assert base64.b64encode(keys.client_key).decode() not in repr(keys)
    assert repr(keys.client_key) not in repr(keys)
    assert repr(keys.server_key) not in repr(keys)


def test_passwords_that_need_saslprep_are_not_derived_here() -> None:
    for password in ("Pässwörd", "nul\x00byte"):
        with pytest.raises(ValueError, match="ASCII"):
            ScramKeys.derive(password, SALT, 16)


def test_the_derivation_is_checked_once_against_libpqs() -> None:
    asked: list[str] = []

    def libpq(password: str) -> str:
        asked.append(password)
        return keys_of(password).verifier()

    check = DerivationCheck()
    assert check.agrees(libpq)
    assert check.agrees(libpq)
    assert len(asked) == 1
    assert not DerivationCheck().agrees(lambda password: keys_of(password + "x").verifier())


def test_keys_serve_one_login_with_the_password_they_were_made_from() -> None:
    fresh, keys = FreshKeys(), keys_of("new-pw")
    fresh.put(LOGIN, "new-pw", keys)
    assert fresh.take(creds("old-pw")) is None  # another password: left for the login it is kept for
    assert fresh.take(creds("new-pw", user="other")) is None
    assert fresh.take(creds("new-pw", host="elsewhere")) is None
    assert fresh.take(creds("new-pw")) is keys
    assert fresh.take(creds("new-pw")) is None  # at most once


def test_a_later_password_replaces_the_earlier() -> None:
    fresh, second = FreshKeys(), keys_of("second")
    fresh.put(LOGIN, "first", keys_of("first"))
    fresh.put(LOGIN, "second", second)
    assert fresh.take(creds("first")) is None
    assert fresh.take(creds("second")) is second


def test_fresh_keys_expire() -> None:
    now = [100.0]
    fresh = FreshKeys(clock=lambda: now[0])
    fresh.put(LOGIN, "pw", keys_of("pw"))
    now[0] += FreshKeys.TTL
    assert fresh.take(creds("pw")) is None
    assert LOGIN not in fresh


def test_fresh_keys_are_bounded_and_drop_the_oldest_set() -> None:
    fresh, keys = FreshKeys(), keys_of("pw")
    fresh.LIMIT = 3
    for n in (0, 1, 2, 0, 3, 4):  # user0 set again: it is newer than user1 and user2
        fresh.put(("db", 5432, f"user{n}"), "pw", keys)
    kept = [n for n in range(5) if fresh.take(creds("pw", user=f"user{n}")) is not None]
    assert kept == [0, 3, 4]
