"""ListSecrets and BatchGetSecretValue: which secrets the filters keep, their order, and paging.

Filter rules (API reference ``Filter``; user guide "Find secrets in Secrets Manager"; the
name and description rules were also checked against AWS by LocalStack's AWS-validated tests):

* ``name``, ``tag-key``, ``tag-value``, ``primary-region``, ``owning-service``: the attribute
  starts with the value, case-sensitive, as one string: ``testing1 one`` does not match
  ``testing1/one-x``, and ``/`` matches exactly the names that begin with a slash.
* ``description``: word search, not case-sensitive. Every word of the value must begin some
  word of the description: ``a secret`` matches "an secret" but not "asecret".
* ``all``: word search over the name, description, tag keys and tag values, not
  case-sensitive; the user guide says ``My_Secret`` finds secrets with the word *my* or
  *secret*, so any one word of the value is enough.
* Words are runs of letters and digits, split where lower case turns upper case, where
  letters meet digits, and at the end of an acronym: ``credsDatabase#892`` is ``creds``,
  ``Database``, ``892``.
* A value starting with ``!`` keeps exactly the secrets the rest of it would not keep.
  The values of one filter are OR-ed; the filters are AND-ed.
* ``primary-region`` of a secret that is not a replica is its own region (``PrimaryRegion``
  is "the Region where Secrets Manager originated the secret").
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tumbler.core.errors import InvalidNextToken, InvalidParameter
from tumbler.core.secrets import Secret

T = TypeVar("T")

NEGATION = "!"
SORT_BY = ("created-date", "last-accessed-date", "last-changed-date", "name")
SORT_ORDERS = ("asc", "desc")
DEFAULT_SORT_BY = "created-date"
DEFAULT_SORT_ORDER = "asc"  # AWS documents no default direction; oldest first, as the emulators do
DEFAULT_PAGE_SIZE = 100
INVALID_NEXT_TOKEN = "The NextToken value is invalid."


@dataclass(frozen=True)
class Filter:
    key: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.key not in _MATCHERS:
            raise InvalidParameter("Invalid filter key")
        if not self.values:
            raise InvalidParameter(f"Invalid filter values for key: {self.key}")


def make_filter(key: str | None, values: Sequence[str] | None) -> Filter:
    """A Filter from request members the model leaves optional; AWS refuses either one missing."""
    if key is None:
        raise InvalidParameter("Invalid filter key")
    return Filter(key, tuple(values or ()))


def matches(secret: Secret, filters: Sequence[Filter]) -> bool:
    """Whether ``secret`` passes every filter (no filters: every secret passes)."""
    return all(any(_value_matches(secret, f.key, v) for v in f.values) for f in filters)


def split_words(text: str) -> list[str]:
    """The words AWS's search sees in ``text`` (see the module docstring)."""
    kinds = [_kind(c) for c in text]
    words: list[str] = []
    for i, char in enumerate(text):
        kind = kinds[i]
        if kind is None:
            continue
        before = kinds[i - 1] if i else None
        after = kinds[i + 1] if i + 1 < len(kinds) else None
        if _starts_word(before, kind, after):
            words.append(char)
        else:
            words[-1] += char
    return words


def sort_secrets(secrets: Iterable[Secret], sort_by: str | None, sort_order: str | None) -> list[Secret]:
    """``secrets`` in ListSecrets order; ties go by name then ARN so pages are stable.

    A secret never accessed sorts as older than any access.
    """
    by = sort_by or DEFAULT_SORT_BY
    order = sort_order or DEFAULT_SORT_ORDER
    if by not in _SORT_KEYS or order not in SORT_ORDERS:
        raise InvalidParameter(f"Invalid sort: {by} {order}")
    return sorted(secrets, key=_SORT_KEYS[by], reverse=order == "desc")


