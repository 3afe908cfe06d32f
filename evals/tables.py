"""The test-case table as text: pasted spreadsheet cells, CSV and JSONL in and out.

Anything refused is refused whole, in words naming the row and the column, so nothing already
in the table is lost and nothing half-read is added.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.db import transaction
from django.db.models import Max

from evals.models import TestCase
from playground import variables
from workbench.models import Prompt, PromptVersion

MAX_ROWS = 1_000
MAX_BYTES = 2 * 1024 * 1024


class TableRejected(Exception):
    """The text cannot be read as rows of this prompt; the message says where and why."""


def latest_version(prompt: Prompt) -> PromptVersion | None:
    return prompt.versions.order_by("-number").first()


def variables_of(version: PromptVersion | None) -> list[str]:
    """The {{variables}} a version's messages use, in the order they first appear."""
    if version is None:
        return []
    return variables.names_in(variables.texts_of(version.setup.get("messages") or []))


def _listed(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def _check_header(header: list[str], names: list[str], where: str) -> list[str]:
    header = [cell.strip() for cell in header]
    seen: dict[str, int] = {}
    for number, column in enumerate(header, start=1):
        if not column:
            raise TableRejected(f"{where}, column {number} has no name.")
        if column in seen:
            raise TableRejected(
                f"{where}: the column “{column}” appears twice "
                f"(columns {seen[column]} and {number})."
            )
        seen[column] = number
        if column not in names:
            raise TableRejected(
                f"{where}, column {number}: “{column}” matches no variable of the prompt "
                f"(its variables: {_listed(names)})."
            )
    missing = [name for name in names if name not in seen]
    if missing:
        raise TableRejected(
            f"{where}: no column for {', '.join('“' + m + '”' for m in missing)}; "
            f"every variable of the prompt needs one ({_listed(names)})."
        )
    return header


def _check_size(text: str, rows: int) -> None:
    if len(text.encode()) > MAX_BYTES:
        raise TableRejected(f"The file is over {MAX_BYTES // (1024 * 1024)} MB: split it in parts.")
    if rows > MAX_ROWS:
        raise TableRejected(f"{rows:,} rows is more than the {MAX_ROWS:,} a table can hold.")


def _value(text: str, where: str) -> str:
    if len(text) > variables.MAX_VALUE:
        raise TableRejected(f"{where} is over {variables.MAX_VALUE:,} characters.")
    return text


def read_delimited(text: str, names: list[str], *, delimiter: str) -> list[dict[str, str]]:
    """Rows of CSV (or of tab-separated cells, as a spreadsheet copies them).

    The first line names the columns. Pasted cells may leave it out when they have as many
    columns as the prompt has variables: they are then taken in the variables' order.
    """
    text = text.lstrip("\ufeff")
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(row)]
    _check_size(text, 0)
    if not rows:
        raise TableRejected("There are no rows in it.")
    if not names:
        raise TableRejected("The prompt has no {{variables}} yet: write one in its messages first.")
    first = [cell.strip() for cell in rows[0]]
    headed = delimiter == "," or any(cell in names for cell in first)
    if headed:
        header = _check_header(rows.pop(0), names, "Line 1")
        start = 2
    elif len(first) == len(names):
        header, start = names, 1
    else:
        raise TableRejected(
            f"Line 1 has {len(first)} cells but the prompt has {len(names)} variables "
            f"({_listed(names)}): start with a line naming the columns."
        )
    _check_size(text, len(rows))
    found = []
    for number, row in enumerate(rows, start=start):
        if len(row) != len(header):
            raise TableRejected(
                f"Row {number} has {len(row)} cells; the columns are {len(header)} "
                f"({', '.join(header)})."
            )
        found.append(
            {
                column: _value(cell, f"Row {number}, column “{column}”")
                for column, cell in zip(header, row, strict=True)
            }
        )
    if not found:
        raise TableRejected("There are no rows under the line of column names.")
    return found


def read_jsonl(text: str, names: list[str]) -> list[dict[str, str]]:
    """Rows of JSON Lines: one object per line, a key per variable."""
    lines = [
        (n, line) for n, line in enumerate(text.lstrip("\ufeff").splitlines(), 1) if line.strip()
    ]
    _check_size(text, len(lines))
    if not lines:
        raise TableRejected("There are no rows in it.")
    found = []
    for number, line in lines:
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TableRejected(
                f"Line {number} is not JSON: {exc.msg} (column {exc.colno})."
            ) from None
        if not isinstance(data, dict):
            raise TableRejected(f"Line {number} is not an object with a key per variable.")
        _check_header(list(data), names, f"Line {number}")
        row = {}
        for key, value in data.items():
            if not isinstance(value, str):
                value = json.dumps(value, ensure_ascii=False)
            row[key] = _value(value, f"Line {number}, key “{key}”")
        found.append(row)
    return found


def read_file(name: str, text: str, names: list[str]) -> list[dict[str, str]]:
    if name.lower().endswith((".jsonl", ".ndjson", ".json")):
        return read_jsonl(text, names)
    if name.lower().endswith((".tsv", ".txt")):
        return read_delimited(text, names, delimiter="\t")
    return read_delimited(text, names, delimiter=",")


def read_pasted(text: str, names: list[str]) -> list[dict[str, str]]:
    """Cells pasted from a spreadsheet (tab-separated), or CSV typed or pasted by hand."""
    delimiter = "\t" if "\t" in text or len(names) == 1 else ","
    return read_delimited(text, names, delimiter=delimiter)


@transaction.atomic
def add_rows(prompt: Prompt, rows: list[dict[str, str]]) -> list[TestCase]:
    """The rows added after the table's last, all or none."""
    count = prompt.test_cases.count()
    if count + len(rows) > MAX_ROWS:
        raise TableRejected(
            f"The table has {count:,} rows; {len(rows):,} more would pass the "
            f"{MAX_ROWS:,} it can hold."
        )
    last = prompt.test_cases.aggregate(last=Max("position"))["last"]
    start = 0 if last is None else last + 1
    return TestCase.objects.bulk_create(
        TestCase(prompt=prompt, position=start + i, values=row) for i, row in enumerate(rows)
    )


def as_csv(cases: list[TestCase], names: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for case in cases:
        writer.writerow([case.values.get(name, "") for name in names])
    return out.getvalue()


def as_jsonl(cases: list[TestCase], names: list[str]) -> str:
    return "".join(
        json.dumps({name: case.values.get(name, "") for name in names}, ensure_ascii=False) + "\n"
        for case in cases
    )


def jsonl_of(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
