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

At scale the store filters, sorts and pages (ListSecrets over a million secrets must not read them
all). This module states the rules once, in a form a store can translate: ``terms`` turns a filter
into ``Term``s over a secret's ``SearchFields`` (kept by the store beside the secret), ``ListQuery``
is one page's request, and ``select`` is the reference answer every store must agree with (the
contract suite checks it). NextToken is a keyset cursor: the sort key and name of the page's last
secret, bound to the query it came from.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, TypeVar

import orjson

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
        if self.key not in _TERMS:
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
    fields = search_fields(secret)
    return all(any(holds(fields, t) for t in terms(f)) for f in filters)


@dataclass(frozen=True)
class SearchFields:
    """What the filters look at in a secret, as a store keeps it beside the secret's row."""

    name: str
    primary_region: str
    owning_service: str | None
    tag_keys: tuple[str, ...]
    tag_values: tuple[str, ...]
    description_words: str  # " w1 w2 ...": the description's words, case-folded, each after a space
    all_words: str  # the same for the name, description, tag keys and tag values


def search_fields(secret: Secret) -> SearchFields:
    searched = [secret.name, secret.description or "", *secret.tags, *secret.tags.values()]
    return SearchFields(
        name=secret.name,
        primary_region=secret.primary_region or secret.region,
        owning_service=secret.owning_service,
        tag_keys=tuple(secret.tags),
        tag_values=tuple(secret.tags.values()),
        description_words=_word_text([secret.description or ""]),
        all_words=_word_text(searched),
    )


def _word_text(texts: Iterable[str]) -> str:
    # words are runs of letters and digits: a space never occurs in one, so " w" finds a word starting with w
    return "".join(" " + w.casefold() for text in texts for w in split_words(text))


TermKind = Literal["prefix", "any_prefix", "every_word", "any_word"]


@dataclass(frozen=True)
class Term:
    """One filter value, as a test on one of ``SearchFields``:

    * ``prefix``: the field (a string, or None: never) starts with ``values[0]``, case-sensitive;
    * ``any_prefix``: some element of the field (a tuple) starts with ``values[0]``;
    * ``every_word`` / ``any_word``: every / some word of ``values`` (case-folded) begins a word of
      the field (a word text); with no words the term never holds.

    ``negated``: the term holds exactly where the test does not."""

    kind: TermKind
    field: str
    values: tuple[str, ...]
    negated: bool = False


_TERMS: dict[str, tuple[TermKind, str]] = {
    "name": ("prefix", "name"),
    "primary-region": ("prefix", "primary_region"),
    "owning-service": ("prefix", "owning_service"),
    "tag-key": ("any_prefix", "tag_keys"),
    "tag-value": ("any_prefix", "tag_values"),
    "description": ("every_word", "description_words"),
    "all": ("any_word", "all_words"),
}


def terms(f: Filter) -> tuple[Term, ...]:
    """The filter's values as terms: a secret passes the filter when any one of them holds."""
    kind, field = _TERMS[f.key]
    out = []
    for value in f.values:
        negated = value.startswith(NEGATION)
        text = value[len(NEGATION) :] if negated else value
        values = (text,) if kind in ("prefix", "any_prefix") else tuple(w.casefold() for w in split_words(text))
        out.append(Term(kind, field, values, negated))
    return tuple(out)


def holds(fields: SearchFields, term: Term) -> bool:
    """Whether ``term`` holds for a secret with these fields: the rule a store's query translates."""
    found: Any = getattr(fields, term.field)
    if term.kind == "prefix":
        result = found is not None and found.startswith(term.values[0])
    elif term.kind == "any_prefix":
        result = any(element.startswith(term.values[0]) for element in found)
    else:
        hits = [f" {w}" in found for w in term.values]
        result = bool(hits) and (all(hits) if term.kind == "every_word" else any(hits))
    return result != term.negated


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


FILTER_KEYS = frozenset(_TERMS)


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


# -- one page, asked of a store ---------------------------------------------------------------

SortKey = float | str | None  # a date as epoch seconds (None: never accessed) or, sorting by name, the name


@dataclass(frozen=True)
class After:
    """Where the previous page ended: its last secret's sort key and name (unique in a region)."""

    key: SortKey
    name: str


@dataclass(frozen=True)
class ListQuery:
    """One page of ListSecrets (or of BatchGetSecretValue's Filters) as a store answers it."""

    region: str
    clauses: tuple[tuple[Term, ...], ...]  # AND of ORs: one clause per filter
    include_deleted: bool
    sort_by: str
    descending: bool
    limit: int
    after: After | None = None


