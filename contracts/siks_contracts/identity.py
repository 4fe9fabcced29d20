"""NIK and KK numbers: parsing with the Dukcapil structure rules, and masking for display.

Both are personal data (UU 27/2022), so no error message here repeats the whole number:
each names only the part that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from .regions import is_known_province, region_exists

_SIXTEEN_DIGITS = re.compile(r"[0-9]{16}")  # ASCII only, unlike \d
_FEMALE_DAY_OFFSET = 40  # Dukcapil adds 40 to a woman's birth day


class InvalidIdentifier(ValueError):
    """A NIK or KK number that breaks a structure rule."""


@dataclass(frozen=True, repr=False)
class NikInfo:
    nik: str
    district_code: str  # dotted PP.KK.CC where the NIK was first issued
    sex: Literal["M", "F"]
    birth_day: int  # 1-31, the 40 for women already taken off
    birth_month: int
    birth_yy: int  # the two digits as written; the century is ambiguous
    birth_date_candidates: tuple[date, ...]  # the real dates among 19YY and 20YY, oldest first
    serial: str
    warnings: tuple[str, ...] = ()

    def matches_birth_date(self, d: date) -> bool:
        """True when d has the NIK's day, month and 2-digit year (in 19YY or 20YY)."""
        return d in self.birth_date_candidates

    def __repr__(self) -> str:
        # Kept free of the full NIK and birth date so that a stray log line leaks nothing.
        return (
            f"NikInfo(nik={mask_nik(self.nik)!r}, district_code={self.district_code!r}, "
            f"sex={self.sex!r}, warnings={self.warnings!r})"
        )


def _sixteen_digits(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidIdentifier(f"{what} must be a string, not {type(value).__name__}")
    digits = value.strip()
    if len(digits) != 16:
        raise InvalidIdentifier(f"{what} must be 16 digits, got {len(digits)} characters")
    if not _SIXTEEN_DIGITS.fullmatch(digits):
        position = next(i for i, ch in enumerate(digits, 1) if ch not in "0123456789")
        raise InvalidIdentifier(f"{what} must be digits only; character {position} is not a digit")
    return digits


def _check_region(digits: str, what: str) -> str:
    """The dotted district PP.KK.CC of the first six digits, refusing what can never be valid."""
    province, regency, district = digits[0:2], digits[2:4], digits[4:6]
    if not is_known_province(province):
        raise InvalidIdentifier(f"{what} province {province} is not a Kemendagri province")
    if regency == "00":
        raise InvalidIdentifier(f"{what} regency/city code 00 is not a regency or city")
    if district == "00":
        raise InvalidIdentifier(f"{what} district code 00 is not a district")
    return f"{province}.{regency}.{district}"


def _dates_in_either_century(day: int, month: int, yy: int, what: str) -> tuple[date, ...]:
    if not 1 <= month <= 12:
        raise InvalidIdentifier(f"{what} month {month:02d} is not a month")
    candidates = []
    for century in (1900, 2000):
        try:
            candidates.append(date(century + yy, month, day))
        except ValueError:
            pass  # e.g. 29 Feb in 1900 but not in 2000
    if not candidates:
        raise InvalidIdentifier(
            f"{what} date {day:02d}-{month:02d} is not a real date in 19{yy:02d} or 20{yy:02d}"
        )
    return tuple(candidates)


def _check_serial(serial: str, what: str) -> None:
    if serial == "0000":
        raise InvalidIdentifier(f"{what} serial 0000 is never issued; serials start at 0001")


def parse_nik(value: str) -> NikInfo:
    """Split a NIK (PP KK CC DDMMYY SSSS) into its parts, or raise InvalidIdentifier."""
    nik = _sixteen_digits(value, "NIK")
    if nik[:15] == "9" * 15:
        raise InvalidIdentifier("NIK 999999999999999x is a form placeholder, not an identity")
    district_code = _check_region(nik, "NIK")

    written_day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if 1 <= written_day <= 31:
        sex, day = "M", written_day
    elif 1 + _FEMALE_DAY_OFFSET <= written_day <= 31 + _FEMALE_DAY_OFFSET:
        sex, day = "F", written_day - _FEMALE_DAY_OFFSET
    else:
        raise InvalidIdentifier(
            f"NIK birth day {written_day:02d} is not a day (01-31 for men, 41-71 for women)"
        )
    candidates = _dates_in_either_century(day, month, yy, "NIK birth")
    _check_serial(nik[12:16], "NIK")

    warnings: tuple[str, ...] = ()
    if not region_exists(district_code):
        # A NIK keeps its code after a region split (pemekaran): not ours to refuse.
        warnings = (
            f"district {district_code} is not in today's Kemendagri list "
            "(the NIK may predate a region split); Dukcapil should confirm",
        )
    return NikInfo(
        nik=nik,
        district_code=district_code,
        sex=sex,
        birth_day=day,
        birth_month=month,
        birth_yy=yy,
        birth_date_candidates=candidates,
        serial=nik[12:16],
        warnings=warnings,
    )


def parse_kk_number(value: str) -> str:
    """Check a KK number (6-digit region, DDMMYY issue date, 4-digit serial); return its digits."""
    kk = _sixteen_digits(value, "KK number")
    _check_region(kk, "KK number")
    # The issue date is written as is: the +40 rule is for a person's sex, a family has none.
    day, month, yy = int(kk[6:8]), int(kk[8:10]), int(kk[10:12])
    if not 1 <= day <= 31:
        raise InvalidIdentifier(f"KK number issue day {day:02d} is not a day (01-31)")
    _dates_in_either_century(day, month, yy, "KK number issue")
    _check_serial(kk[12:16], "KK number")
    return kk


def mask_nik(nik: str) -> str:
    """'3204051508870001' -> '3204**********01': region and last two digits, for display."""
    text = nik.strip()
    if len(text) < 7:  # too short to show anything and still hide most of it
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 6) + text[-2:]


def mask_name(name: str) -> str:
    """'Siti Aminah' -> 'S*** A*****': each word keeps its first letter."""
    return re.sub(r"\S+", lambda word: word[0][0] + "*" * (len(word[0]) - 1), name.strip())
