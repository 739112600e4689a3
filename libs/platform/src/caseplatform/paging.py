"""Pages of a list RPC, the same way in every service (ADR 0035's paging, shared).

`page_size` 0 answers every match at once, up to a limit the RPC sets (an answer larger than a
gRPC client accepts by default is refused with what to do instead); above `MAX_PAGE` is taken as
`MAX_PAGE`; negative is refused. `next_page_token` is opaque to callers: where the page ended, and
a mark of the filter it was asked with, so a token is never followed under another filter."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from caseplatform.errors import InvalidArgument

MAX_PAGE = 1000  # a larger page_size is taken as this


@dataclass(frozen=True)
class Page:
    size: int | None  # None: every match in one answer (the RPC's own limit applies)
    after: tuple[str, ...] | None  # the sort key the previous page ended at; None: from the start


def page_asked(page_size: int, page_token: str, listing: Message, key_parts: int) -> Page:
    """The page a request asks for, checked field by field. `listing` holds the filter the list
    was asked with, normalised (the same filter always gives the same mark)."""
    if page_size < 0:
        raise InvalidArgument.one("page_size", "must not be negative")
    after = _after(page_token, listing, key_parts)
    if not page_size:
        if after is not None:
            raise InvalidArgument.one("page_size", "is needed with a page_token")
        return Page(None, None)
    return Page(min(page_size, MAX_PAGE), after)


def next_page_token(last: Sequence[str], listing: Message) -> str:
    return base64.urlsafe_b64encode(json.dumps([*last, _mark(listing)]).encode()).decode()


def too_many_for_one_answer(what: str, limit: int) -> InvalidArgument:
    return InvalidArgument.one(
        "page_size", f"is needed: more than {limit:,} {what} match this filter "
        f"(ask for pages of at most {MAX_PAGE:,} and follow next_page_token)")


def _mark(listing: Message) -> str:
    return hashlib.sha256(listing.SerializeToString(deterministic=True)).hexdigest()[:16]


def _after(token: str, listing: Message, key_parts: int) -> tuple[str, ...] | None:
    if not token:
        return None
    try:
        *key, mark = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise InvalidArgument.one("page_token", "is not a token this list gave") from None
    if len(key) != key_parts or not all(isinstance(part, str) for part in key):
        raise InvalidArgument.one("page_token", "is not a token this list gave")
    if mark != _mark(listing):
        raise InvalidArgument.one("page_token", "was given for a different filter")
    return tuple(key)
