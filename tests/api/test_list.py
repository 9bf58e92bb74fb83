"""ListSecrets: filters, sorting and paging.

Filter rules from the API reference (``Filter.Key``): name, tag-key, tag-value are prefix
matches, case-sensitive; description is a prefix match, not case-sensitive; ``all`` breaks the
value into words and searches every attribute, not case-sensitive; a value starting with ``!``
negates. Every test narrows to names under its own random prefix, so other tests' secrets
never show up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import assert_error, letters


@dataclass
class Catalog:
    prefix: str
    word: str  # a letters-only word that only gamma's tag value contains
    versions: dict[str, str]  # name -> its AWSCURRENT version id

    def name(self, short: str) -> str:
        return self.prefix + short


@pytest.fixture
def catalog(sm: Any) -> Catalog:
    prefix, word = f"lst{letters(10)}/", letters(14)
    specs: list[tuple[str, str, dict[str, str]]] = [
        ("alpha", "Production database credentials", {"env": "prod"}),
        ("beta", "staging API key", {"env": "staging"}),
        ("gamma/one", "Shared signing key", {"owner": f"team {word}"}),
        ("Delta", "misc", {"envx": "prod-eu"}),
    ]
    found: dict[str, str] = {}
    for short, description, tags in specs:
        created = sm.create_secret(
            Name=prefix + short, SecretString="v", Description=description,
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )  # fmt: skip
        found[prefix + short] = created["VersionId"]
    return Catalog(prefix, word, found)


def names(sm: Any, catalog: Catalog, *filters: tuple[str, list[str]], **kwargs: Any) -> set[str]:
    """Names ListSecrets returns for ``filters``, AND-ed with the catalog's name prefix."""
    wanted = [{"Key": "name", "Values": [catalog.prefix]}] + [{"Key": k, "Values": v} for k, v in filters]
    listed = sm.list_secrets(Filters=wanted, **kwargs)
    return {s["Name"] for s in listed["SecretList"]}


def short(catalog: Catalog, *shorts: str) -> set[str]:
    return {catalog.name(s) for s in shorts}


def test_name_prefix_is_case_sensitive(sm: Any, catalog: Catalog) -> None:
    assert names(sm, catalog) == set(catalog.versions)
    assert names(sm, catalog, ("name", [catalog.name("gamma")])) == short(catalog, "gamma/one")
    assert names(sm, catalog, ("name", [catalog.name("Delta")])) == short(catalog, "Delta")
    assert names(sm, catalog, ("name", [catalog.name("delta")])) == set()
    assert names(sm, catalog, ("name", [catalog.name("lpha")])) == set()  # a prefix, not a substring


def test_values_of_one_filter_are_or_ed(sm: Any, catalog: Catalog) -> None:
    found = names(sm, catalog, ("name", [catalog.name("alpha"), catalog.name("beta")]))
    assert found == short(catalog, "alpha", "beta")


def test_description_is_not_case_sensitive(sm: Any, catalog: Catalog) -> None:
    assert names(sm, catalog, ("description", ["production"])) == short(catalog, "alpha")
    assert names(sm, catalog, ("description", ["PROD"])) == short(catalog, "alpha")
    assert names(sm, catalog, ("description", ["Staging"])) == short(catalog, "beta")
    assert names(sm, catalog, ("description", ["nothing-like-it"])) == set()


def test_tag_key_prefix_is_case_sensitive(sm: Any, catalog: Catalog) -> None:
    assert names(sm, catalog, ("tag-key", ["env"])) == short(catalog, "alpha", "beta", "Delta")
    assert names(sm, catalog, ("tag-key", ["owner"])) == short(catalog, "gamma/one")
    assert names(sm, catalog, ("tag-key", ["Env"])) == set()


def test_tag_value_prefix_is_case_sensitive(sm: Any, catalog: Catalog) -> None:
    assert names(sm, catalog, ("tag-value", ["prod"])) == short(catalog, "alpha", "Delta")
    assert names(sm, catalog, ("tag-value", ["staging"])) == short(catalog, "beta")
    assert names(sm, catalog, ("tag-value", ["Prod"])) == set()


def test_negation(sm: Any, catalog: Catalog) -> None:
    assert names(sm, catalog, ("name", ["!" + catalog.name("gamma")])) == short(catalog, "alpha", "beta", "Delta")
    assert names(sm, catalog, ("tag-value", ["!prod"])) == short(catalog, "beta", "gamma/one")


def test_filters_are_and_ed(sm: Any, catalog: Catalog) -> None:
    assert names(sm, catalog, ("tag-key", ["env"]), ("tag-value", ["prod"])) == short(catalog, "alpha", "Delta")
    assert names(sm, catalog, ("tag-key", ["env"]), ("description", ["misc"])) == short(catalog, "Delta")


def test_all_searches_every_attribute_ignoring_case(sm: Any, catalog: Catalog) -> None:
    assert names(sm, catalog, ("all", [catalog.word.upper()])) == short(catalog, "gamma/one")  # a tag value
    assert names(sm, catalog, ("all", ["signing"])) == short(catalog, "gamma/one")  # the description
    assert names(sm, catalog, ("all", ["owner"])) == short(catalog, "gamma/one")  # a tag key
    assert names(sm, catalog, ("all", [letters(16)])) == set()


