import base64
from datetime import UTC, datetime, timedelta

import pytest

from tumbler.core.errors import InvalidNextToken, InvalidParameter
from tumbler.core.listing import (
    FILTER_KEYS,
    INVALID_NEXT_TOKEN,
    Filter,
    make_filter,
    matches,
    page,
    sort_secrets,
    split_words,
)
from tumbler.core.secrets import Secret

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def secret(
    name: str,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    region: str = "us-east-1",
    primary_region: str | None = None,
    owning_service: str | None = None,
    created: int = 0,
    changed: int = 0,
    accessed: int | None = None,
) -> Secret:
    return Secret(
        arn=f"arn:aws:secretsmanager:{region}:123456789012:secret:{name}-AbCdEf",
        name=name,
        region=region,
        created=T0 + timedelta(days=created),
        last_changed=T0 + timedelta(days=changed),
        last_accessed=None if accessed is None else T0 + timedelta(days=accessed),
        description=description,
        tags=tags or {},
        primary_region=primary_region,
        owning_service=owning_service,
    )


def kept(secrets: list[Secret], *filters: tuple[str, list[str]]) -> list[str]:
    built = [Filter(key, tuple(values)) for key, values in filters]
    return [s.name for s in secrets if matches(s, built)]


# -- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("credsDatabase#892", ["creds", "Database", "892"]),  # the user guide's example
        ("My_Secret", ["My", "Secret"]),
        ("HTTPServer2", ["HTTP", "Server", "2"]),
        ("prod/db-main+x=y.z@w", ["prod", "db", "main", "x", "y", "z", "w"]),
        ("asecret", ["asecret"]),
        ("  a   secret ", ["a", "secret"]),
        ("v2beta", ["v", "2", "beta"]),
        ("ÉcoleNormale", ["École", "Normale"]),
        ("#/_ ", []),
        ("", []),
    ],
)
def test_split_words(text: str, words: list[str]) -> None:
    assert split_words(text) == words


# -- name -------------------------------------------------------------------------------------


def test_name_is_a_case_sensitive_prefix() -> None:
    secrets = [secret("DatabaseSecret"), secret("databaseSecret"), secret("MyData")]
    assert kept(secrets, ("name", ["Data"])) == ["DatabaseSecret"]  # the user guide's example


def test_name_matches_the_whole_string_not_words() -> None:
    # aws-validated in LocalStack's test_list_secrets_filtering
    secrets = [
        secret("testing1/one-1"),
        secret("/testing2/two-1"),
        secret("testing3/three-1"),
        secret("/testing4/four-1"),
    ]
    assert kept(secrets, ("name", ["/"])) == ["/testing2/two-1", "/testing4/four-1"]
    assert kept(secrets, ("name", ["!/"])) == ["testing1/one-1", "testing3/three-1"]
    assert kept(secrets, ("name", ["testing1 one"])) == []
    assert kept(secrets, ("name", ["testing1/one"])) == ["testing1/one-1"]


def test_empty_value_and_bare_negation() -> None:
    secrets = [secret("a"), secret("b")]
    assert kept(secrets, ("name", [""])) == ["a", "b"]
    assert kept(secrets, ("name", ["!"])) == []


# -- description ------------------------------------------------------------------------------

LOCALSTACK_SET = [
    secret("s1", description="a secret"),
    secret("s2", description="an secret"),
    secret("s3", description="asecret"),
    secret("s4", description="thesecret"),
]


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("a", ["s1", "s2", "s3"]),
        ("!a", ["s4"]),
        ("a secret", ["s1", "s2"]),
        ("!c", ["s1", "s2", "s3", "s4"]),
        ("secret", ["s1", "s2"]),
        ("A SECRET", ["s1", "s2"]),
    ],
)
def test_description_matches_words_like_aws(value: str, names: list[str]) -> None:
    # the first four are the aws-validated cases of LocalStack's test_list_secrets_filtering
    assert kept(LOCALSTACK_SET, ("description", [value])) == names


def test_description_user_guide_example() -> None:
    secrets = [
        secret("a", description="My Description"),
        secret("b", description="my description"),
        secret("c", description="My basic description"),
        secret("d", description="Description of my secret"),
        secret("e", description="Mydescription"),
        secret("f", description="my notes"),
        secret("g"),
    ]
    assert kept(secrets, ("description", ["My Description"])) == ["a", "b", "c", "d"]


def test_negation_keeps_secrets_without_the_attribute() -> None:
    secrets = [secret("with", description="prod db"), secret("without")]
    assert kept(secrets, ("description", ["prod"])) == ["with"]
    assert kept(secrets, ("description", ["!prod"])) == ["without"]


