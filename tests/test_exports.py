"""Decree exports neutralise formula prefixes (OWASP CSV injection): written, then read back."""

import csv
import io

import pytest
from openpyxl import load_workbook
from siks_decree.api.exports import COLUMNS, as_csv, as_xlsx

DANGEROUS = ["=HYPERLINK(\"http://x\",\"klik\")", "+62 811", "-1+2", "@SUM(A1)", "\tTab", "\rReturn"]
DECREE = {"number": "SK-1/2026", "program": "PKH", "period": "2026-12", "status": "issued",
          "issued_at": "2026-12-16T09:00:00+07:00", "count": 1, "content_hash": "=cmd|' /C calc'!A0", "id": "d1"}


def row(name: str) -> dict[str, object]:
    return {"proposal_id": "p1", "household_id": "h1", "region_code": "32.04.05.2001",
            "kk_number": "3204050911230001", "head_nik": "3204052609800001", "head_name": name, "members": 3}


@pytest.mark.parametrize("name", DANGEROUS, ids=repr)
def test_csv_cells_starting_with_a_formula_prefix_come_back_quoted(name):
    (back,) = csv.DictReader(io.StringIO(as_csv([row(name)]).decode(), newline=""))
    assert back["head_name"] == "'" + name
    assert back["head_nik"] == "3204052609800001" and back["members"] == "3"  # the rest untouched


@pytest.mark.parametrize("name", DANGEROUS, ids=repr)
def test_xlsx_cells_starting_with_a_formula_prefix_are_text_with_a_quote(name):
    book = load_workbook(io.BytesIO(as_xlsx(DECREE, [row(name)])))
    header, values = list(book["beneficiaries"].iter_rows(values_only=True))
    cells = dict(zip(header, values))
    # XML turns a carriage return into a line feed when read; what matters is the leading quote.
    assert cells["head_name"] == "'" + name.replace("\r", "\n")
    assert cells["head_nik"] == "3204052609800001" and cells["members"] == 3
    types = {c.column_letter: c.data_type for c in book["beneficiaries"][2]}
    assert "f" not in types.values()  # no cell became a formula
    about = {k: v for k, v in book["decree"].iter_rows(values_only=True)}
    assert about["content_hash"].startswith("'=")


def test_ordinary_text_is_left_alone():
    (back,) = csv.DictReader(io.StringIO(as_csv([row("Siti Aminah")]).decode(), newline=""))
    assert back["head_name"] == "Siti Aminah" and list(back) == COLUMNS
