"""Condition operators, one table per family (IAM User Guide, "IAM JSON policy elements: Condition operators")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.iam.support import condition_holds, identity, session, user
from tumbler.core.iam import MalformedPolicyDocument

Case = tuple[dict[str, Any], dict[str, Any], bool]

STRING: list[Case] = [
    ({"StringEquals": {"aws:username": "alice"}}, {}, True),
    ({"StringEquals": {"aws:username": "Alice"}}, {}, False),  # case-sensitive
    ({"StringEquals": {"aws:username": ["bob", "alice"]}}, {}, True),  # values OR
    ({"StringEquals": {"aws:username": ["bob", "carol"]}}, {}, False),
    ({"StringEquals": {"aws:username": "ali*"}}, {}, False),  # no wildcards in Equals
    ({"StringEquals": {"s3:prefix": "a*"}}, {"s3:prefix": "a*"}, True),
    ({"StringEquals": {"ex:key": ""}}, {"ex:key": ""}, True),
    ({"StringNotEquals": {"aws:username": "bob"}}, {}, True),
    ({"StringNotEquals": {"aws:username": "alice"}}, {}, False),
    ({"StringNotEquals": {"aws:username": ["bob", "alice"]}}, {}, False),  # matches none of the values: NOR
    ({"StringNotEquals": {"aws:username": ["bob", "carol"]}}, {}, True),
    ({"StringNotEquals": {"aws:username": "ALICE"}}, {}, True),
    ({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {}, True),
    ({"StringEqualsIgnoreCase": {"aws:username": "aLiCe"}}, {}, True),
    ({"StringEqualsIgnoreCase": {"aws:username": "alic"}}, {}, False),
    ({"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, {}, False),
    ({"StringNotEqualsIgnoreCase": {"aws:username": ["BOB", "CAROL"]}}, {}, True),
    ({"StringLike": {"aws:username": "ali*"}}, {}, True),
    ({"StringLike": {"aws:username": "a?ice"}}, {}, True),
    ({"StringLike": {"aws:username": "a?ce"}}, {}, False),  # ? is exactly one character
    ({"StringLike": {"aws:username": "*"}}, {}, True),
    ({"StringLike": {"aws:username": "ALI*"}}, {}, False),  # case-sensitive
    ({"StringLike": {"aws:username": "*ic*"}}, {}, True),
    ({"StringLike": {"aws:username": "alice*"}}, {}, True),  # * matches nothing too
    ({"StringLike": {"ex:path": "a*z"}}, {"ex:path": "a/b:c.d\nz"}, True),  # * crosses any character
    ({"StringLike": {"ex:path": "a.c"}}, {"ex:path": "abc"}, False),  # regex characters are literal
    ({"StringLike": {"ex:path": "a+c"}}, {"ex:path": "a+c"}, True),
    ({"StringLike": {"ex:path": "[ab]"}}, {"ex:path": "a"}, False),
    ({"StringLike": {"ex:path": ["x*", "", "home/"]}}, {"ex:path": ""}, True),
    ({"StringNotLike": {"aws:username": "b*"}}, {}, True),
    ({"StringNotLike": {"aws:username": "a*"}}, {}, False),
    ({"StringNotLike": {"aws:username": ["b*", "c*"]}}, {}, True),
    ({"StringNotLike": {"aws:username": ["b*", "a*"]}}, {}, False),
]

NUMERIC: list[Case] = [
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, True),
    ({"NumericEquals": {"s3:max-keys": 10}}, {"s3:max-keys": "10"}, True),  # JSON number in the policy
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, False),
    ({"NumericEquals": {"s3:max-keys": ["5", "10"]}}, {"s3:max-keys": "5"}, True),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),  # not a number: no match
    ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, True),
    ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ({"NumericNotEquals": {"s3:max-keys": ["10", "11"]}}, {"s3:max-keys": "11"}, False),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, True),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "-3.5"}, True),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.001"}, False),
    ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, True),
    ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
    ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "9.99"}, False),
    (
        {"NumericGreaterThanEquals": {"secretsmanager:RecoveryWindowInDays": 7}},
        {"secretsmanager:RecoveryWindowInDays": "30"},
        True,
    ),
]

DATE: list[Case] = [
    (
        {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        {"aws:TokenIssueTime": "2020-06-01T00:00:00Z"},
        True,
    ),
    (
        {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        {"aws:TokenIssueTime": "2019-12-31T23:59:59Z"},
        False,
    ),
    ({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}, {}, False),  # key absent (an IAM user)
    ({"DateLessThan": {"aws:CurrentTime": "2024-06-01T12:00:01Z"}}, {}, True),  # from the request's clock
    ({"DateLessThan": {"aws:CurrentTime": "2024-06-01T12:00:00Z"}}, {}, False),
    ({"DateLessThanEquals": {"aws:CurrentTime": "2024-06-01T12:00:00Z"}}, {}, True),
    ({"DateGreaterThanEquals": {"aws:CurrentTime": "2024-06-01T12:00:00Z"}}, {}, True),
    ({"DateGreaterThan": {"aws:CurrentTime": "2024-06-01T12:00:00Z"}}, {}, False),
    ({"DateEquals": {"aws:CurrentTime": "2024-06-01T12:00:00Z"}}, {}, True),
    ({"DateEquals": {"aws:CurrentTime": "2024-06-01T14:00:00+02:00"}}, {}, True),  # offsets compare as instants
    ({"DateNotEquals": {"aws:CurrentTime": "2024-06-01T12:00:00Z"}}, {}, False),
    ({"DateNotEquals": {"aws:CurrentTime": "2024-06-02T12:00:00Z"}}, {}, True),
    ({"DateEquals": {"aws:CurrentTime": "1717243200"}}, {}, True),  # epoch seconds in the policy
    ({"DateEquals": {"aws:EpochTime": "2024-06-01T12:00:00Z"}}, {}, True),  # epoch in the request
    ({"DateLessThan": {"aws:EpochTime": 1717243201}}, {}, True),
    ({"DateGreaterThan": {"aws:CurrentTime": "2024-05-31"}}, {}, True),  # date only
    ({"DateLessThan": {"aws:CurrentTime": "2024-06-01T12:00:00.500Z"}}, {}, True),
    ({"DateGreaterThan": {"ex:when": "2020-01-01T00:00:00Z"}}, {"ex:when": "not a date"}, False),
]

BOOL_BINARY_IP: list[Case] = [
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, True),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"}, False),
    ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "true"}, True),  # JSON boolean
    ({"Bool": {"aws:SecureTransport": "TRUE"}}, {"aws:SecureTransport": "true"}, True),
    ({"Bool": {"aws:SecureTransport": "false"}}, {}, False),  # missing key: false
    ({"Bool": {"aws:MultiFactorAuthPresent": "false"}}, {"aws:MultiFactorAuthPresent": "false"}, True),
    ({"BinaryEquals": {"ex:blob": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"ex:blob": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}, True),
    ({"BinaryEquals": {"ex:blob": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"ex:blob": "T3RoZXI="}, False),
    ({"BinaryEquals": {"ex:blob": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"ex:blob": "!!"}, False),
    ({"BinaryEquals": {"ex:blob": ["T3RoZXI=", "QQ=="]}}, {"ex:blob": "QQ=="}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.114.7"}, False),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.7"}}, {"aws:SourceIp": "203.0.113.7"}, True),  # no prefix: /32
    ({"IpAddress": {"aws:SourceIp": "203.0.113.7"}}, {"aws:SourceIp": "203.0.113.8"}, False),
    ({"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}}, {"aws:SourceIp": "2001:db8:1234:5678::1"}, True),
    ({"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}}, {"aws:SourceIp": "2001:db8:1234:5679::1"}, False),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "2001:db8::1"}, False),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "garbage"}, False),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {}, False),
    ({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}, {"aws:SourceIp": "192.0.2.200"}, True),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"}, True),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.1"}, False),
    ({"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}, {"aws:SourceIp": "192.0.2.1"}, False),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.255.255.255"}, True),
    ({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, {"aws:SourceIp": "198.51.100.1"}, True),
]

TOPIC = "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"
ARN: list[Case] = [
    ({"ArnEquals": {"aws:SourceArn": TOPIC}}, {"aws:SourceArn": TOPIC}, True),
    ({"ArnEquals": {"aws:SourceArn": TOPIC}}, {"aws:SourceArn": TOPIC + "2"}, False),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}}, {"aws:SourceArn": TOPIC}, True),
    ({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}}, {"aws:SourceArn": TOPIC}, True),  # same as Like
    ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:999999999999:*"}}, {"aws:SourceArn": TOPIC}, False),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:SNS:*:123456789012:*"}}, {"aws:SourceArn": TOPIC}, False),  # case-sensitive
    ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-?:123456789012:TOPIC-ID"}}, {"aws:SourceArn": TOPIC}, True),
    ({"ArnLike": {"aws:SourceArn": TOPIC}}, {"aws:SourceArn": "not-an-arn"}, False),
    ({"ArnNotEquals": {"aws:SourceArn": TOPIC}}, {"aws:SourceArn": TOPIC}, False),
    ({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:999999999999:*"}}, {"aws:SourceArn": TOPIC}, True),
    (
        {"ArnNotLike": {"aws:SourceArn": ["arn:aws:sns:*:999999999999:*", "arn:aws:sns:*:*:TOPIC-*"]}},
        {"aws:SourceArn": TOPIC},
        False,
    ),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/*"}}, {}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, {}, False),
    (
        {"ArnLike": {"secretsmanager:SecretId": "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/*"}},
        {"secretsmanager:SecretId": "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/a:b-AbCdEf"},
        True,  # colons inside the resource part are ordinary characters
    ),
]

# "Amazon Resource Name (ARN) condition operators": StringLike's * crosses colons, ArnLike's does not.
DOC_ARN_PATTERN = "arn:aws:someservice:*:111122223333:finance/*"
DOC_ARN_VALUE = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
ARN += [
    ({"StringLike": {"aws:SourceArn": DOC_ARN_PATTERN}}, {"aws:SourceArn": DOC_ARN_VALUE}, True),
    ({"ArnLike": {"aws:SourceArn": DOC_ARN_PATTERN}}, {"aws:SourceArn": DOC_ARN_VALUE}, False),
]

NULL: list[Case] = [
    ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),  # absent
    ({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, False),
    ({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, True),
    ({"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
    ({"Null": {"aws:TokenIssueTime": True}}, {}, True),
    ({"Null": {"aws:TagKeys": "true"}}, {"aws:TagKeys": []}, True),  # an empty set counts as no value
    ({"Null": {"aws:TagKeys": "false"}}, {"aws:TagKeys": ["a"]}, True),
    ({"Null": {"aws:ResourceTag/Owner": "false"}}, {"aws:ResourceTag/Owner": ""}, True),  # present, if empty
    ({"Null": {"aws:username": "false"}}, {}, True),  # from the principal
    ({"Null": {"aws:username": "true"}}, {}, False),
]

MISSING_KEY: list[Case] = [
    # A missing key makes a condition false, a negated one true; IfExists makes it true.
    ({"StringEquals": {"ex:absent": "x"}}, {}, False),
    ({"StringNotEquals": {"ex:absent": "x"}}, {}, True),
    ({"StringLike": {"ex:absent": "*"}}, {}, False),
    ({"StringNotLike": {"ex:absent": "*"}}, {}, True),
    ({"StringEqualsIgnoreCase": {"ex:absent": "x"}}, {}, False),
    ({"StringNotEqualsIgnoreCase": {"ex:absent": "x"}}, {}, True),
    ({"NumericLessThan": {"ex:absent": "1"}}, {}, False),
    ({"NumericNotEquals": {"ex:absent": "1"}}, {}, True),
    ({"DateNotEquals": {"ex:absent": "2020-01-01"}}, {}, True),
    ({"ArnLike": {"ex:absent": "arn:*"}}, {}, False),
    ({"ArnNotLike": {"ex:absent": "arn:*"}}, {}, True),
    ({"NotIpAddress": {"ex:absent": "10.0.0.0/8"}}, {}, True),
    ({"BinaryEquals": {"ex:absent": "QQ=="}}, {}, False),
    ({"StringEqualsIfExists": {"ex:absent": "x"}}, {}, True),
    ({"StringEqualsIfExists": {"ex:key": "x"}}, {"ex:key": "y"}, False),
    ({"StringEqualsIfExists": {"ex:key": "x"}}, {"ex:key": "x"}, True),
    ({"StringNotEqualsIfExists": {"ex:absent": "x"}}, {}, True),
    ({"StringNotEqualsIfExists": {"ex:key": "x"}}, {"ex:key": "x"}, False),
    ({"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}, {}, True),
    ({"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}, {"ec2:InstanceType": "t2.micro"}, True),
    ({"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}, {"ec2:InstanceType": "m5.large"}, False),
    ({"NumericLessThanIfExists": {"ex:absent": "1"}}, {}, True),
    ({"DateLessThanIfExists": {"ex:absent": "2020-01-01"}}, {}, True),
    ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True),
    ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {"aws:MultiFactorAuthPresent": "false"}, False),
    ({"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}, {}, True),
    ({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*"}}, {}, True),
    ({"BinaryEqualsIfExists": {"ex:absent": "QQ=="}}, {}, True),
]

CASE_RULES: list[Case] = [
    ({"StringEquals": {"AWS:USERNAME": "alice"}}, {}, True),  # key names are case-insensitive
    ({"StringEquals": {"aws:SourceIP": "x"}}, {"AWS:SourceIp": "x"}, True),
    ({"StringEquals": {"aws:ResourceTag/Project": "blue"}}, {"aws:resourcetag/PROJECT": "blue"}, True),  # tag keys too
    ({"StringEquals": {"aws:ResourceTag/Project": "Blue"}}, {"aws:ResourceTag/Project": "blue"}, False),  # values not
    ({"stringequals": {"aws:username": "alice"}}, {}, True),  # operator names as IAM accepts them
]

MULTIPLE: list[Case] = [
    # Operators AND, keys under one operator AND, values OR ("Conditions with multiple context keys or values").
    ({"StringEquals": {"ex:a": "1", "ex:b": "2"}}, {"ex:a": "1", "ex:b": "2"}, True),
    ({"StringEquals": {"ex:a": "1", "ex:b": "2"}}, {"ex:a": "1", "ex:b": "3"}, False),
    ({"StringEquals": {"ex:a": "1"}, "StringLike": {"ex:b": "2*"}}, {"ex:a": "1", "ex:b": "20"}, True),
    ({"StringEquals": {"ex:a": "1"}, "StringLike": {"ex:b": "2*"}}, {"ex:a": "1", "ex:b": "30"}, False),
    ({"StringEquals": {"ex:a": ["1", "2"]}, "NumericLessThan": {"ex:n": "5"}}, {"ex:a": "2", "ex:n": "4"}, True),
    ({"StringEquals": {"ex:a": ["1", "2"]}, "NumericLessThan": {"ex:n": "5"}}, {"ex:a": "2", "ex:n": "6"}, False),
]

SETS: list[Case] = [
    # ForAnyValue: some request value matches some policy value; false on a missing or empty key.
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["b", "z"]}, True),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["y", "z"]}, False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {}, False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": []}, False),
    ({"ForAnyValue:StringLike": {"aws:TagKeys": "Created*"}}, {"aws:TagKeys": ["CreatedBy", "Other"]}, True),
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a", "b"]}, True),  # b is not a
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a"]}, False),
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}, {}, False),
    ({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["a"]}}, {}, True),
    # ForAllValues: every request value matches some policy value; true on a missing or empty key.
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "b"]}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a", "c"]}, False),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": []}, True),
    ({"ForAllValues:StringLike": {"aws:TagKeys": "Created*"}}, {"aws:TagKeys": ["CreatedBy", "CreatedAt"]}, True),
    ({"ForAllValues:StringLike": {"aws:TagKeys": "Created*"}}, {"aws:TagKeys": ["CreatedBy", "Owner"]}, False),
    ({"ForAllValues:StringEqualsIgnoreCase": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["A", "a"]}, True),
    ({"ForAllValues:NumericLessThan": {"ex:sizes": "10"}}, {"ex:sizes": ["1", "9"]}, True),
    ({"ForAllValues:NumericLessThan": {"ex:sizes": "10"}}, {"ex:sizes": ["1", "19"]}, False),
    ({"ForAnyValue:IpAddress": {"ex:ips": "10.0.0.0/8"}}, {"ex:ips": ["192.0.2.1", "10.1.1.1"]}, True),
    (
        {"ForAllValues:ArnLike": {"ex:arns": "arn:aws:sns:*:*:a*"}},
        {"ex:arns": ["arn:aws:sns:r:1:ab", "arn:aws:sns:r:1:ac"]},
        True,
    ),
    ({"forallvalues:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a"]}, True),
    # A single-valued operator on a multivalued key: any value matching; negated, none matching.
    ({"StringEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": ["z", "a"]}, True),
    ({"StringNotEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": ["z", "a"]}, False),
    ({"StringNotEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": ["z", "y"]}, True),
    ({"StringEquals": {"aws:TagKeys": "a"}}, {"aws:TagKeys": []}, False),
]

# "Multivalued context key examples": Deny with ForAllValues:StringNotLike; a match means the Deny applies.
DOC_FORALL_NOT_LIKE: list[Case] = [
    ({"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {"aws:TagKeys": ["key1:legal"]}, False),
    ({"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {"aws:TagKeys": ["key1:hr", "key1:personnel"]}, False),
    ({"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {"aws:TagKeys": ["key2:audit"]}, True),
    ({"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {}, True),
    (
        {"ForAllValues:StringNotLike": {"aws:TagKeys": ["key1*", "key2*"]}},
        {"aws:TagKeys": ["key1:hr", "key2:audit"]},
        False,
    ),
    ({"ForAllValues:StringNotLike": {"aws:TagKeys": ["key1*", "key2*"]}}, {"aws:TagKeys": ["key3:legal"]}, True),
    (
        {"ForAllValues:StringNotLike": {"aws:TagKeys": ["key1*", "key2*"]}},
        {"aws:TagKeys": ["key1:hr", "key3:x"]},
        False,
    ),
]

ALL = (
    STRING
    + NUMERIC
    + DATE
    + BOOL_BINARY_IP
    + ARN
    + NULL
    + MISSING_KEY
    + CASE_RULES
    + MULTIPLE
    + SETS
    + DOC_FORALL_NOT_LIKE
)


@pytest.mark.parametrize(("condition", "context", "expected"), ALL)
def test_condition(condition: dict[str, Any], context: dict[str, Any], expected: bool) -> None:
    assert condition_holds(condition, context, principal=user("alice")) is expected


def test_username_is_absent_for_role_sessions() -> None:
    # aws:username is present only for IAM users.
    assert not condition_holds({"StringLike": {"aws:username": "*"}}, principal=session())
    assert condition_holds({"Null": {"aws:username": "true"}}, principal=session())


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("aws:PrincipalArn", "arn:aws:iam::111122223333:role/app"),  # the role, not the session
        ("aws:userid", "AROAAPPEXAMPLE:s1"),
        ("aws:PrincipalAccount", "111122223333"),
        ("aws:PrincipalType", "AssumedRole"),
        ("aws:PrincipalTag/Team", "blue"),
        ("aws:PrincipalIsAWSService", "false"),
    ],
)
def test_principal_keys_for_a_role_session(key: str, expected: str) -> None:
    assert condition_holds({"StringEquals": {key: expected}}, principal=session(tags={"team": "blue"}))


def test_caller_context_overrides_derived_keys() -> None:
    assert condition_holds({"StringEquals": {"aws:CurrentTime": "fixed"}}, {"AWS:CurrentTime": "fixed"})


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEqualz": {"aws:username": "a"}},
        {"NullIfExists": {"aws:username": "true"}},
        {"ForAnyValue:Null": {"aws:username": "true"}},
        {"ForSomeValues:StringEquals": {"aws:username": "a"}},
        {"Null": {"aws:username": "maybe"}},
        {"NumericEquals": {"s3:max-keys": "ten"}},
        {"NumericEquals": {"s3:max-keys": "NaN"}},
        {"DateEquals": {"aws:CurrentTime": "yesterday"}},
        {"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}},
        {"BinaryEquals": {"ex:blob": "not base64!"}},
        {"StringEquals": {"username": "a"}},  # a key needs a vendor prefix
        {"StringEquals": {"aws:username": {"nested": "object"}}},
        {"StringEquals": {"aws:username": []}},
        {"StringEquals": {"aws:username": None}},
        {"StringEquals": {}},
        {"StringEquals": "aws:username"},
    ],
)
def test_malformed_conditions_are_refused(condition: dict[str, Any]) -> None:
    with pytest.raises(MalformedPolicyDocument):
        identity({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition})


def test_unknown_operator_message() -> None:
    with pytest.raises(MalformedPolicyDocument, match="Invalid Condition type : StringEqualz"):
        identity({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqualz": {"a:b": "c"}}})
