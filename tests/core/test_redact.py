from tumbler.core.redact import REDACTED, forms, redact


def test_every_printed_form_is_masked() -> None:
    secret = 'p"ä\\x'
    for shown in (secret, '"p\\"\\u00e4\\\\x"', '"p\\"ä\\\\x"', repr(secret)):
        assert secret not in redact(f"before {shown} after", [secret])
        assert REDACTED in redact(f"before {shown} after", [secret])


def test_longest_first_and_empty_ignored() -> None:
    assert redact("abcdef abc", ["abc", "abcdef", ""]) == f"{REDACTED} {REDACTED}"
    assert forms(["", "xy"]) == ["xy"]
