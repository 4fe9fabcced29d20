"""Pydantic field types for identifiers and region codes.

Region codes are accepted with or without dots and come out dotted, so their JSON schema
states no pattern (one would refuse the undotted input the validator accepts).

Each validator raises a ValueError subclass, so a bad value surfaces as a pydantic
`value_error` whose message says what is wrong: a 422 the caller can act on.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from .identity import parse_kk_number, parse_nik
from .regions import require_region, require_village


def _nik(value: str) -> str:
    return parse_nik(value).nik


Nik = Annotated[
    str,
    AfterValidator(_nik),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{16}$",
            "description": "NIK, 16 digits: PP KK CC DDMMYY SSSS (day + 40 for women)",
        }
    ),
]

KkNumber = Annotated[
    str,
    AfterValidator(parse_kk_number),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{16}$",
            "description": "KK (family card) number, 16 digits: region, DDMMYY issue date, serial",
        }
    ),
]

VillageCode = Annotated[
    str,
    AfterValidator(require_village),
    WithJsonSchema(
        {
            "type": "string",
            "description": "Kemendagri village (desa/kelurahan) code, stored dotted PP.KK.CC.DDDD; dots optional on input",
        }
    ),
]

RegionCode = Annotated[
    str,
    AfterValidator(require_region),
    WithJsonSchema(
        {
            "type": "string",
            "description": "Kemendagri region code at any level, stored dotted (PP, PP.KK, PP.KK.CC, PP.KK.CC.DDDD)",
        }
    ),
]

# Same check as RegionCode; a separate name so schemas say the value bounds a user's reach.
RegionScope = Annotated[
    str,
    AfterValidator(require_region),
    WithJsonSchema(
        {
            "type": "string",
            "description": "Scope: a Kemendagri region code at any level, covering everything under it",
        }
    ),
]


# ---------------------------------------------------------------- names and free text
# Control (Cc), format (Cf: bidi overrides, zero-width) and unassigned characters are how a
# name or note hides what it says from the person reading it; they are refused, never stripped.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_NAME_PUNCTUATION = frozenset(" '.,-")


def _refuse_hidden(value: str, what: str, allow: frozenset[str] = frozenset()) -> None:
    for position, ch in enumerate(value, start=1):
        if ch not in allow and unicodedata.category(ch) in _REFUSED_CATEGORIES:
            raise ValueError(f"{what} holds a control or invisible character at position {position} "
                             f"(U+{ord(ch):04X})")


def _person_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("a name must not be empty")
    _refuse_hidden(value, "the name")
    for position, ch in enumerate(value, start=1):
        if ch not in _NAME_PUNCTUATION and unicodedata.category(ch)[0] not in "LM":
            raise ValueError(f"a name holds letters, marks, spaces and ' . , - only; character {position} is not one")
    return value


def _free_text(value: str) -> str:
    _refuse_hidden(value, "the text", allow=frozenset("\n\t"))
    return value.strip()


PersonName = Annotated[
    str,
    AfterValidator(_person_name),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 120,
                    "description": "letters of any script, combining marks, spaces and ' . , -; trimmed"}),
]

FreeText = Annotated[
    str,
    AfterValidator(_free_text),
    WithJsonSchema({"type": "string", "description": "text without control, bidi or zero-width characters "
                                                     "(newline and tab allowed)"}),
]