def list_query(
    region: str,
    filters: Sequence[Filter],
    *,
    sort_by: str | None = None,
    sort_order: str | None = None,
    include_deleted: bool = False,
    max_results: int | None = None,
    next_token: str | None = None,
    default_size: int = DEFAULT_PAGE_SIZE,
) -> ListQuery:
    """The page a request asks for; InvalidParameter or InvalidNextToken when it is not a valid one."""
    by, order = sort_by or DEFAULT_SORT_BY, sort_order or DEFAULT_SORT_ORDER
    if by not in _SORT_KEYS or order not in SORT_ORDERS:
        raise InvalidParameter(f"Invalid sort: {by} {order}")
    size = default_size if max_results is None else max_results
    if size < 1:
        raise InvalidParameter("MaxResults must be at least 1.")
    query = ListQuery(region, tuple(terms(f) for f in filters), include_deleted, by, order == "desc", size)
    if next_token is None:
        return query
    return replace(query, after=_decode_cursor(next_token, query))


def one_more(query: ListQuery) -> ListQuery:
    """``query`` asking for one secret more than the page: whether it comes says if another page follows."""
    return replace(query, limit=query.limit + 1)


def sort_key(secret: Secret, sort_by: str) -> SortKey:
    if sort_by == "name":
        return secret.name
    stamp = _DATES[sort_by](secret)
    return None if stamp is None else stamp.timestamp()


def next_token(query: ListQuery, found: Sequence[Secret]) -> str | None:
    """The token of the page after ``found`` (what the store gave for ``one_more(query)``), or None if it is
    the last."""
    if len(found) <= query.limit:
        return None
    last = found[query.limit - 1]
    payload = {"q": _fingerprint(query), "k": sort_key(last, query.sort_by), "n": last.name}
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + orjson.dumps(payload)).decode("ascii")


def select(secrets: Iterable[Secret], query: ListQuery) -> list[Secret]:
    """The reference answer to ``query`` (``limit`` secrets, no extra one) over ``secrets`` of any region."""
    kept = [
        s
        for s in secrets
        if s.region == query.region
        and (query.include_deleted or not s.is_deleted)
        and all(any(holds(search_fields(s), t) for t in clause) for clause in query.clauses)
    ]
    ordered = sort_secrets(kept, query.sort_by, "desc" if query.descending else "asc")
    if query.after is not None:
        mark = _comparable(query.after.key, query.after.name)
        ordered = [
            s for s in ordered if (_position(s, query) < mark if query.descending else _position(s, query) > mark)
        ]
    return ordered[: query.limit]


def _position(secret: Secret, query: ListQuery) -> tuple[Any, ...]:
    return _comparable(sort_key(secret, query.sort_by), secret.name)


def _comparable(key: SortKey, name: str) -> tuple[Any, ...]:
    return (_stamp_of(key), name) if not isinstance(key, str) else (key, name)


def _stamp_of(key: float | None) -> tuple[int, float]:
    return (0, 0.0) if key is None else (1, key)


_DATES: dict[str, Callable[[Secret], datetime | None]] = {
    "created-date": lambda s: s.created,
    "last-accessed-date": lambda s: s.last_accessed,
    "last-changed-date": lambda s: s.last_changed,
}
_CURSOR_PREFIX = b"tumbler-cursor-1:"


def _fingerprint(query: ListQuery) -> str:
    """What a token is good for: the same region, filters, sort and IncludePlannedDeletion."""
    what = repr((query.region, query.clauses, query.include_deleted, query.sort_by, query.descending))
    return hashlib.blake2b(what.encode(), digest_size=12).hexdigest()


def _decode_cursor(token: str, query: ListQuery) -> After:
    """The position a token from ``next_token`` names, for the same query; anything else is InvalidNextToken."""
    try:
        raw = base64.b64decode(token, altchars=b"-_", validate=True)
        fields = orjson.loads(raw.removeprefix(_CURSOR_PREFIX)) if raw.startswith(_CURSOR_PREFIX) else None
    except ValueError:  # bad base64 or JSON (orjson's error is a ValueError)
        fields = None
    if not isinstance(fields, dict) or set(fields) != {"q", "k", "n"} or fields["q"] != _fingerprint(query):
        raise InvalidNextToken(INVALID_NEXT_TOKEN)
    key, name = fields["k"], fields["n"]
    by_name = query.sort_by == "name"
    valid_key = key == name if by_name else (key is None or (isinstance(key, float) and key == key))  # no NaN
    if not isinstance(name, str) or not valid_key:
        raise InvalidNextToken(INVALID_NEXT_TOKEN)
    return After(key, name)
