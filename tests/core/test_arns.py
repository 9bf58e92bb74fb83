import pytest

from tumbler.core.arns import function_arn, function_not_found, parse_function_id

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:rotate-db"


@pytest.mark.parametrize(
    ("identifier", "parsed"),
    [
        ("rotate-db", ("rotate-db", None, None, None)),
        ("rotate-db:$LATEST", ("rotate-db", "$LATEST", None, None)),
        ("123456789012:function:rotate-db", ("rotate-db", None, None, "123456789012")),
        (ARN, ("rotate-db", None, "eu-west-1", "123456789012")),
        (ARN + ":prod", ("rotate-db", "prod", "eu-west-1", "123456789012")),
        ("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f", ("f", None, "us-gov-west-1", "123456789012")),
        ("not a name", ("not a name", None, None, None)),  # kept whole: no function can have it
    ],
)
def test_parse_function_id(identifier: str, parsed: tuple[str, str | None, str | None, str | None]) -> None:
    assert parse_function_id(identifier) == parsed


def test_function_arn_round_trips() -> None:
    assert function_arn("eu-west-1", "123456789012", "rotate-db") == ARN
    assert function_arn("eu-west-1", "123456789012", "rotate-db", "prod") == ARN + ":prod"
    assert parse_function_id(ARN + ":prod")[:2] == ("rotate-db", "prod")


def test_not_found_message_is_lambdas() -> None:
    assert function_not_found(ARN) == f"Function not found: {ARN}"
