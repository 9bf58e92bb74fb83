import base64
import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tumbler.adapters.crypto import masterkey
from tumbler.adapters.crypto.keyring import (
    DECRYPTION_FAILED,
    DEFAULT_KEY_ID,
    INVALID_KEY,
    Keyring,
    _decode_value,
    key_id_of,
    master_version_of,
)
from tumbler.adapters.crypto.masterkey import MasterKey, MasterKeyError, load_master_key
from tumbler.core.errors import DecryptionFailure, EncryptionFailure, InvalidParameter
from tumbler.core.secrets import SecretValue
from tumbler.ports.keyring import Keyring as KeyringPort

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
OTHER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api-GhIjKl"
KEYS = [("1234abcd-12ab-34cd-56ef-1234567890ab", "team-a"), ("prod", "prod")]


def key_aad(arn: str = ARN) -> bytes:
    return arn.encode()


def value_aad(version: str = "v1", arn: str = ARN) -> bytes:
    return f"{arn}\0{version}".encode()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def master() -> MasterKey:
    return MasterKey.generate()


@pytest.fixture
def ring(master: MasterKey) -> Keyring:
    return Keyring(master, lambda: KEYS)


def sealed(ring: Keyring, value: SecretValue, key_id: str = DEFAULT_KEY_ID) -> tuple[bytes, bytes]:
    wrapped = ring.new_data_key(key_id, key_aad())
    return wrapped, ring.seal(wrapped, key_aad(), value, value_aad())


def test_implements_the_port(ring: Keyring) -> None:
    port: KeyringPort = ring
    assert port.resolve_key(None) == DEFAULT_KEY_ID


# -- values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        SecretValue(string='{"password": "hunter2"}'),
        SecretValue(string="é ü 🔑"),
        SecretValue(string=""),
        SecretValue(binary=b"\x00\xffbinary"),
        SecretValue(binary=b""),
    ],
)
def test_round_trip(ring: Keyring, value: SecretValue) -> None:
    wrapped, blob = sealed(ring, value)
    assert ring.open(wrapped, key_aad(), blob, value_aad()) == value


def test_string_and_binary_stay_distinct(ring: Keyring) -> None:
    wrapped, blob = sealed(ring, SecretValue(binary=b"text"))
    assert ring.open(wrapped, key_aad(), blob, value_aad()).string is None


def test_seal_needs_exactly_one_kind(ring: Keyring) -> None:
    wrapped = ring.new_data_key(DEFAULT_KEY_ID, key_aad())
    for bad in (SecretValue(), SecretValue(string="a", binary=b"b")):
        with pytest.raises(ValueError):
            ring.seal(wrapped, key_aad(), bad, value_aad())


def test_each_seal_uses_a_fresh_nonce(ring: Keyring) -> None:
    wrapped = ring.new_data_key(DEFAULT_KEY_ID, key_aad())
    value = SecretValue(string="same")
    first, second = (ring.seal(wrapped, key_aad(), value, value_aad()) for _ in range(2))
    assert first != second


def test_value_moved_to_another_version_fails(ring: Keyring) -> None:
    wrapped, blob = sealed(ring, SecretValue(string="s3cret"))
    with pytest.raises(DecryptionFailure) as err:
        ring.open(wrapped, key_aad(), blob, value_aad("v2"))
    assert err.value.message == DECRYPTION_FAILED
    assert "s3cret" not in str(err.value)


def test_value_moved_to_another_secret_fails(ring: Keyring) -> None:
    wrapped, blob = sealed(ring, SecretValue(string="s3cret"))
    other = ring.new_data_key(DEFAULT_KEY_ID, key_aad(OTHER_ARN))
    with pytest.raises(DecryptionFailure):  # under the other secret's own key
        ring.open(other, key_aad(OTHER_ARN), blob, value_aad(arn=OTHER_ARN))
    with pytest.raises(DecryptionFailure):  # with this secret's key, but claiming the other ARN
        ring.open(wrapped, key_aad(), blob, value_aad(arn=OTHER_ARN))


def test_wrapped_key_is_bound_to_its_secret(ring: Keyring) -> None:
    wrapped, blob = sealed(ring, SecretValue(string="x"))
    ring.clear_cache()
    with pytest.raises(DecryptionFailure):
        ring.open(wrapped, key_aad(OTHER_ARN), blob, value_aad())


