"""Lambda function identifiers: a name, a partial ARN or a full ARN, each with an optional qualifier."""

from __future__ import annotations

import re

# The model's NamespacedFunctionName: a name, a partial ARN (ACCOUNT:function:NAME) or a full ARN,
# each optionally followed by ":QUALIFIER".
_FUNCTION_ID = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[A-Za-z0-9_.-]+)(?::(?P<qualifier>[A-Za-z0-9_$.-]+))?"
)


def parse_function_id(identifier: str) -> tuple[str, str | None, str | None, str | None]:
    """(name, qualifier, region, account) of a function name, partial ARN or ARN."""
    found = _FUNCTION_ID.fullmatch(identifier)
    if found is None:  # the model's pattern was checked already; this is a name we cannot own
        return identifier, None, None, None
    return found["name"], found["qualifier"], found["region"], found["account"]


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def function_not_found(arn: str) -> str:
    """Lambda's message for a function that does not exist."""
    return f"Function not found: {arn}"
