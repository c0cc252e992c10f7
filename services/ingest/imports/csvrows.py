"""Stream a CSV upload row by row with exact line numbers and bounded memory, failing loudly
on bad encodings, unterminated quotes and rows past the configured size."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from shared.errors import ValidationFailed, field_error


class CsvEncodingError(ValidationFailed):
    pass


@dataclass(frozen=True)
class CsvLimits:
    """A row (a CSV record: several lines when a quoted cell holds line breaks) is read
    whole before it is checked, so its size in bytes is what bounds memory."""

    max_row_bytes: int = 1024 * 1024
    max_columns: int = 500


class _Lines:
    """The upload as decoded lines, never reading more than a row's limit at once."""

    def __init__(self, raw: BinaryIO, limits: CsvLimits) -> None:
        self.raw, self.limits = raw, limits
        self.number = 0  # the last line read
        self.row_bytes = 0  # bytes of the row being read so far

    def __iter__(self) -> Iterator[str]:
        limit = self.limits.max_row_bytes
        while line := self.raw.readline(limit - self.row_bytes + 1):
            self.number += 1
            self.row_bytes += len(line)
            if self.row_bytes > limit:
                raise ValidationFailed(
                    f"Line {self.number} ends a row longer than {limit} bytes (without a line "
                    "break, or inside a quoted cell). Nothing was imported.",
                    errors=[field_error(f"line {self.number}", f"a row is at most {limit} "
                                        "bytes", line=self.number)])
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CsvEncodingError(
                    f"Line {self.number} is not UTF-8 (byte {exc.start + 1} of the line); save "
                    "the file as UTF-8 and import it again. Nothing was imported.",
                    errors=[field_error(f"line {self.number}", "invalid UTF-8",
                                        line=self.number)]) from None
            yield text.removeprefix("\ufeff") if self.number == 1 else text


def open_csv(raw: BinaryIO, limits: CsvLimits | None = None
             ) -> tuple[list[str], Iterator[tuple[int, dict[str, str], str | None]]]:
    """The header, and (line number, row, problem) for every data row after it.

    Blank cells are left out of the row, so they never overwrite stored values; a row with
    more cells than the header comes with a problem and is rejected by the caller.
    """
    limits = limits or CsvLimits()
    lines = _Lines(raw, limits)
    # strict: a quoted cell still open at the end of the file is an error, not a cell.
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed("The file is empty: a header row is required.",
                               errors=[field_error("line 1", "header row missing",
                                                   line=1)]) from None
    except csv.Error as exc:
        raise ValidationFailed(f"The header row is not valid CSV: {exc}.",
                               errors=[field_error("line 1", str(exc), line=1)]) from None
    names = [name.strip() for name in header]
    if not any(names):
        raise ValidationFailed("The header row is empty.",
                               errors=[field_error("line 1", "header row is empty", line=1)])
    if len(names) > limits.max_columns:
        raise ValidationFailed(
            f"The header has {len(names)} columns; at most {limits.max_columns}.",
            errors=[field_error("line 1", f"at most {limits.max_columns} columns", line=1)])

    def rows() -> Iterator[tuple[int, dict[str, str], str | None]]:
        while True:
            start = lines.number + 1
            lines.row_bytes = 0
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = lines.number
                raise ValidationFailed(
                    f"Line {line} is not valid CSV: {exc}. Nothing was imported.",
                    errors=[field_error(f"line {line}", str(exc), line=line)]) from None
            if not any(cell.strip() for cell in cells):
                continue
            problem = (f"{len(cells)} cells but the header has {len(names)} columns"
                       if len(cells) > len(names) else None)
            yield start, {name: cell.strip() for name, cell in zip(names, cells, strict=False)
                          if name and cell.strip()}, problem

    return names, rows()


def require_columns(header: list[str], required: set[str]) -> None:
    missing = sorted(required - set(header))
    if missing:
        raise ValidationFailed(
            f"The header lacks required columns: {', '.join(missing)}.",
            errors=[field_error(f"header.{name}", "required column is missing", line=1)
                    for name in missing])