def test_cached_key_is_still_bound_to_its_secret(ring: Keyring) -> None:
    wrapped, blob = sealed(ring, SecretValue(string="x"))
    ring.open(wrapped, key_aad(), blob, value_aad())  # warm
    with pytest.raises(DecryptionFailure):
        ring.open(wrapped, key_aad(OTHER_ARN), blob, value_aad())


@pytest.mark.parametrize("where", [0, 3, 3 + 12, -1])
def test_tampered_value_fails(ring: Keyring, where: int) -> None:
    wrapped, blob = sealed(ring, SecretValue(string="x"))
    bad = bytearray(blob)
    bad[where] ^= 0x01
    with pytest.raises(DecryptionFailure):
        ring.open(wrapped, key_aad(), bytes(bad), value_aad())


@pytest.mark.parametrize("blob", [b"", b"TV1", b"TV1" + bytes(20), b"XX1" + bytes(40)])
def test_truncated_or_foreign_value_fails(ring: Keyring, blob: bytes) -> None:
    wrapped = ring.new_data_key(DEFAULT_KEY_ID, key_aad())
    with pytest.raises(DecryptionFailure):
        ring.open(wrapped, key_aad(), blob, value_aad())


def test_tampered_wrapped_key_fails(ring: Keyring) -> None:
    wrapped, blob = sealed(ring, SecretValue(string="x"))
    for where in range(len(wrapped)):
        bad = bytearray(wrapped)
        bad[where] ^= 0x01
        with pytest.raises(DecryptionFailure):
            ring.open(bytes(bad), key_aad(), blob, value_aad())


def test_wrapped_key_is_bound_to_its_key_id(ring: Keyring) -> None:
    wrapped, blob = sealed(ring, SecretValue(string="x"), key_id="prod")
    assert key_id_of(wrapped) == "prod"
    forged = wrapped.replace(b"\x04prod", b"\x04dorp", 1)  # same length, other key id
    assert key_id_of(forged) == "dorp"
    with pytest.raises(DecryptionFailure):
        ring.open(forged, key_aad(), blob, value_aad())


def test_seal_with_a_broken_key_is_an_encryption_failure(ring: Keyring) -> None:
    with pytest.raises(EncryptionFailure):
        ring.seal(b"TK1garbage", key_aad(), SecretValue(string="x"), value_aad())


def test_another_master_key_cannot_open(ring: Keyring) -> None:
    wrapped, blob = sealed(ring, SecretValue(string="x"))
    stranger = Keyring(MasterKey.generate())
    with pytest.raises(DecryptionFailure):
        stranger.open(wrapped, key_aad(), blob, value_aad())


def test_no_secret_material_in_repr(ring: Keyring, master: MasterKey) -> None:
    for text in (repr(ring), repr(master), repr(SecretValue(string="hunter2"))):
        assert base64.b64encode(master.key(1)).decode() not in text
        assert master.key(1).hex() not in text
        assert "hunter2" not in text


# -- master key versions and rewrap ---------------------------------------------------------


def test_rewrap_after_add_version(master: MasterKey) -> None:
    old = Keyring(master)
    wrapped, blob = sealed(old, SecretValue(string="kept"))
    assert old.rewrap(wrapped, key_aad()) is None  # already current

    rotated = master.add_version()
    assert rotated.versions == (1, 2)
    assert rotated.key(1) == master.key(1)
    ring = Keyring(rotated)
    assert ring.open(wrapped, key_aad(), blob, value_aad()) == SecretValue(string="kept")
    assert master_version_of(ring.new_data_key(DEFAULT_KEY_ID, key_aad())) == 2

    moved = ring.rewrap(wrapped, key_aad())
    assert moved is not None
    assert master_version_of(moved) == 2
    assert ring.rewrap(moved, key_aad()) is None
    ring.clear_cache()
    assert ring.open(moved, key_aad(), blob, value_aad()) == SecretValue(string="kept")
    without_v1 = Keyring(MasterKey({2: rotated.key(2)}))
    assert without_v1.open(moved, key_aad(), blob, value_aad()) == SecretValue(string="kept")
    with pytest.raises(DecryptionFailure):
        without_v1.open(wrapped, key_aad(), blob, value_aad())


def test_rewrap_to_another_key_id(ring: Keyring) -> None:
    wrapped, blob = sealed(ring, SecretValue(string="x"))
    moved = ring.rewrap(wrapped, key_aad(), key_id="prod")
    assert moved is not None
    assert key_id_of(moved) == "prod"
    assert ring.open(moved, key_aad(), blob, value_aad()) == SecretValue(string="x")


