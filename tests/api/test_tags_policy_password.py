"""Tags, resource policies and GetRandomPassword."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import MARKED_FOR_DELETION, NOT_FOUND, assert_error, snapshot, validation, violation

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # the set GetRandomPassword's documentation lists


def tags_of(sm: Any, secret_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=secret_id).get("Tags", [])}


# --- TagResource / UntagResource -------------------------------------------------------------------


def test_tag_appends_and_overwrites(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "a", "Value": "1"}])
    tagged = sm.tag_resource(SecretId=name, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "one"}])
    assert tagged["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert tags_of(sm, name) == {"a": "one", "b": "2"}


def test_untag_removes_only_the_named_keys(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": k, "Value": k.upper()} for k in "abc"])
    sm.untag_resource(SecretId=name, TagKeys=["a", "c"])
    assert tags_of(sm, name) == {"b": "B"}


def test_untag_of_an_absent_key_is_a_no_op(sm: Any, name: str) -> None:
    # UntagResource: "If a requested tag is not attached to the secret, no error is returned and
    # the secret metadata is unchanged."
    sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "keep", "Value": "me"}])
    sm.untag_resource(SecretId=name, TagKeys=["never-there"])
    assert tags_of(sm, name) == {"keep": "me"}


def test_tags_field_after_the_last_tag_is_removed(sm: Any, name: str) -> None:
    # Recorded AWS responses: DescribeSecret has no Tags before the first tag, and "Tags": []
    # once every tag has been removed again.
    sm.create_secret(Name=name, SecretString="v")
    assert "Tags" not in sm.describe_secret(SecretId=name)
    sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}])
    sm.untag_resource(SecretId=name, TagKeys=["k"])
    assert sm.describe_secret(SecretId=name)["Tags"] == []


def test_tags_are_case_sensitive(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.tag_resource(SecretId=name, Tags=[{"Key": "Env", "Value": "A"}, {"Key": "env", "Value": "b"}])
    assert tags_of(sm, name) == {"Env": "A", "env": "b"}


def test_tag_missing_secret(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}])
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


def test_tag_and_untag_a_deleted_secret(sm: Any, name: str) -> None:
    # Recorded AWS responses: both refused with InvalidRequestException.
    sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "k", "Value": "v"}])
    sm.delete_secret(SecretId=name)
    with pytest.raises(ClientError) as raised:
        sm.tag_resource(SecretId=name, Tags=[{"Key": "k2", "Value": "v2"}])
    assert_error(raised, "InvalidRequestException", MARKED_FOR_DELETION)
    with pytest.raises(ClientError) as raised:
        sm.untag_resource(SecretId=name, TagKeys=["k"])
    assert_error(raised, "InvalidRequestException", MARKED_FOR_DELETION)
    assert tags_of(sm, name) == {"k": "v"}


# --- resource policies -----------------------------------------------------------------------------


def policy_document(principal: Any = None, **extra: Any) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": principal or {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        **extra,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_policy_round_trip(sm: Any, name: str) -> None:
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)
    put = sm.put_resource_policy(SecretId=name, ResourcePolicy=policy_document())
    assert (put["ARN"], put["Name"]) == (arn, name)
    got = sm.get_resource_policy(SecretId=name)
    assert (got["ARN"], got["Name"]) == (arn, name)
    assert json.loads(got["ResourcePolicy"]) == json.loads(policy_document())
    deleted = sm.delete_resource_policy(SecretId=name)
    assert (deleted["ARN"], deleted["Name"]) == (arn, name)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


def test_policy_replaces_the_previous_one(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.put_resource_policy(SecretId=name, ResourcePolicy=policy_document())
    second = policy_document({"AWS": "arn:aws:iam::210987654321:root"})
    sm.put_resource_policy(SecretId=name, ResourcePolicy=second)
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == json.loads(second)


def test_malformed_json_policy(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.put_resource_policy(SecretId=name, ResourcePolicy='{"Version": "2012-10-17", "Statement": [')
    assert_error(raised, "MalformedPolicyDocumentException")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


def test_policy_with_an_unknown_version(sm: Any, name: str) -> None:
    # AWS's answer to Version "2019-10-19" (awsdocs/aws-cloudformation-user-guide#623).
    sm.create_secret(Name=name, SecretString="v")
    document = json.loads(policy_document())
    document["Version"] = "2019-10-19"
    with pytest.raises(ClientError) as raised:
        sm.put_resource_policy(SecretId=name, ResourcePolicy=json.dumps(document))
    assert_error(raised, "MalformedPolicyDocumentException", "This policy has invalid syntax.")


def test_block_public_policy(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    public = policy_document("*")
    with pytest.raises(ClientError) as raised:
        sm.put_resource_policy(SecretId=name, ResourcePolicy=public, BlockPublicPolicy=True)
    assert_error(raised, "PublicPolicyException")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)
    with pytest.raises(ClientError) as raised:
        sm.put_resource_policy(SecretId=name, ResourcePolicy=policy_document({"AWS": "*"}), BlockPublicPolicy=True)
    assert_error(raised, "PublicPolicyException")
    # "By default, public policies aren't blocked."
    sm.put_resource_policy(SecretId=name, ResourcePolicy=public)
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == json.loads(public)


def test_block_public_policy_allows_a_named_principal(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.put_resource_policy(SecretId=name, ResourcePolicy=policy_document(), BlockPublicPolicy=True)
    assert "ResourcePolicy" in sm.get_resource_policy(SecretId=name)


def test_validate_a_good_policy(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    before = snapshot(sm, name)
    for kwargs in ({"SecretId": name}, {}):
        checked = sm.validate_resource_policy(ResourcePolicy=policy_document(), **kwargs)
        assert checked["PolicyValidationPassed"] is True
        assert checked["ValidationErrors"] == []
    assert snapshot(sm, name) == before  # validating attaches nothing


def test_validate_a_malformed_policy(sm: Any) -> None:
    try:
        checked = sm.validate_resource_policy(ResourcePolicy='{"Statement": [ not json')
    except ClientError as err:
        assert_error(err, "MalformedPolicyDocumentException")
    else:
        assert checked["PolicyValidationPassed"] is False
        assert checked["ValidationErrors"]


def test_policy_on_missing_secret(sm: Any, name: str) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: sm.get_resource_policy(SecretId=name),
        lambda: sm.put_resource_policy(SecretId=name, ResourcePolicy=policy_document()),
        lambda: sm.delete_resource_policy(SecretId=name),
        lambda: sm.validate_resource_policy(SecretId=name, ResourcePolicy=policy_document()),
    ]
    for call in calls:
        with pytest.raises(ClientError) as raised:
            call()
        assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


# --- GetRandomPassword -----------------------------------------------------------------------------


def password(sm: Any, **kwargs: Any) -> str:
    got: str = sm.get_random_password(**kwargs)["RandomPassword"]
    return got


def test_default_password(sm: Any) -> None:
    # Default length 32; letters, digits and the listed punctuation; one of each by default.
    allowed = set(string.ascii_letters + string.digits + PUNCTUATION)
    for _ in range(20):
        got = password(sm)
        assert len(got) == 32
        assert set(got) <= allowed
        for kind in (string.ascii_uppercase, string.ascii_lowercase, string.digits, PUNCTUATION):
            assert set(got) & set(kind), (got, kind)


def test_passwords_differ(sm: Any) -> None:
    assert len({password(sm) for _ in range(10)}) == 10


@pytest.mark.parametrize(
    ("flag", "forbidden"),
    [
        ("ExcludeNumbers", string.digits),
        ("ExcludePunctuation", PUNCTUATION),
        ("ExcludeUppercase", string.ascii_uppercase),
        ("ExcludeLowercase", string.ascii_lowercase),
    ],
)
def test_each_exclude_flag(sm: Any, flag: str, forbidden: str) -> None:
    got = password(sm, PasswordLength=512, **{flag: True})
    assert len(got) == 512
    assert not set(got) & set(forbidden)


def test_exclude_characters(sm: Any) -> None:
    excluded = "aeiouAEIOU0123@/\"'\\"
    got = password(sm, PasswordLength=1024, ExcludeCharacters=excluded)
    assert not set(got) & set(excluded)


def test_include_space(sm: Any) -> None:
    assert " " not in password(sm, PasswordLength=4096)
    assert " " in password(sm, PasswordLength=4096, IncludeSpace=True)


def test_extreme_lengths(sm: Any) -> None:
    assert len(password(sm, PasswordLength=4096)) == 4096
    assert len(password(sm, PasswordLength=1, RequireEachIncludedType=False)) == 1
    assert len(password(sm, PasswordLength=4)) == 4  # room for one of each of the four types


def test_digits_only(sm: Any) -> None:
    got = password(sm, PasswordLength=64, ExcludePunctuation=True, ExcludeUppercase=True, ExcludeLowercase=True)
    assert set(got) <= set(string.digits)


def test_everything_excluded(sm: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sm.get_random_password(
            ExcludeNumbers=True, ExcludePunctuation=True, ExcludeUppercase=True, ExcludeLowercase=True
        )
    assert_error(raised, "InvalidParameterException")


def test_too_short_for_the_required_types(sm: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sm.get_random_password(PasswordLength=3)
    assert_error(raised, "InvalidParameterException", "Password length is too short based on the required types.")


def test_password_length_out_of_range(sm: Any) -> None:
    # PasswordLengthType is 1..4096: Coral answers before Secrets Manager sees the request.
    with pytest.raises(ClientError) as raised:
        sm.get_random_password(PasswordLength=4097)
    assert_error(
        raised,
        "ValidationException",
        validation(violation("passwordLength", "Member must have value less than or equal to 4096", 4097)),
    )
