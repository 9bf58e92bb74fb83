import random
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

import pytest

from tumbler.core.errors import InvalidParameter
from tumbler.core.passwords import (
    ALL_EXCLUDED,
    DIGITS,
    LOWERCASE,
    PUNCTUATION,
    ROTATION_EXCLUDE_CHARACTERS,
    TOO_SHORT,
    TYPE_EXCLUDED,
    UPPERCASE,
    PasswordSpec,
    alphabet,
    generate,
)

FULL = UPPERCASE + LOWERCASE + DIGITS + PUNCTUATION
TYPES = (UPPERCASE, LOWERCASE, DIGITS, PUNCTUATION)
NO_TYPES = PasswordSpec(exclude_numbers=True, exclude_punctuation=True, exclude_uppercase=True, exclude_lowercase=True)


def draws(spec: PasswordSpec, count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [generate(spec, rng) for _ in range(count)]


def chi_square(counts: Counter[str], categories: Iterable[str]) -> float:
    cats = list(categories)
    total = sum(counts[c] for c in cats)
    expected = total / len(cats)
    return sum((counts[c] - expected) ** 2 / expected for c in cats)


def critical(df: int, z: float = 4.753) -> float:
    """Upper chi-square quantile (Wilson-Hilferty); z=4.753 is p=1e-6, so a fair draw never trips it."""
    return float(df * (1 - 2 / (9 * df) + z * (2 / (9 * df)) ** 0.5) ** 3)


def test_punctuation_is_exactly_awss_set() -> None:
    assert PUNCTUATION == r"""!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"""
    assert len(PUNCTUATION) == 32
    assert set(PUNCTUATION) == set(string.punctuation)


def test_spec_defaults_are_awss() -> None:
    assert PasswordSpec() == PasswordSpec(
        length=32,
        exclude_characters="",
        exclude_numbers=False,
        exclude_punctuation=False,
        exclude_uppercase=False,
        exclude_lowercase=False,
        include_space=False,
        require_each_included_type=True,
    )


def test_default_password_uses_the_94_characters_and_every_type() -> None:
    for password in draws(PasswordSpec(), 500):
        assert len(password) == 32
        assert set(password) <= set(FULL)
        assert all(set(password) & set(kind) for kind in TYPES)


def test_default_generator_is_system_random() -> None:
    first, second = generate(PasswordSpec()), generate(PasswordSpec())
    assert len(first) == len(second) == 32
    assert first != second


@pytest.mark.parametrize(
    ("spec", "gone"),
    [
        (PasswordSpec(length=64, exclude_numbers=True), DIGITS),
        (PasswordSpec(length=64, exclude_punctuation=True), PUNCTUATION),
        (PasswordSpec(length=64, exclude_uppercase=True), UPPERCASE),
        (PasswordSpec(length=64, exclude_lowercase=True), LOWERCASE),
    ],
)
def test_each_exclude_switch_removes_its_type_and_keeps_the_others(spec: PasswordSpec, gone: str) -> None:
    kept = [kind for kind in TYPES if kind != gone]
    for password in draws(spec, 200):
        assert not set(password) & set(gone)
        assert all(set(password) & set(kind) for kind in kept)


def test_only_digits_when_everything_else_is_switched_off() -> None:
    spec = PasswordSpec(length=12, exclude_punctuation=True, exclude_uppercase=True, exclude_lowercase=True)
    assert alphabet(spec).pool == DIGITS
    for password in draws(spec, 50):
        assert password.isdigit()
        assert len(password) == 12


def test_space_only_with_include_space() -> None:
    assert not any(" " in p for p in draws(PasswordSpec(length=200), 50))
    assert all(" " in p for p in draws(PasswordSpec(length=2000, include_space=True), 20))


def test_space_is_admitted_but_never_required() -> None:
    spec = PasswordSpec(length=4, include_space=True)
    assert len(alphabet(spec).required) == 4
    # four positions, four required types: a space can never fit
    assert not any(" " in p for p in draws(spec, 300))


def test_space_can_be_taken_back_by_exclude_characters() -> None:
    spec = PasswordSpec(length=500, include_space=True, exclude_characters=" ")
    assert " " not in alphabet(spec).pool
    assert not any(" " in p for p in draws(spec, 20))


def test_rotation_template_exclusions_never_appear() -> None:
    assert ROTATION_EXCLUDE_CHARACTERS == "/@\"'\\"
    spec = PasswordSpec(exclude_characters=ROTATION_EXCLUDE_CHARACTERS)
    for password in draws(spec, 1000):
        assert not set(password) & set(ROTATION_EXCLUDE_CHARACTERS)
        assert set(password) & (set(PUNCTUATION) - set(ROTATION_EXCLUDE_CHARACTERS))


def test_heavy_exclusion_leaves_only_what_is_left() -> None:
    keep = "aZ7~"
    spec = PasswordSpec(length=16, exclude_characters="".join(c for c in FULL if c not in keep))
    assert sorted(alphabet(spec).pool) == sorted(keep)
    for password in draws(spec, 300):
        assert set(password) == set(keep)  # all four are required, and each is its type's only member


def test_without_the_requirement_a_type_may_be_missing_and_length_one_works() -> None:
    spec = PasswordSpec(length=1, require_each_included_type=False)
    seen = Counter(p for p in draws(spec, 3000))
    assert set(seen) <= set(FULL)
    assert len(seen) > 80  # short passwords of a single type are allowed
    spec = PasswordSpec(length=8, require_each_included_type=False)
    assert any(not set(p) & set(PUNCTUATION) for p in draws(spec, 300))


def test_required_types_present_even_at_the_minimum_length() -> None:
    for password in draws(PasswordSpec(length=4), 2000):
        assert sorted(_kind(c) for c in password) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "spec",
    [
        NO_TYPES,
        PasswordSpec(exclude_characters=FULL),
        PasswordSpec(exclude_characters=FULL, require_each_included_type=False),
        PasswordSpec(exclude_characters=FULL + " ", include_space=True),
        replace(NO_TYPES, exclude_numbers=False, exclude_characters=DIGITS),
    ],
)
def test_nothing_left_is_refused(spec: PasswordSpec) -> None:
    with pytest.raises(InvalidParameter) as err:
        generate(spec)
    assert err.value.message == "All characters have been excluded from selection."
    assert err.value.message == ALL_EXCLUDED