def test_rewrap_checks_the_binding(ring: Keyring) -> None:
    wrapped = ring.new_data_key(DEFAULT_KEY_ID, key_aad())
    with pytest.raises(DecryptionFailure):
        ring.rewrap(wrapped, key_aad(OTHER_ARN), key_id="prod")


def test_unknown_master_version_reloads(master: MasterKey) -> None:
    rotated = master.add_version()
    wrapped, blob = sealed(Keyring(rotated), SecretValue(string="x"))
    stale = Keyring(master, reload=lambda: rotated)
    assert stale.open(wrapped, key_aad(), blob, value_aad()) == SecretValue(string="x")
    assert master_version_of(stale.new_data_key(DEFAULT_KEY_ID, key_aad())) == 2


def test_unknown_master_version_without_reload_fails(master: MasterKey) -> None:
    wrapped, blob = sealed(Keyring(master.add_version()), SecretValue(string="x"))
    with pytest.raises(DecryptionFailure):
        Keyring(master).open(wrapped, key_aad(), blob, value_aad())


def test_master_key_json_round_trip(master: MasterKey) -> None:
    rotated = master.add_version()
    again = MasterKey.from_json(rotated.to_json())
    assert again.versions == (1, 2)
    assert all(again.key(v) == rotated.key(v) for v in (1, 2))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{}",
        '{"format": 2, "keys": {"1": ""}}',
        '{"format": 1, "keys": {}}',
        '{"format": 1, "keys": {"1": "c2hvcnQ="}}',
        '{"format": 1, "keys": {"x": "' + "A" * 43 + '="}}',
        '{"format": 1, "keys": {"0": "' + "A" * 43 + '="}}',
    ],
)
def test_malformed_master_key_document(text: str) -> None:
    with pytest.raises(MasterKeyError):
        MasterKey.from_json(text)


# -- the key file -----------------------------------------------------------------------------


def test_key_file_created_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = load_master_key(data_dir, {})
    path = data_dir / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.source == "file"
    assert key.versions == (1,)
    assert load_master_key(data_dir, {}).key(1) == key.key(1)
    assert [p.name for p in data_dir.iterdir()] == ["master.key"]  # no temporary file left


def test_key_file_created_with_o_excl_and_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[int, int]] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, mode: int = 0o777, **kw: object) -> int:
        if os.fspath(path).endswith(".tmp"):
            opened.append((flags, mode))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", spy)
    old = os.umask(0)  # even with no umask at all ...
    try:
        load_master_key(tmp_path, {})
    finally:
        os.umask(old)
    flags, mode = opened[0]
    assert flags & os.O_CREAT
    assert flags & os.O_EXCL
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600  # ... it is 0600


def test_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    first = load_master_key(tmp_path, {})
    masterkey._create_key_file(tmp_path)  # a racing second creator loses quietly
    assert load_master_key(tmp_path, {}).key(1) == first.key(1)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    load_master_key(tmp_path, {})
    (tmp_path / "master.key").chmod(mode)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        load_master_key(tmp_path, {})


def test_concurrent_first_start_agrees_on_one_key(tmp_path: Path) -> None:
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_master_key(tmp_path, {}).key(1))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1


def test_save_rotated_key(tmp_path: Path) -> None:
    rotated = load_master_key(tmp_path, {}).add_version()
    rotated.save(tmp_path)
    assert load_master_key(tmp_path, {}).versions == (1, 2)
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600


def test_save_refuses_to_drop_a_version_on_disk(tmp_path: Path) -> None:
    base = load_master_key(tmp_path, {})
    base.add_version().save(tmp_path)
    with pytest.raises(MasterKeyError):
        base.add_version().save(tmp_path)  # a concurrent rotation with a different version 2


# -- the environment variable --------------------------------------------------------------


def test_env_single_base64_key(tmp_path: Path) -> None:
    raw = os.urandom(32)
    for text in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        key = load_master_key(tmp_path, {"TUMBLER_MASTER_KEY": text})
        assert key.versions == (1,)
        assert key.key(1) == raw
        assert key.source == "env"
    assert not (tmp_path / "master.key").exists()


def test_env_json_document(tmp_path: Path) -> None:
    doc = MasterKey.generate().add_version()
    key = load_master_key(tmp_path, {"TUMBLER_MASTER_KEY": doc.to_json()})
    assert key.versions == (1, 2)
    assert key.key(2) == doc.key(2)


