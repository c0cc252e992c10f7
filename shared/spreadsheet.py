"""CSV cells that a spreadsheet would run as formulas, made inert for every CSV export
(OWASP "CSV Injection"). Imports store cells as sent; only what is written out for people
to open is neutralised, here, so every exporter does it the same way."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# A leading =, +, -, @ starts a formula in Excel, LibreOffice and Google Sheets; a leading
# tab or carriage return is stripped by some of them, exposing what follows.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain number ("-12.5", "+3e2") is data, not a formula: left as it is so exports of
# amounts and indexes stay numbers.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(cell: Any) -> Any:
    """``cell`` with a leading apostrophe when a spreadsheet would evaluate it; other values
    (numbers, None, harmless text) unchanged."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START) \
            and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def neutralise_row(cells: Iterable[Any]) -> list[Any]:
    """A row for ``csv.writer.writerow``."""
    return [neutralise(cell) for cell in cells]


def neutralise_record(record: dict[str, Any]) -> dict[str, Any]:
    """A row for ``csv.DictWriter.writerow`` (the header names are neutralised too by
    writing them through :func:`neutralise_row`)."""
    return {key: neutralise(value) for key, value in record.items()}
