"""The frozen beneficiary list as files officials open: CSV and XLSX (interface v1).

Every text cell is neutralised against formula injection (OWASP "CSV injection"): a cell that
starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading single quote, so a
spreadsheet shows it as text instead of running it. Names are not the only text a list carries."""

import csv
import io
from typing import Any

from openpyxl import Workbook

COLUMNS = ["proposal_id", "household_id", "region_code", "kk_number", "head_nik", "head_name", "members", "change", "reason"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula, prefixed with `'`; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({c: neutralise(row.get(c, "")) for c in COLUMNS} for row in rows)
    return buf.getvalue().encode()


def as_xlsx(decree: dict[str, Any], rows: list[dict[str, Any]]) -> bytes:
    """Two sheets: the beneficiaries, then the decree they belong to. Identifiers are written
    as text: a NIK or KK number as a number loses its last digits in a spreadsheet."""
    book = Workbook(write_only=True)
    listing = book.create_sheet("beneficiaries")
    listing.append(COLUMNS)
    for row in rows:
        listing.append([row.get(c) if c == "members" else neutralise(str(row.get(c, ""))) for c in COLUMNS])
    about = book.create_sheet("decree")
    for key in ("number", "program", "period", "status", "issued_at", "count", "content_hash", "id"):
        value = decree.get(key)
        about.append([key, "" if value is None else neutralise(str(value))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
