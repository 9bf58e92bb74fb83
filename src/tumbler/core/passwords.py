"""GetRandomPassword: the one password generator, for the API and for the built-in rotators.

The rules, as AWS documents and enforces them:

* The alphabet is uppercase and lowercase ASCII letters, digits and the 32 punctuation
  characters in ``PUNCTUATION``, plus the space only when ``include_space`` is set. Each
  ``exclude_*`` switch drops a whole type; ``exclude_characters`` drops single characters
  (the space included).
* ``require_each_included_type`` (default on) requires one character of each letter case,
  digit and punctuation type that is not switched off. The space is never required.
* Refusals, all ``InvalidParameter``: nothing left to choose from (``ALL_EXCLUDED``), a
  required type emptied by ``exclude_characters`` (``TYPE_EXCLUDED``), and a length below the
  number of required types (``TOO_SHORT``).

Every character is drawn uniformly from the alphabet. When each type is required, a draw
missing one is thrown away and drawn again, so every valid password is equally likely and no
position is special (placing one character of each type first would make those types more
frequent than the alphabet says).
"""

from __future__ import annotations

import random
import secrets
import string
from dataclasses import dataclass

from tumbler.core.errors import InvalidParameter

UPPERCASE = string.ascii_uppercase
LOWERCASE = string.ascii_lowercase
DIGITS = string.digits
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
SPACE = " "

MIN_LENGTH = 1
MAX_LENGTH = 4096
DEFAULT_LENGTH = 32

# What the AWS rotation function templates exclude when EXCLUDE_CHARACTERS is unset.
ROTATION_EXCLUDE_CHARACTERS = "/@\"'\\"

ALL_EXCLUDED = "All characters have been excluded from selection."
TYPE_EXCLUDED = "All characters of the desired type have been excluded."
TOO_SHORT = "Password length is too short based on the required types."

_SYSTEM_RANDOM = secrets.SystemRandom()


@dataclass(frozen=True)
class PasswordSpec:
    """The GetRandomPassword parameters, with AWS's defaults."""

    length: int = DEFAULT_LENGTH
    exclude_characters: str = ""
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    include_space: bool = False
    require_each_included_type: bool = True


@dataclass(frozen=True)
class Alphabet:
    """What a spec lets a password contain: the pool to draw from and the types it must hit."""

    pool: str
    required: tuple[frozenset[str], ...]


def alphabet(spec: PasswordSpec) -> Alphabet:
    """The characters ``spec`` allows, or the InvalidParameter AWS answers with."""
    if not MIN_LENGTH <= spec.length <= MAX_LENGTH:
        raise InvalidParameter(f"The password length must be between {MIN_LENGTH} and {MAX_LENGTH}.")
    excluded = set(spec.exclude_characters)
    switched = (
        (UPPERCASE, spec.exclude_uppercase),
        (LOWERCASE, spec.exclude_lowercase),
        (DIGITS, spec.exclude_numbers),
        (PUNCTUATION, spec.exclude_punctuation),
    )
    types = [_without(chars, excluded) for chars, off in switched if not off]
    space = _without(SPACE, excluded) if spec.include_space else ""
    pool = "".join(types) + space
    if not pool:
        raise InvalidParameter(ALL_EXCLUDED)
    if not spec.require_each_included_type:
        return Alphabet(pool, ())
    if not all(types):
        raise InvalidParameter(TYPE_EXCLUDED)
    if len(types) > spec.length:
        raise InvalidParameter(TOO_SHORT)
    return Alphabet(pool, tuple(frozenset(chars) for chars in types))


def generate(spec: PasswordSpec, rng: random.Random = _SYSTEM_RANDOM) -> str:
    """A password for ``spec``; cryptographically secure unless a seeded ``rng`` is passed (tests)."""
    chars = alphabet(spec)
    while True:  # ends: alphabet() guarantees each required type fits and is non-empty
        password = _draw(chars.pool, spec.length, rng)
        used = set(password)
        if all(used & required for required in chars.required):
            return password


def _draw(pool: str, length: int, rng: random.Random) -> str:
    """``length`` characters drawn uniformly from ``pool`` (at most 95 characters), from random bytes fetched a block at
    a time: one system call for the whole password rather than one a character, each of which lets other
    threads take the GIL. A byte at or above the largest multiple of ``len(pool)`` is thrown away, so
    ``byte % len(pool)`` favours no character."""
    size = len(pool)
    limit = 256 - 256 % size
    drawn: list[str] = []
    while len(drawn) < length:
        block = rng.randbytes(length - len(drawn) + length // 2 + 8)  # enough for most passwords at once
        drawn.extend(pool[b % size] for b in block if b < limit)
    return "".join(drawn[:length])


def _without(chars: str, excluded: set[str]) -> str:
    return "".join(c for c in chars if c not in excluded)
