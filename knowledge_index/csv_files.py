"""Reading CSV files as people have them: exported from a spreadsheet or written by hand.

`read_csv` accepts a UTF-8 byte-order mark, CRLF (or CR) line ends, quoted fields with line breaks
inside, a ``;`` or tab separator (told by the header), empty trailing columns and empty rows (a
spreadsheet's ``sentence,label,`` and ``,,``), and says what it ignored in `CsvTable.ignored`. A
row it cannot read is refused with a `CsvError` naming the file and the line where the row starts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CsvError", "CsvRow", "CsvTable", "read_csv"]

SEPARATORS = (",", ";", "\t")
_LINES_LISTED = 5  # line numbers named in a note, at most


class CsvError(Exception):
    """An invalid CSV file. ``str(error)`` is ``path:line: message`` (``path: message`` for line 0)."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(path, line, message)
        self.path, self.line, self.message = path, line, message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line > 0 else f"{self.path}: {self.message}"


@dataclass(frozen=True)
class CsvRow:
    line: int  # 1-based line where the row starts (a quoted field may span more)
    fields: tuple[str, ...]  # one per named column, as in the file


@dataclass(frozen=True)
class CsvTable:
    rows: tuple[CsvRow, ...]
    ignored: tuple[str, ...]  # "path: ignored ..." notes, empty when nothing was


def read_csv(path: str | Path, columns: Sequence[str]) -> CsvTable:
    """The rows of a UTF-8 CSV file whose header names `columns` (in this order, any case).

    Cells beyond the named columns must be empty (they are ignored and noted); a row of empty cells
    is ignored and noted; any other row needs exactly one value per column, else `CsvError`."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise CsvError(name, 0, f"cannot read: {error.strerror}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvError(name, 1, "the file is UTF-16: save it as CSV UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CsvError(name, data.count(b"\n", 0, error.start) + 1, "not valid UTF-8 (save it as CSV UTF-8)") from None
    wanted = [column.lower() for column in columns]
    separator = _separator(text, wanted)
    header_text = separator.join(columns)
    rows: list[CsvRow] = []
    empty_lines: list[int] = []
    extra_columns = 0
    header_seen = False
    for line, record in _records(name, text, separator):
        if not any(cell.strip() for cell in record):
            if header_seen:
                empty_lines.append(line)
            continue
        named, beyond = record[: len(columns)], record[len(columns) :]
        if not header_seen:
            if [cell.strip().lower() for cell in named] != wanted or any(cell.strip() for cell in beyond):
                raise CsvError(name, line, f"the header must be {header_text!r}, not {separator.join(record)!r}")
            header_seen = True
            extra_columns = len(beyond)
            continue
        if len(named) < len(columns) or any(cell.strip() for cell in beyond):
            found = max(i for i, cell in enumerate(record, start=1) if cell.strip()) if beyond else len(record)
            raise CsvError(name, line, f"expected {len(columns)} fields ({header_text}), found {found}")
        extra_columns = max(extra_columns, len(beyond))
        rows.append(CsvRow(line, tuple(named)))
    if not header_seen:
        raise CsvError(name, 1, f"empty file: expected the header {header_text!r}")
    ignored = []
    if separator != ",":
        ignored.append(f"{name}: read with {separator!r} between fields")
    if extra_columns > 0:
        ignored.append(f"{name}: ignored {_count(extra_columns, 'empty trailing column')}")
    if empty_lines:
        more = ", ..." if len(empty_lines) > _LINES_LISTED else ""
        listed = ", ".join(map(str, empty_lines[:_LINES_LISTED])) + more
        ignored.append(f"{name}: ignored {_count(len(empty_lines), 'empty row')} (line {listed})")
    return CsvTable(tuple(rows), tuple(ignored))


def _records(name: str, text: str, separator: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on; a broken record raises `CsvError` at that line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CsvError(name, start, f"invalid CSV: {error}") from None
        yield start, record
        start = reader.line_num + 1


def _separator(text: str, wanted: list[str]) -> str:
    """The separator the header line uses: ``,`` unless ``;`` or a tab splits it into the columns."""
    header = next((line for line in text.splitlines() if line.strip(" ,;\t")), "")
    for separator in SEPARATORS:
        cells = [cell.strip().strip('"').strip().lower() for cell in header.split(separator)]
        while cells and not cells[-1]:
            cells.pop()
        if cells == wanted:
            return separator
    return ","


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"
