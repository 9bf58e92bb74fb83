from tumbler.core.aad import key_aad, value_aad

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"


def test_a_value_is_bound_to_its_secret_and_version() -> None:
    assert key_aad(ARN) == ARN.encode()
    assert value_aad(ARN, "v1") == ARN.encode() + b"\0v1"  # the stored format: it may never change
    assert len({value_aad(ARN, "v1"), value_aad(ARN, "v2"), value_aad(ARN + "x", "v1")}) == 3