def page(
    items: Sequence[T], max_results: int | None, next_token: str | None, default_size: int = DEFAULT_PAGE_SIZE
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token for the next, or None on the last page."""
    start = 0 if next_token is None else _decode_token(next_token)
    size = default_size if max_results is None else max_results
    if size < 1:
        raise InvalidParameter("MaxResults must be at least 1.")
    end = start + size
    return list(items[start:end]), _encode_token(end) if end < len(items) else None


# -- matching ---------------------------------------------------------------------------------


def _value_matches(secret: Secret, key: str, value: str) -> bool:
    matcher = _MATCHERS[key]
    if value.startswith(NEGATION):
        return not matcher(secret, value[len(NEGATION) :])
    return matcher(secret, value)


def _match_owning_service(secret: Secret, value: str) -> bool:
    return secret.owning_service is not None and secret.owning_service.startswith(value)


def _match_description(secret: Secret, value: str) -> bool:
    return _words_match(value, [secret.description or ""], every=True)


def _match_all(secret: Secret, value: str) -> bool:
    searched = [secret.name, secret.description or "", *secret.tags, *secret.tags.values()]
    return _words_match(value, searched, every=False)


def _words_match(value: str, texts: Iterable[str], every: bool) -> bool:
    """Each (every=True) or any word of ``value`` begins a word of ``texts``, ignoring case."""
    wanted = [w.casefold() for w in split_words(value)]
    if not wanted:  # a value of only separators names nothing to find
        return False
    present = [w.casefold() for text in texts for w in split_words(text)]
    found = (any(p.startswith(w) for p in present) for w in wanted)
    return all(found) if every else any(found)


_MATCHERS: dict[str, Callable[[Secret, str], bool]] = {
    "name": lambda s, v: s.name.startswith(v),
    "tag-key": lambda s, v: any(k.startswith(v) for k in s.tags),
    "tag-value": lambda s, v: any(t.startswith(v) for t in s.tags.values()),
    "primary-region": lambda s, v: (s.primary_region or s.region).startswith(v),
    "owning-service": _match_owning_service,
    "description": _match_description,
    "all": _match_all,
}
FILTER_KEYS = frozenset(_MATCHERS)


def _kind(char: str) -> str | None:
    if char.isdecimal():
        return "digit"
    if char.isupper():
        return "upper"
    return "lower" if char.isalpha() else None  # caseless letters join like lower case


def _starts_word(before: str | None, kind: str, after: str | None) -> bool:
    if before is None or (before == "digit") != (kind == "digit"):
        return True
    if before == "lower" and kind == "upper":
        return True
    return before == kind == "upper" and after == "lower"  # the S of HTTPServer


# -- sorting ----------------------------------------------------------------------------------


def _stamp(value: datetime | None) -> tuple[int, float]:
    return (0, 0.0) if value is None else (1, value.timestamp())


def _by_date(get: Callable[[Secret], datetime | None]) -> Callable[[Secret], tuple[Any, ...]]:
    return lambda s: (_stamp(get(s)), s.name, s.arn)


_SORT_KEYS: dict[str, Callable[[Secret], tuple[Any, ...]]] = {
    "created-date": _by_date(lambda s: s.created),
    "last-accessed-date": _by_date(lambda s: s.last_accessed),
    "last-changed-date": _by_date(lambda s: s.last_changed),
    "name": lambda s: (s.name, s.arn),
}


# -- tokens -----------------------------------------------------------------------------------

_TOKEN_PREFIX = "tumbler-v1:"
_TOKEN_OFFSET = re.compile(r"0|[1-9][0-9]{0,17}")


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode("ascii")


def _decode_token(token: str) -> int:
    """The offset in a token from ``_encode_token``; anything else is InvalidNextToken."""
    try:
        raw = base64.b64decode(token, altchars=b"-_", validate=True).decode("ascii")
    except ValueError:  # bad base64, non-ASCII input or output
        raise InvalidNextToken(INVALID_NEXT_TOKEN) from None
    offset = raw.removeprefix(_TOKEN_PREFIX)
    if offset == raw or not _TOKEN_OFFSET.fullmatch(offset):
        raise InvalidNextToken(INVALID_NEXT_TOKEN)
    return int(offset)
