"""Natural order of identities: the digits in a name compare as numbers, so `CP1-2` comes
before `CP1-10` (the API lists identities in code-point order, which its keyset cursor needs;
the dashboard, which reads the whole fleet for its counts anyway, sorts them this way)."""

import re
from functools import lru_cache

DIGITS = re.compile(r"(\d+)")

Number = tuple[int, str]
"""A run of digits, comparable as a number of any length: (how many digits without the
leading zeros, those digits). No int(): a cursor from a URL may hold a million digits."""
NaturalKey = tuple[tuple[str | Number, ...], str]


def natural_key(identity: str) -> NaturalKey:
    """Text parts case-folded, digit runs as numbers; the identity itself breaks ties
    (`CP01` and `CP1`), so that the order is total."""
    parts = DIGITS.split(identity.casefold())
    # split() alternates text and digit runs, text first: like compares with like.
    return tuple(_number(p) if i % 2 else p for i, p in enumerate(parts)), identity


def _number(digits: str) -> Number:
    significant = digits.lstrip("0")
    return len(significant), significant


identity_key = lru_cache(maxsize=2**15)(natural_key)
"""`natural_key` of stored identities (at most 255 characters), kept: the overview sorts
the whole fleet at every refresh. Never for text from a URL, which could fill the cache."""
