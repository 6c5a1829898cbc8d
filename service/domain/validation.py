"""Input rules shared by every entry point (HTTP, CLI, tasks)."""

from __future__ import annotations

import re

from service.domain.errors import InvalidInput

# Ids end up in Redis keys (inside {hash tags}) and payloads: no braces, spaces or slashes.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$"  # also published in the OpenAPI schema
_ID = re.compile(ID_PATTERN)


def check_id(value: str, field: str) -> str:
    """Return `value` if it is a valid identifier, else raise InvalidInput naming `field`."""
    if not _ID.fullmatch(value):
        raise InvalidInput(
            f"{field} must be 1-128 characters of letters, digits and _.:@- "
            f"(starting with a letter or digit), got {value[:40]!r}",
            field=field,
        )
    return value