def test_list_entry_fields(sm: Any, catalog: Catalog) -> None:
    alpha = catalog.name("alpha")
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [alpha]}])["SecretList"]
    assert len(listed) == 1
    entry = listed[0]
    assert entry["Name"] == alpha
    assert entry["ARN"] == sm.describe_secret(SecretId=alpha)["ARN"]
    assert entry["Description"] == "Production database credentials"
    assert entry["Tags"] == [{"Key": "env", "Value": "prod"}]
    # ListSecrets names the version map SecretVersionsToStages (DescribeSecret: VersionIdsToStages)
    assert entry["SecretVersionsToStages"] == {catalog.versions[alpha]: ["AWSCURRENT"]}
    assert "CreatedDate" in entry
    assert "LastChangedDate" in entry
    assert "SecretString" not in entry


@pytest.mark.parametrize(("order", "reverse"), [("asc", False), ("desc", True)])
def test_sort_by_name(sm: Any, order: str, reverse: bool) -> None:
    prefix = f"srt{letters(10)}/"
    for part in ["mango", "apple", "kiwi", "banana"]:
        sm.create_secret(Name=prefix + part, SecretString="v")
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}], SortBy="name", SortOrder=order)
    got = [s["Name"] for s in listed["SecretList"]]
    assert got == sorted((prefix + p for p in ["mango", "apple", "kiwi", "banana"]), reverse=reverse)


def test_paging_over_many_secrets(sm: Any) -> None:
    prefix = f"pg{letters(10)}/"
    created = {prefix + f"s{i:02d}" for i in range(12)}
    for secret_name in created:
        sm.create_secret(Name=secret_name, SecretString="v")
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Filters": [{"Key": "name", "Values": [prefix]}], "MaxResults": 5}
    pages = 0
    while True:
        page = sm.list_secrets(**kwargs)
        pages += 1
        assert len(page["SecretList"]) <= 5
        seen += [s["Name"] for s in page["SecretList"]]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
        assert pages < 30
    assert sorted(seen) == sorted(created)  # every secret exactly once
    assert pages >= 3


def test_paginator_sees_everything(sm: Any) -> None:
    prefix = f"pgn{letters(10)}/"
    created = {prefix + str(i) for i in range(7)}
    for secret_name in created:
        sm.create_secret(Name=secret_name, SecretString="v")
    pages = sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [prefix]}], PaginationConfig={"PageSize": 2}
    )
    assert sorted(s["Name"] for page in pages for s in page["SecretList"]) == sorted(created)


def test_garbage_next_token(sm: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sm.list_secrets(NextToken="bm90IGEgdG9rZW4gd2UgZXZlciBnYXZlIG91dA==")
    assert_error(raised, "InvalidNextTokenException")
    with pytest.raises(ClientError) as raised:
        sm.list_secrets(NextToken="%%%garbage%%%")
    assert_error(raised, "InvalidNextTokenException")


def test_filter_value_with_a_forbidden_character(sm: Any) -> None:
    # FilterValueStringType: pattern ^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$
    with pytest.raises(ClientError) as raised:
        sm.list_secrets(Filters=[{"Key": "name", "Values": ["bad*value"]}])
    assert_error(raised, "ValidationException")


def test_next_token_is_good_only_for_its_own_query(sm: Any) -> None:
    prefix = f"tok{letters(10)}/"
    for i in range(3):
        sm.create_secret(Name=f"{prefix}{i}", SecretString="v")
    mine = [{"Key": "name", "Values": [prefix]}]
    token = sm.list_secrets(Filters=mine, MaxResults=1)["NextToken"]
    assert len(sm.list_secrets(Filters=mine, MaxResults=2, NextToken=token)["SecretList"]) == 2  # size may change
    for other in ({"SortBy": "name"}, {"SortOrder": "desc"}, {"IncludePlannedDeletion": True}, {"Filters": []}):
        with pytest.raises(ClientError) as raised:
            sm.list_secrets(**{"Filters": mine, **other}, MaxResults=1, NextToken=token)
        assert_error(raised, "InvalidNextTokenException")
    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    with pytest.raises(ClientError) as raised:
        sm.list_secrets(Filters=mine, MaxResults=1, NextToken=tampered)
    assert_error(raised, "InvalidNextTokenException")


def test_paging_neither_repeats_nor_skips_while_secrets_come_and_go(sm: Any) -> None:
    """The token names the last secret seen, not an offset: a secret deleted or created between pages
    shifts nothing (a new one sorts last by creation date, so it shows on a later page)."""
    prefix = f"kst{letters(10)}/"
    names = [f"{prefix}{i:02d}" for i in range(6)]
    for secret_name in names:
        sm.create_secret(Name=secret_name, SecretString="v")
    mine = [{"Key": "name", "Values": [prefix]}]
    first = sm.list_secrets(Filters=mine, MaxResults=3)
    seen = [s["Name"] for s in first["SecretList"]]
    sm.delete_secret(SecretId=seen[0], ForceDeleteWithoutRecovery=True)
    sm.create_secret(Name=f"{prefix}new", SecretString="v")
    rest = sm.list_secrets(Filters=mine, MaxResults=10, NextToken=first["NextToken"])
    assert seen + [s["Name"] for s in rest["SecretList"]] == [*names, f"{prefix}new"]


def test_batch_get_secret_value_pages_filtered_secrets(sm: Any) -> None:
    prefix = f"bgv{letters(10)}/"
    for i in range(5):
        sm.create_secret(Name=f"{prefix}{i}", SecretString=f"value {i}")
    mine = [{"Key": "name", "Values": [prefix]}]
    got: list[str] = []
    kwargs: dict[str, Any] = {"Filters": mine, "MaxResults": 2}
    while True:
        page = sm.batch_get_secret_value(**kwargs)
        assert page["Errors"] == []
        got += [v["SecretString"] for v in page["SecretValues"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert got == [f"value {i}" for i in range(5)]
