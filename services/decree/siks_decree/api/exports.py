"""The frozen beneficiary list as files officials open: CSV and XLSX (interface v1), written
as the rows are read, so memory stays flat in the list's size.

Every text cell is neutralised against formula injection (OWASP "CSV injection"): a cell that
starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading single quote, so a
spreadsheet shows it as text instead of running it. Names are not the only text a list carries.

CSV goes out a batch of rows per chunk. XLSX is written with openpyxl's write-only workbook
(each row goes to a temporary file as it is appended; strings are inline, no shared-string
table grows) in a worker thread, never on the event loop, into a temporary file that is then
streamed and removed."""

import asyncio
import csv
import io
import json
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

from openpyxl import Workbook

COLUMNS = ["proposal_id", "household_id", "region_code", "kk_number", "head_nik", "head_name", "members", "change", "reason"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 1000  # rows per CSV chunk and per hand-over to the XLSX writer's thread
FILE_CHUNK = 256 * 1024  # bytes per piece of a finished file sent


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula, prefixed with `'`; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_text(rows: Iterable[dict[str, Any]], header: bool) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    if header:
        writer.writeheader()
    writer.writerows({c: neutralise(row.get(c, "")) for c in COLUMNS} for row in rows)
    return buf.getvalue().encode()


def as_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    """A whole (small) list as CSV; the same bytes `csv_stream` sends."""
    return _csv_text(rows, header=True)


async def _batches(rows: AsyncIterable[dict[str, Any]], size: int = CHUNK_ROWS) -> AsyncIterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def csv_stream(rows: AsyncIterable[dict[str, Any]]) -> AsyncIterator[bytes]:
    """The header, then a chunk per batch of rows, as they are read."""
    yield _csv_text((), header=True)
    async for batch in _batches(rows):
        yield _csv_text(batch, header=False)


def _xlsx_cells(row: dict[str, Any]) -> list[Any]:
    # Identifiers as text: a NIK or KK number as a number loses its last digits in a spreadsheet.
    return [row.get(c) if c == "members" else neutralise(str(row.get(c, ""))) for c in COLUMNS]


class XlsxWriter:
    """Two sheets: the beneficiaries, then the decree they belong to. Rows are appended as they
    come; `save` writes the file. Blocking: call it from a worker thread."""

    def __init__(self) -> None:
        self._book = Workbook(write_only=True)
        self._listing = self._book.create_sheet("beneficiaries")
        self._listing.append(COLUMNS)

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self._listing.append(_xlsx_cells(row))

    def save(self, decree: dict[str, Any], target: Any) -> None:
        about = self._book.create_sheet("decree")
        for key in ("number", "program", "period", "status", "issued_at", "count", "content_hash", "id"):
            value = decree.get(key)
            about.append([key, "" if value is None else neutralise(str(value))])
        self._book.save(target)


def as_xlsx(decree: dict[str, Any], rows: Iterable[dict[str, Any]]) -> bytes:
    """A whole (small) list as XLSX bytes; the same workbook `xlsx_file` writes."""
    writer, out = XlsxWriter(), io.BytesIO()
    writer.append(rows)
    writer.save(decree, out)
    return out.getvalue()


async def xlsx_file(decree: dict[str, Any], rows: AsyncIterable[dict[str, Any]]) -> str:
    """Writes the workbook to a temporary file off the event loop, a batch of rows per hand-over
    to a worker thread, and returns its path (the caller streams and removes it)."""
    fd, path = tempfile.mkstemp(prefix="siks-decree-", suffix=".xlsx")
    os.close(fd)
    try:
        writer = await asyncio.to_thread(XlsxWriter)
        async for batch in _batches(rows):
            await asyncio.to_thread(writer.append, batch)
        await asyncio.to_thread(writer.save, decree, path)
    except BaseException:
        os.unlink(path)
        raise
    return path


async def file_stream(path: str) -> AsyncIterator[bytes]:
    """A finished file in pieces (read off the event loop), removed once sent or abandoned."""
    try:
        with open(path, "rb") as f:
            while chunk := await asyncio.to_thread(f.read, FILE_CHUNK):
                yield chunk
    finally:
        os.unlink(path)


async def json_stream(decree: dict[str, Any], rows: AsyncIterable[dict[str, Any]]) -> AsyncIterator[bytes]:
    """The list as one JSON object (`{decree, items, count}`), written a batch at a time."""
    yield b'{"decree":' + json.dumps(decree, separators=(",", ":")).encode() + b',"items":['
    count = 0
    async for batch in _batches(rows):
        text = ",".join(json.dumps(row, separators=(",", ":"), ensure_ascii=False) for row in batch)
        yield ((b"," if count else b"") + text.encode())
        count += len(batch)
    yield b'],"count":' + str(count).encode() + b"}"