@pytest.mark.parametrize("text", ["", "   ", "not base64!", base64.b64encode(b"short").decode(), "{nope"])
def test_env_malformed(tmp_path: Path, text: str) -> None:
    with pytest.raises(MasterKeyError) as err:
        load_master_key(tmp_path, {"TUMBLER_MASTER_KEY": text})
    assert "TUMBLER_MASTER_KEY" in str(err.value) or "master key" in str(err.value)


def test_env_wins_over_file(tmp_path: Path) -> None:
    load_master_key(tmp_path, {})
    raw = os.urandom(32)
    assert load_master_key(tmp_path, {"TUMBLER_MASTER_KEY": base64.b64encode(raw).decode()}).key(1) == raw


def test_env_key_cannot_be_rotated_into_a_file(tmp_path: Path) -> None:
    key = load_master_key(tmp_path, {"TUMBLER_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()})
    with pytest.raises(MasterKeyError, match="TUMBLER_MASTER_KEY"):
        key.add_version()
    rotated = key.add_version(allow_env=True)  # for `tumbler keys rotate --print`
    assert json.loads(rotated.to_json())["keys"].keys() == {"1", "2"}
    with pytest.raises(MasterKeyError):
        rotated.save(tmp_path)


# -- the data key cache --------------------------------------------------------------------


def test_cache_expires(master: MasterKey) -> None:
    clock = Clock()
    ring = Keyring(master, cache_ttl=300, now=clock)
    wrapped, blob = sealed(ring, SecretValue(string="x"))  # new_data_key caches, seal hits
    assert ring.cache_stats.hits == 1
    assert ring.cache_stats.misses == 0
    clock.t += 299
    ring.open(wrapped, key_aad(), blob, value_aad())
    assert ring.cache_stats.misses == 0
    clock.t += 2
    ring.open(wrapped, key_aad(), blob, value_aad())
    assert ring.cache_stats.misses == 1  # unwrapped again ...
    ring.open(wrapped, key_aad(), blob, value_aad())
    assert ring.cache_stats.misses == 1  # ... and cached again


def test_expired_entries_are_swept(master: MasterKey) -> None:
    clock = Clock()
    ring = Keyring(master, cache_ttl=10, now=clock)
    for arn in ("a", "b", "c"):
        ring.new_data_key(DEFAULT_KEY_ID, arn.encode())
    clock.t += 11
    ring.new_data_key(DEFAULT_KEY_ID, b"d")
    assert ring.cache_stats.size == 1


def test_cache_is_bounded_lru(master: MasterKey) -> None:
    ring = Keyring(master, cache_size=2)
    a, b, c = (ring.new_data_key(DEFAULT_KEY_ID, key_aad(arn)) for arn in ("a", "b", "c"))
    assert ring.cache_stats.size == 2
    blob_b = ring.seal(b, key_aad("b"), SecretValue(string="b"), value_aad(arn="b"))  # hit: b is fresh
    misses = ring.cache_stats.misses
    ring.seal(a, key_aad("a"), SecretValue(string="a"), value_aad(arn="a"))  # a was evicted
    assert ring.cache_stats.misses == misses + 1
    ring.open(b, key_aad("b"), blob_b, value_aad(arn="b"))  # still cached: c was evicted for a
    ring.seal(c, key_aad("c"), SecretValue(string="c"), value_aad(arn="c"))
    assert ring.cache_stats.misses == misses + 2
    assert ring.cache_stats.size == 2


def test_cache_can_be_disabled(master: MasterKey) -> None:
    ring = Keyring(master, cache_size=0)
    wrapped, blob = sealed(ring, SecretValue(string="x"))
    ring.open(wrapped, key_aad(), blob, value_aad())
    assert ring.cache_stats.size == 0
    assert ring.cache_stats.hits == 0


def test_concurrent_open(ring: Keyring) -> None:
    pairs = [sealed(ring, SecretValue(string=str(i))) for i in range(20)]
    ring.clear_cache()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                for i, (wrapped, blob) in enumerate(pairs):
                    assert ring.open(wrapped, key_aad(), blob, value_aad()).string == str(i)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_a_hit_during_a_sweep(master: MasterKey) -> None:
    # A hit reorders the cache without the lock, so it may land while a put sweeps expired keys under the
    # lock. Here it lands there for certain: the clock's time runs a hit whenever it is compared with an
    # expiry. A sweep walking the dict itself, rather than a snapshot, raises "mutated during iteration".
    hooks: list[Callable[[], object]] = []

    class Now(float):
        def __ge__(self, other: float) -> bool:  # also `expires <= now`: a float subclass's reflection goes first
            for hook in hooks:
                hook()
            return float(self) >= other

    clock = [Now(1000.0)]
    ring = Keyring(master, cache_ttl=10, now=lambda: clock[0])
    for arn in ("b1", "b2", "b3"):
        ring.new_data_key(DEFAULT_KEY_ID, key_aad(arn))  # expire at 1010, when the next sweep is due
    clock[0] = Now(1009.0)
    fresh = []
    for arn in ("f1", "f2"):  # expire at 1019
        wrapped = ring.new_data_key(DEFAULT_KEY_ID, key_aad(arn))
        fresh.append((wrapped, ring.seal(wrapped, key_aad(arn), SecretValue(string=arn), value_aad(arn=arn)), arn))
    clock[0] = Now(1011.0)
    turn = iter(range(1000))

    def hit() -> None:  # the two fresh keys in turn: each hit moves one before the other
        wrapped, blob, arn = fresh[next(turn) % 2]
        assert ring.open(wrapped, key_aad(arn), blob, value_aad(arn=arn)).string == arn

    hooks.append(hit)
    ring.new_data_key(DEFAULT_KEY_ID, key_aad("c"))  # a put that sweeps b1, b2 and b3
    hooks.clear()
    assert ring.cache_stats.size == 3  # the fresh keys and c
    assert next(turn) > 3  # hits ran while the sweep went through the keys


# -- named keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        "alias/aws/secretsmanager",
        "aws/secretsmanager",
        "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager",
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/aws/secretsmanager",
    ],
)
def test_default_key_forms(ring: Keyring, given: str | None) -> None:
    assert ring.resolve_key(given) == DEFAULT_KEY_ID