def test_only_a_space_left_gives_spaces() -> None:
    assert generate(replace(NO_TYPES, length=3, include_space=True)) == "   "


@pytest.mark.parametrize("emptied", [UPPERCASE, LOWERCASE, DIGITS, PUNCTUATION])
def test_a_required_type_emptied_by_exclude_characters_is_refused(emptied: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        generate(PasswordSpec(exclude_characters=emptied))
    assert err.value.message == "All characters of the desired type have been excluded."
    assert err.value.message == TYPE_EXCLUDED


def test_an_emptied_type_is_fine_when_not_required_or_switched_off() -> None:
    relaxed = PasswordSpec(exclude_characters=PUNCTUATION, require_each_included_type=False)
    switched = PasswordSpec(exclude_characters=PUNCTUATION, exclude_punctuation=True)
    for spec in (relaxed, switched):
        assert not set(generate(spec)) & set(PUNCTUATION)


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        (PasswordSpec(length=3), False),
        (PasswordSpec(length=4), True),
        (PasswordSpec(length=2, exclude_numbers=True), False),
        (PasswordSpec(length=3, exclude_numbers=True), True),
        (replace(NO_TYPES, length=1, exclude_lowercase=False), True),
        (PasswordSpec(length=3, require_each_included_type=False), True),
    ],
)
def test_length_below_the_required_types_is_refused(spec: PasswordSpec, ok: bool) -> None:
    if ok:
        assert len(generate(spec)) == spec.length
        return
    with pytest.raises(InvalidParameter) as err:
        generate(spec)
    assert err.value.message == "Password length is too short based on the required types."
    assert err.value.message == TOO_SHORT


@pytest.mark.parametrize("length", [0, -1, 4097])
def test_length_out_of_range_is_refused(length: int) -> None:
    with pytest.raises(InvalidParameter) as err:
        generate(PasswordSpec(length=length))
    assert err.value.message == "The password length must be between 1 and 4096."


def test_longest_password() -> None:
    assert len(generate(PasswordSpec(length=4096))) == 4096


def test_characters_are_uniform_over_the_alphabet() -> None:
    spec = PasswordSpec(require_each_included_type=False)
    counts = Counter("".join(draws(spec, 6000)))
    assert chi_square(counts, FULL) < critical(len(FULL) - 1)


def test_required_types_keep_characters_near_uniform() -> None:
    # rejection only conditions on each type being present: at 32 characters that shifts no
    # character far, unlike forcing one of each (see the test below)
    counts = Counter("".join(draws(PasswordSpec(), 6000)))
    assert chi_square(counts, FULL) < critical(len(FULL) - 1)


def test_chi_square_bound_catches_modulo_bias() -> None:
    # what byte % 94 would give: the first 68 characters a third more often than the rest
    rng = random.Random(7)
    counts = Counter(FULL[rng.randrange(256) % len(FULL)] for _ in range(200_000))
    assert chi_square(counts, FULL) > critical(len(FULL) - 1)


def test_chi_square_bound_catches_place_one_of_each_then_fill() -> None:
    # the uniformity test's sample, had 4 of each 32 characters been one forced per type
    spec = PasswordSpec(length=28, require_each_included_type=False)
    rng = random.Random(7)
    biased: Counter[str] = Counter()
    for password in draws(spec, 6000):
        biased.update(password + "".join(rng.choice(kind) for kind in TYPES))
    assert chi_square(biased, FULL) > critical(len(FULL) - 1)


def test_required_types_do_not_favour_positions() -> None:
    # at length 4 each position holds each type exactly 1/4 of the time
    passwords = draws(PasswordSpec(length=4), 8000)
    for position in range(4):
        counts = Counter(str(_kind(p[position])) for p in passwords)
        assert chi_square(counts, "0123") < critical(3)


def test_within_a_required_type_characters_stay_uniform() -> None:
    passwords = draws(PasswordSpec(length=4), 8000)
    digits = Counter(c for p in passwords for c in p if c in DIGITS)
    assert sum(digits.values()) == 8000
    assert chi_square(digits, DIGITS) < critical(9)


def _kind(char: str) -> int:
    return next(i for i, kind in enumerate(TYPES) if char in kind)