def test_value_without_words_finds_nothing() -> None:
    secrets = [secret("x", description="anything")]
    assert kept(secrets, ("description", ["_"])) == []
    assert kept(secrets, ("description", ["!_"])) == ["x"]


# -- tags -------------------------------------------------------------------------------------


def test_tag_key_and_value_are_case_sensitive_prefixes() -> None:
    # the user guide's examples: Prod finds Production and Prod1, not prod or "1 Prod"
    by_key = [
        secret("production", tags={"Production": "x"}),
        secret("prod1", tags={"Prod1": "x"}),
        secret("lower", tags={"prod": "x"}),
        secret("spaced", tags={"1 Prod": "x"}),
        secret("untagged"),
    ]
    assert kept(by_key, ("tag-key", ["Prod"])) == ["production", "prod1"]
    by_value = [secret(s.name, tags={"x": next(iter(s.tags), "")}) for s in by_key]
    assert kept(by_value, ("tag-value", ["Prod"])) == ["production", "prod1"]


def test_tag_filters_look_at_every_tag() -> None:
    secrets = [secret("both", tags={"team": "core", "env": "prod"}), secret("one", tags={"env": "dev"})]
    assert kept(secrets, ("tag-key", ["team"])) == ["both"]
    assert kept(secrets, ("tag-value", ["prod"])) == ["both"]
    assert kept(secrets, ("tag-key", ["!team"])) == ["one"]
    assert kept(secrets, ("tag-value", ["env"])) == []  # a key is not a value


# -- primary region, owning service -----------------------------------------------------------


def test_primary_region_is_the_own_region_unless_a_replica() -> None:
    secrets = [
        secret("primary", region="us-east-1"),
        secret("replica", region="us-east-1", primary_region="eu-west-1"),
    ]
    assert kept(secrets, ("primary-region", ["us-east"])) == ["primary"]
    assert kept(secrets, ("primary-region", ["eu-west-1"])) == ["replica"]
    assert kept(secrets, ("primary-region", ["EU"])) == []
    assert kept(secrets, ("primary-region", ["!eu"])) == ["primary"]


def test_owning_service_is_a_case_sensitive_prefix() -> None:
    secrets = [
        secret("rds", owning_service="rds"),
        secret("appflow", owning_service="appflow"),
        secret("mine"),
    ]
    assert kept(secrets, ("owning-service", ["rd"])) == ["rds"]
    assert kept(secrets, ("owning-service", ["RDS"])) == []
    assert kept(secrets, ("owning-service", ["!rds"])) == ["appflow", "mine"]
    assert kept(secrets, ("owning-service", ["n/a"])) == []


# -- all --------------------------------------------------------------------------------------


def test_all_searches_name_description_and_tags_ignoring_case() -> None:
    secrets = [
        secret("foo"),
        secret("bar", description="Foo"),
        secret("baz", tags={"FOO": "1"}),
        secret("qux", tags={"1": "foo"}),
        secret("none", owning_service="foo", description="other"),
        secret("prefix", description="football"),
        secret("inner", description="afoo"),
    ]
    assert kept(secrets, ("all", ["foo"])) == ["foo", "bar", "baz", "qux", "prefix"]


def test_all_splits_the_value_and_any_word_is_enough() -> None:
    # the user guide: My_Secret finds the word my or secret
    secrets = [
        secret("my-app"),
        secret("db", description="the secret"),
        secret("creds", tags={"Database": "892"}),
        secret("other"),
    ]
    assert kept(secrets, ("all", ["My_Secret"])) == ["my-app", "db"]
    assert kept(secrets, ("all", ["credsDatabase#892"])) == ["creds"]
    assert kept(secrets, ("all", ["!My_Secret"])) == ["creds", "other"]


# -- combining --------------------------------------------------------------------------------


def test_values_are_ored_and_filters_anded() -> None:
    secrets = [
        secret("foo", tags={"right": "right"}),
        secret("bar", tags={"right": "wrong"}),
        secret("baz", tags={"wrong": "right"}),
        secret("qux", tags={"wrong": "wrong"}),
    ]
    assert kept(secrets, ("name", ["foo", "bar"])) == ["foo", "bar"]
    assert kept(secrets, ("tag-key", ["right"]), ("tag-value", ["right"])) == ["foo"]
    assert kept(secrets, ("tag-key", ["right"]), ("name", ["b"])) == ["bar"]


