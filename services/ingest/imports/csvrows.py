"""Stream a CSV upload row by row with exact line numbers, failing loudly on bad encodings."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO

from shared.errors import ValidationFailed, field_error


class CsvEncodingError(ValidationFailed):
    pass


def _decoded_lines(raw: BinaryIO, position: list[int]) -> Iterator[str]:
    for number, line in enumerate(raw, start=1):
        position[0] = number
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CsvEncodingError(
                f"Line {number} is not UTF-8 (byte {exc.start + 1} of the line); save the "
                "file as UTF-8 and import it again. Nothing was imported.",
                errors=[field_error(f"line {number}", "invalid UTF-8", line=number)]) from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def open_csv(raw: BinaryIO) -> tuple[list[str], Iterator[tuple[int, dict[str, str], str | None]]]:
    """The header, and (line number, row, problem) for every data row after it.

    Blank cells are left out of the row, so they never overwrite stored values; a row with
    more cells than the header comes with a problem and is rejected by the caller.
    """
    position = [0]
    reader = csv.reader(_decoded_lines(raw, position))
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

    def rows() -> Iterator[tuple[int, dict[str, str], str | None]]:
        while True:
            start = position[0] + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = position[0]
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
