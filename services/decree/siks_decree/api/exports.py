"""The frozen beneficiary list as files officials open: CSV and XLSX (interface v1)."""

import csv
import io
from typing import Any

from openpyxl import Workbook

COLUMNS = ["proposal_id", "household_id", "region_code", "kk_number", "head_nik", "head_name", "members", "change", "reason"]


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def as_xlsx(decree: dict[str, Any], rows: list[dict[str, Any]]) -> bytes:
    """Two sheets: the beneficiaries, then the decree they belong to. Identifiers are written
    as text: a NIK or KK number as a number loses its last digits in a spreadsheet."""
    book = Workbook(write_only=True)
    listing = book.create_sheet("beneficiaries")
    listing.append(COLUMNS)
    for row in rows:
        listing.append([row[c] if c == "members" else str(row[c]) for c in COLUMNS])
    about = book.create_sheet("decree")
    for key in ("number", "program", "period", "status", "issued_at", "count", "content_hash", "id"):
        value = decree.get(key)
        about.append([key, "" if value is None else str(value)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
