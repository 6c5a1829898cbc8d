from __future__ import annotations

import pytest

from service.domain.errors import InvalidInput
from service.domain.validation import check_id


def test_valid_ids_pass_through() -> None:
    assert check_id("s9", "session_id") == "s9"
    assert check_id("user:42@example.com", "user_id") == "user:42@example.com"


@pytest.mark.parametrize("bad", ["s9\n", "", "a{b}", "a b", "a/b", "-leading", "x" * 129])
def test_invalid_ids_name_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_id(bad, "session_id")
    assert err.value.field == "session_id"
