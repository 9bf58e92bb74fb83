"""validate(): Coral's wording, paths, ordering and redaction, checked message for message."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest

from tumbler.wire import spec
from tumbler.wire.errors import WireError
from tumbler.wire.validate import java_regex, lower_camel, validate

SECRET = "hunter2-TOP-SECRET-VALUE"
EFS_ACCESS_POINT = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0"


def check(service: str, operation: str, params: dict[str, Any]) -> WireError:
    shape = spec.load(service).operation_model(operation).input_shape
    with pytest.raises(WireError) as caught:
        validate(shape, params, service)
    return caught.value


def message(service: str, operation: str, params: dict[str, Any]) -> str:
    err = check(service, operation, params)
    assert (err.code, err.status) == ("ValidationException", 400)
    return err.message


def one(entry: str) -> str:
    return f"1 validation error detected: {entry}"


def test_valid_params_pass() -> None:
    shape = spec.load("secretsmanager").operation_model("GetSecretValue").input_shape
    validate(shape, {"SecretId": "prod/db", "VersionStage": "AWSCURRENT"}, "secretsmanager")


def test_missing_required() -> None:
    assert message("secretsmanager", "GetSecretValue", {}) == one(
        "Value null at 'secretId' failed to satisfy constraint: Member must not be null"
    )


def test_too_long_and_too_short() -> None:
    assert message("secretsmanager", "GetSecretValue", {"SecretId": "x" * 2049}) == one(
        f"Value '{'x' * 2049}' at 'secretId' failed to satisfy constraint: "
        "Member must have length less than or equal to 2048"
    )
    assert message("secretsmanager", "GetSecretValue", {"SecretId": "s", "VersionId": "abc"}) == one(
        "Value 'abc' at 'versionId' failed to satisfy constraint: Member must have length greater than or equal to 32"
    )


@pytest.mark.parametrize(("value", "text"), [
    (0, "Member must have value greater than or equal to 1"),
    (101, "Member must have value less than or equal to 100"),
])  # fmt: skip
def test_out_of_range(value: int, text: str) -> None:
    assert message("secretsmanager", "ListSecrets", {"MaxResults": value}) == one(
        f"Value '{value}' at 'maxResults' failed to satisfy constraint: {text}"
    )


def test_double_bounds_print_as_the_model_writes_them() -> None:
    params = {"FunctionName": "f", "Name": "live", "FunctionVersion": "1",
              "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.5}}}  # fmt: skip
    assert message("lambda", "CreateAlias", params) == one(
        "Value '{2=1.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, "
        "Member must have value greater than or equal to 0.0, Member must not be null]"
    )


def test_bad_enum() -> None:
    assert message("secretsmanager", "ListSecrets", {"SortOrder": "sideways"}) == one(
        "Value 'sideways' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]"
    )


@pytest.mark.parametrize(("rules", "path", "pattern"), [
    ({"Duration": "3hx"}, "rotationRules.duration", "[0-9]+h"),  # full match: a prefix match is not enough
    ({"Duration": "xh"}, "rotationRules.duration", "[0-9]+h"),
    ({"ScheduleExpression": "rate(1 day);"}, "rotationRules.scheduleExpression",
     "[0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+"),
])  # fmt: skip
def test_bad_pattern(rules: dict[str, str], path: str, pattern: str) -> None:
    value = next(iter(rules.values()))
    assert message("secretsmanager", "RotateSecret", {"SecretId": "s", "RotationRules": rules}) == one(
        f"Value '{value}' at '{path}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )


def test_nested_list_members() -> None:
    params = {"Filters": [{"Key": "name", "Values": ["ok"]}, {"Key": "bogus", "Values": ["a<b", "fine"]}]}
    assert message("secretsmanager", "ListSecrets", params) == (
        "2 validation errors detected: "
        "Value 'bogus' at 'filters.2.member.key' failed to satisfy constraint: Member must satisfy enum value set: "
        "[description, name, tag-key, tag-value, primary-region, owning-service, all]; "
        "Value '[a<b, fine]' at 'filters.2.member.values' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 512, "
        "Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$]"
    )


def test_required_member_inside_a_list() -> None:
    assert message("lambda", "CreateFunction", {
        "FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Code": {},
        "FileSystemConfigs": [{"Arn": EFS_ACCESS_POINT}],
    }) == one("Value null at 'fileSystemConfigs.1.member.localMountPath' failed to satisfy constraint: "
              "Member must not be null")  # fmt: skip


def test_list_length() -> None:
    stages = [f"s{i}" for i in range(21)]
    assert message("secretsmanager", "PutSecretValue", {"SecretId": "s", "VersionStages": stages}) == one(
        f"Value '[{', '.join(stages)}]' at 'versionStages' failed to satisfy constraint: "
        "Member must have length less than or equal to 20"
    )


def test_several_errors_in_model_order() -> None:
    params = {"PasswordLength": 0, "ExcludeCharacters": "x" * 4097}
    assert message("secretsmanager", "GetRandomPassword", params) == (
        "2 validation errors detected: "
        "Value '0' at 'passwordLength' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1; "
        f"Value '{'x' * 4097}' at 'excludeCharacters' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_at_most_ten_errors_are_reported() -> None:
    params = {"SecretIdList": [""] * 3, "Filters": [{"Key": "k", "Values": []} for _ in range(12)]}
    text = message("secretsmanager", "BatchGetSecretValue", params)
    assert text.startswith("10 validation errors detected: ")
    assert text.count("failed to satisfy constraint") == 10
    assert "'filters.1.member.key'" in text
    assert "'filters.9.member.key'" not in text


def test_wrong_case_member_names_are_not_members() -> None:
    assert message("secretsmanager", "GetSecretValue", {"secretId": "s"}) == one(
        "Value null at 'secretId' failed to satisfy constraint: Member must not be null"
    )


def test_lower_camel_lowers_only_the_first_letter() -> None:
    assert (lower_camel("KMSKeyArn"), lower_camel("SecretId"), lower_camel("")) == ("kMSKeyArn", "secretId", "")
    assert message("lambda", "UpdateFunctionConfiguration", {"FunctionName": "f", "KMSKeyArn": "nope"}) == one(
        "Value 'nope' at 'kMSKeyArn' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"
    )


def test_timestamps_and_blobs_are_python_values() -> None:
    shape = spec.load("lambda").operation_model("ListDurableExecutionsByFunction").input_shape
    validate(shape, {"FunctionName": "f", "StartedAfter": datetime.now(UTC)}, "lambda")
    shape = spec.load("secretsmanager").operation_model("PutSecretValue").input_shape
    validate(shape, {"SecretId": "s", "SecretBinary": b"\x00"}, "secretsmanager")


# --- sensitive values --------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "operation", "params", "expected"), [
    ("secretsmanager", "CreateSecret", {"Name": "n", "SecretString": ""},
     "Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    ("secretsmanager", "PutSecretValue", {"SecretId": "s", "SecretString": SECRET * 3000},
     "Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536"),
    ("secretsmanager", "PutSecretValue", {"SecretId": "s", "SecretBinary": SECRET.encode() * 3000},
     "Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to 65536"),
    ("secretsmanager", "PutSecretValue", {"SecretId": "s", "RotationToken": SECRET + "!" * 20},
     "Value at 'rotationToken' failed to satisfy constraint: "
     "Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\-]+$"),
    ("lambda", "UpdateFunctionConfiguration",
     {"FunctionName": "f", "Environment": {"Variables": {"OK": "v", "9" + SECRET: SECRET}}},
     "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: "
     "[Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+, Member must not be null]"),
])  # fmt: skip
def test_sensitive_values_are_never_echoed(service: str, operation: str, params: dict[str, Any], expected: str) -> None:
    text = message(service, operation, params)
    assert text == one(expected)
    assert SECRET not in text
    assert "hunter2" not in text


def test_sensitive_value_hidden_among_other_errors() -> None:
    text = message("secretsmanager", "PutSecretValue", {"SecretId": "", "SecretString": "", "VersionStages": []})
    assert text == (
        "3 validation errors detected: "
        "Value '' at 'secretId' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value '[]' at 'versionStages' failed to satisfy constraint: Member must have length greater than or equal to 1"
    )


def test_container_holding_a_blob_is_not_echoed() -> None:
    params = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r",
              "Code": {"ZipFile": SECRET.encode(), "S3Bucket": "x"}}  # fmt: skip
    text = message("lambda", "CreateFunction", params)
    assert text == one(
        "Value 'x' at 'code.s3Bucket' failed to satisfy constraint: Member must have length greater than or equal to 3"
    )
    assert SECRET not in text


# --- wrong JSON types --------------------------------------------------------------------------


@pytest.mark.parametrize(("operation", "params", "expected"), [
    ("GetSecretValue", {"SecretId": 5}, "NUMBER_VALUE can not be converted to a String"),
    ("GetSecretValue", {"SecretId": 1.5}, "NUMBER_VALUE can not be converted to a String"),
    ("GetSecretValue", {"SecretId": True}, "TRUE_VALUE can not be converted to a String"),
    ("GetSecretValue", {"SecretId": False}, "FALSE_VALUE can not be converted to a String"),
    ("GetSecretValue", {"SecretId": ["s"]}, "Start of list found where not expected"),
    ("GetSecretValue", {"SecretId": {"a": 1}}, "Start of structure or map found where not expected."),
    ("ListSecrets", {"MaxResults": "5"}, "STRING_VALUE can not be converted to an Integer"),
    ("ListSecrets", {"MaxResults": True}, "TRUE_VALUE can not be converted to an Integer"),
    ("ListSecrets", {"MaxResults": 1.5}, "NUMBER_VALUE can not be converted to an Integer"),
    ("GetRandomPassword", {"PasswordLength": "32"}, "STRING_VALUE can not be converted to a Long"),
    ("ListSecrets", {"IncludePlannedDeletion": 1}, "NUMBER_VALUE can not be converted to a Boolean"),
    ("ListSecrets", {"IncludePlannedDeletion": "true"}, "STRING_VALUE can not be converted to an Boolean"),
    ("ListSecrets", {"Filters": "name"}, "Expected list or null"),
    ("ListSecrets", {"Filters": {"Key": "name"}}, "Start of structure or map found where not expected."),
    ("ListSecrets", {"Filters": ["name"]}, "Expected null"),
    ("ListSecrets", {"Filters": [[]]}, "Start of list found where not expected"),
    ("ListSecrets", {"Filters": [{"Key": "name", "Values": [1]}]}, "NUMBER_VALUE can not be converted to a String"),
    ("RotateSecret", {"SecretId": "s", "RotationRules": "daily"}, "Expected null"),
    ("PutSecretValue", {"SecretId": "s", "SecretBinary": 12}, "NUMBER_VALUE can not be converted to a Blob"),
    ("PutSecretValue", {"SecretId": "s", "SecretBinary": SECRET}, "STRING_VALUE can not be converted to a Blob"),
])  # fmt: skip
def test_wrong_type_is_a_serialization_exception(operation: str, params: dict[str, Any], expected: str) -> None:
    err = check("secretsmanager", operation, params)
    assert (err.code, err.message, err.status) == ("SerializationException", expected, 400)


@pytest.mark.parametrize(("params", "expected"), [
    ({"FunctionName": "f", "Tags": ["a"]}, "Start of list found where not expected"),
    ({"FunctionName": "f", "Tags": "a=b"}, "Expected map or null"),
    ({"FunctionName": "f", "Tags": {"a": 1}}, "NUMBER_VALUE can not be converted to a String"),
    ({"FunctionName": "f", "Timeout": "3"}, "STRING_VALUE can not be converted to an Integer"),
])  # fmt: skip
def test_wrong_type_in_lambda(params: dict[str, Any], expected: str) -> None:
    params = {"Role": "arn:aws:iam::123456789012:role/r", "Code": {}, **params}
    err = check("lambda", "CreateFunction", params)
    assert (err.code, err.message) == ("SerializationException", expected)


def test_type_error_anywhere_beats_constraint_errors() -> None:
    err = check("secretsmanager", "ListSecrets", {"MaxResults": 0, "SortOrder": "x", "Filters": [{"Values": [1]}]})
    assert err.code == "SerializationException"


# --- Java regular expressions -------------------------------------------------------------------


def all_patterns() -> list[str]:
    found = set()
    for service in ("secretsmanager", "lambda", "iam", "sts"):
        model = spec.load(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                found.add(pattern)
    return sorted(found)


@pytest.mark.parametrize("pattern", all_patterns())
def test_every_model_pattern_compiles_cleanly(pattern: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FutureWarning on a would-be nested set is a failure too
        java_regex(pattern)


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("[0-9]+h", "12h", True),
    ("\\d+", "١٢", False),  # Java's \d is ASCII-only
    ("[^\\s]+", "a\u00a0b", True),  # and so is \s
    (".*", "a\rb", False),  # Java's '.' stops at \r as well as \n
    (".*", "a\tb", True),
    ("\\p{Alpha}+\\p{Digit}", "abc1", True),
    ("[\\p{Alnum}_]+", "a_1", True),
    ("\\P{Digit}+", "ab", True),
    ("(?<year>\\d{4})-\\k", "", None),
    ("abc\\z", "abc", True),
    ("[a-z[0-9]]", "", None),
    ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", "Équipe 日本 ١٢\u00a0Ⅻ_.:/=+-@", True),  # IAM's tag pattern: Unicode categories
    ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", "a(b)", False),
    ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", "a\tb", False),  # a tab is a control character, not a separator
    ("\\p{Lu}\\P{L}", "É1", True),
    ("\\p{Lu}", "é", False),
    ("[\\P{L}]", "", None),
])  # fmt: skip
def test_java_regex(pattern: str, text: str, matches: bool | None) -> None:
    if matches is None:
        with pytest.raises(ValueError, match=r"unsupported|nested"):
            java_regex(pattern)
        return
    assert (java_regex(pattern).fullmatch(text) is not None) is matches


def test_java_named_groups() -> None:
    compiled = java_regex("(?<year>\\d{4})-(?<=-)(?<!x)\\d")
    found = compiled.fullmatch("2024-5")
    assert found is not None
    assert found.group("year") == "2024"
    assert isinstance(compiled, re.Pattern)