@pytest.mark.parametrize(
    ("given", "key_id"),
    [
        ("alias/team-a", KEYS[0][0]),
        ("arn:aws:kms:eu-west-1:123456789012:alias/team-a", KEYS[0][0]),
        (KEYS[0][0], KEYS[0][0]),
        (f"arn:aws:kms:us-east-1:123456789012:key/{KEYS[0][0]}", KEYS[0][0]),
        ("alias/prod", "prod"),
        ("prod", "prod"),
    ],
)
def test_named_key_forms(ring: Keyring, given: str, key_id: str) -> None:
    assert ring.resolve_key(given) == key_id
    assert ring.resolve_key(ring.resolve_key(given)) == key_id


def test_stored_alias_may_carry_its_prefix(master: MasterKey) -> None:
    ring = Keyring(master, lambda: [("k-1", "alias/billing")])
    assert ring.resolve_key("alias/billing") == "k-1"


@pytest.mark.parametrize(
    "given",
    [
        "alias/missing",
        "missing",
        "team-a",
        "alias/aws/ssm",
        "alias/",
        "key/prod",
        "arn:aws:kms:us-east-1:123456789012:alias/missing",
        "arn:aws:kms:us-east-1:123456789012:key/missing",
        "arn:aws:s3:::bucket",
        "arn:aws:kms:us-east-1:123456789012:key/alias/team-a",
        "arn:aws:kms:broken",
    ],
)
def test_unknown_key(ring: Keyring, given: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        ring.resolve_key(given)
    assert err.value.message == INVALID_KEY


def test_key_directory_is_read_live(master: MasterKey) -> None:
    names: list[tuple[str, str]] = []
    ring = Keyring(master, lambda: names)
    with pytest.raises(InvalidParameter):
        ring.resolve_key("alias/new")
    names.append(("new", "new"))
    assert ring.resolve_key("alias/new") == "new"


@pytest.mark.parametrize("key_id", ["", "a\0b", "x" * 256])
def test_unusable_key_id(ring: Keyring, key_id: str) -> None:
    with pytest.raises(EncryptionFailure):
        ring.new_data_key(key_id, key_aad())


@pytest.mark.parametrize(
    ("plain", "value"),
    [(b"Stext", SecretValue("text")), (b"S", SecretValue("")), (b"B\x00\xff", SecretValue(binary=b"\x00\xff"))],
)
def test_decoded_plaintexts(plain: bytes, value: SecretValue) -> None:
    assert _decode_value(plain) == value


@pytest.mark.parametrize("plain", [b"", b"X", b"Xtext", b"S\xff\xfe", b"s" + b"text"])
def test_a_plaintext_of_no_known_kind_is_a_decryption_failure(plain: bytes) -> None:
    with pytest.raises(DecryptionFailure):
        _decode_value(plain)