def test_same_key_twice_must_match_both() -> None:
    secrets = [
        secret("foo", description="one two"),
        secret("bar", description="one"),
        secret("baz", description="two"),
    ]
    assert kept(secrets, ("description", ["one"]), ("description", ["two"])) == ["foo"]
    assert kept(secrets, ("description", ["one", "two"])) == ["foo", "bar", "baz"]


def test_mixed_positive_and_negated_values_are_ored() -> None:
    secrets = [secret(n, description=d) for n, d in (("a", "one"), ("b", "two"), ("c", "three"))]
    assert kept(secrets, ("description", ["one", "!two"])) == ["a", "c"]


def test_no_filters_keep_everything() -> None:
    assert matches(secret("x"), []) is True


# -- filter validation ------------------------------------------------------------------------


def test_filter_keys_are_the_models() -> None:
    model = {"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}
    assert model == FILTER_KEYS


@pytest.mark.parametrize(
    ("key", "values", "message"),
    [
        (None, ["x"], "Invalid filter key"),
        ("colour", ["x"], "Invalid filter key"),
        ("Name", ["x"], "Invalid filter key"),
        ("description", None, "Invalid filter values for key: description"),
        ("name", [], "Invalid filter values for key: name"),
    ],
)
def test_incomplete_filters_are_refused(key: str | None, values: list[str] | None, message: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        make_filter(key, values)
    assert err.value.message == message


def test_make_filter() -> None:
    assert make_filter("name", ["a", "b"]) == Filter("name", ("a", "b"))


# -- sorting ----------------------------------------------------------------------------------

SORTABLE = [
    secret("b", created=2, changed=5, accessed=1),
    secret("a", created=3, changed=4),
    secret("d", created=1, changed=6, accessed=3),
    secret("c", created=4, changed=3, accessed=2),
]


def names(secrets: list[Secret]) -> list[str]:
    return [s.name for s in secrets]


@pytest.mark.parametrize(
    ("sort_by", "sort_order", "expected"),
    [
        (None, None, ["d", "b", "a", "c"]),
        ("created-date", "asc", ["d", "b", "a", "c"]),
        ("created-date", "desc", ["c", "a", "b", "d"]),
        (None, "desc", ["c", "a", "b", "d"]),
        ("name", None, ["a", "b", "c", "d"]),
        ("name", "desc", ["d", "c", "b", "a"]),
        ("last-changed-date", "asc", ["c", "a", "b", "d"]),
        ("last-changed-date", "desc", ["d", "b", "a", "c"]),
        ("last-accessed-date", "asc", ["a", "b", "c", "d"]),  # never accessed is oldest
        ("last-accessed-date", "desc", ["d", "c", "b", "a"]),
    ],
)
def test_sort(sort_by: str | None, sort_order: str | None, expected: list[str]) -> None:
    assert names(sort_secrets(SORTABLE, sort_by, sort_order)) == expected


def test_ties_break_by_name_and_desc_is_the_exact_reverse() -> None:
    tied = [secret("y"), secret("x"), secret("z", created=-1)]
    assert names(sort_secrets(tied, None, None)) == ["z", "x", "y"]
    assert names(sort_secrets(tied, None, "desc")) == ["y", "x", "z"]


def test_sort_accepts_any_iterable_and_leaves_input_alone() -> None:
    source = list(SORTABLE)
    assert names(sort_secrets(iter(source), "name", "asc")) == ["a", "b", "c", "d"]
    assert source == SORTABLE


@pytest.mark.parametrize(("sort_by", "sort_order"), [("size", None), (None, "up"), ("Name", "asc")])
def test_unknown_sort_is_refused(sort_by: str | None, sort_order: str | None) -> None:
    with pytest.raises(InvalidParameter):
        sort_secrets(SORTABLE, sort_by, sort_order)


# -- paging -----------------------------------------------------------------------------------


def walk(items: list[int], max_results: int | None, default_size: int = 100) -> list[list[int]]:
    pages: list[list[int]] = []
    token: str | None = None
    while True:
        chunk, token = page(items, max_results, token, default_size)
        pages.append(chunk)
        if token is None:
            return pages


def test_default_page_is_100() -> None:
    items = list(range(250))
    assert [len(p) for p in walk(items, None)] == [100, 100, 50]
    assert [i for p in walk(items, None) for i in p] == items


def test_max_results_and_default_size() -> None:
    items = list(range(7))
    assert walk(items, 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert walk(items, None, default_size=20) == [items]
    assert walk(items, 7) == [items]
    assert walk(items, 1) == [[i] for i in items]


def test_last_page_has_no_token_and_empty_list_is_one_empty_page() -> None:
    assert page([1, 2], 2, None) == ([1, 2], None)
    assert page([], None, None) == ([], None)


def test_token_is_opaque() -> None:
    _, token = page(list(range(10)), 4, None)
    assert token is not None
    assert "4" not in token
    assert token.isascii()
    assert token.rstrip("=").replace("-", "").replace("_", "").isalnum()


def test_token_past_a_shrunken_list_gives_an_empty_last_page() -> None:
    _, token = page(list(range(10)), 8, None)
    assert page(list(range(3)), 8, token) == ([], None)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "not base64!",
        "ünïcode",
        "8",
        _b64("8"),
        _b64("tumbler-v1:"),
        _b64("tumbler-v1:-1"),
        _b64("tumbler-v1:+3"),
        _b64("tumbler-v1:03"),
        _b64("tumbler-v1:3 "),
        _b64("tumbler-v2:3"),
        _b64("tumbler-v1:1e3"),
        _b64("tumbler-v1:٣"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_token_is_refused_with_awss_message(token: str) -> None:
    with pytest.raises(InvalidNextToken) as err:
        page(list(range(10)), 2, token)
    assert err.value.message == "The NextToken value is invalid."
    assert err.value.message == INVALID_NEXT_TOKEN


def test_max_results_below_one_is_refused() -> None:
    with pytest.raises(InvalidParameter):
        page([1], 0, None)


# -- one page of the store: the query, the keyset token and the reference answer --------------

from tumbler.core.listing import list_query, next_token, one_more, select  # noqa: E402


def walk_query(secrets: list[Secret], size: int, **kwargs: object) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        query = list_query("us-east-1", [], max_results=size, next_token=token, **kwargs)  # type: ignore[arg-type]
        found = select(secrets, one_more(query))
        pages.append(names(found[:size]))
        token = next_token(query, found)
        if token is None:
            return pages


def test_keyset_pages_follow_the_sort_and_end_without_a_token() -> None:
    assert walk_query(SORTABLE, 3) == [["d", "b", "a"], ["c"]]
    assert walk_query(SORTABLE, 2, sort_by="last-accessed-date", sort_order="desc") == [["d", "c"], ["b", "a"]]
    assert walk_query(SORTABLE, 4, sort_by="name") == [["a", "b", "c", "d"]]
    assert walk_query([], 5) == [[]]


def test_keyset_token_survives_the_secret_it_names_going_away() -> None:
    query = list_query("us-east-1", [], max_results=2)
    token = next_token(query, select(SORTABLE, one_more(query)))
    assert token is not None
    remaining = [s for s in SORTABLE if s.name != "b"]  # "b" ended the first page
    assert names(select(remaining, list_query("us-east-1", [], max_results=5, next_token=token))) == ["a", "c"]


def test_keyset_token_is_bound_to_its_query() -> None:
    query = list_query("us-east-1", [Filter("name", ("a", "b"))], max_results=1)
    token = next_token(query, select(SORTABLE, one_more(query)))
    assert token is not None
    list_query("us-east-1", [Filter("name", ("a", "b"))], max_results=7, next_token=token)  # MaxResults may change
    for other in (
        {"sort_by": "name"},
        {"sort_order": "desc"},
        {"include_deleted": True},
        {"filters": [Filter("name", ("a",))]},
        {"region": "eu-west-1"},
    ):
        kwargs: dict[str, object] = {"region": "us-east-1", "filters": [Filter("name", ("a", "b"))], **other}
        with pytest.raises(InvalidNextToken):
            list_query(kwargs.pop("region"), kwargs.pop("filters"), next_token=token, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        _b64("8"),
        _b64("tumbler-v1:3"),
        _b64("tumbler-cursor-1:"),
        _b64("tumbler-cursor-1:[]"),
        _b64('tumbler-cursor-1:{"q": "x", "k": 1.0, "n": "a"}'),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_keyset_token_is_refused_with_awss_message(token: str) -> None:
    with pytest.raises(InvalidNextToken) as err:
        list_query("us-east-1", [], next_token=token)
    assert err.value.message == INVALID_NEXT_TOKEN


def test_keyset_token_with_a_wrong_key_type_is_refused() -> None:
    query = list_query("us-east-1", [], max_results=1)
    good = base64.urlsafe_b64decode(next_token(query, select(SORTABLE, one_more(query))) or "")
    for key in (b'"text"', b"true", b"[1]"):
        payload = good.decode().split('"k":')
        forged = payload[0] + '"k":' + key.decode() + "," + payload[1].split(",", 1)[1]
        with pytest.raises(InvalidNextToken):
            list_query("us-east-1", [], next_token=base64.urlsafe_b64encode(forged.encode()).decode())
