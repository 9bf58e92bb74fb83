import pytest

from tumbler.core.packages import unsafe_member


@pytest.mark.parametrize("name", ["lambda_function.py", "lib/helper.py", "dir/", "a..b.py"])
def test_entries_inside_the_package(name: str) -> None:
    assert not unsafe_member(name)


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape.py", "lib/../../escape.py", "..\\escape.py", "C:/x.py"])
def test_entries_that_would_land_outside(name: str) -> None:
    assert unsafe_member(name)
