"""Pydantic field types for identifiers and region codes.

Region codes are accepted with or without dots and come out dotted, so their JSON schema
states no pattern (one would refuse the undotted input the validator accepts).

Each validator raises a ValueError subclass, so a bad value surfaces as a pydantic
`value_error` whose message says what is wrong: a 422 the caller can act on.
"""

from __future__ import annotations

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
