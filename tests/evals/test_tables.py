"""Rows pasted, imported and exported: refused whole, in words naming the row and the column."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evals import tables

NAMES = ["city", "country"]


def test_spreadsheet_cells_with_a_header_become_rows():
    pasted = "country\tcity\nFrance\tParis\nJapan\tTokyo\n"
    assert tables.read_pasted(pasted, NAMES) == [
        {"country": "France", "city": "Paris"},
        {"country": "Japan", "city": "Tokyo"},
    ]


def test_spreadsheet_cells_without_a_header_follow_the_variables_order():
    assert tables.read_pasted("Paris\tFrance\nOslo\tNorway", NAMES) == [
        {"city": "Paris", "country": "France"},
        {"city": "Oslo", "country": "Norway"},
    ]


def test_a_quoted_cell_keeps_its_line_breaks():
    rows = tables.read_pasted('city\tcountry\n"Paris\nand around"\tFrance', NAMES)
    assert rows == [{"city": "Paris\nand around", "country": "France"}]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "city,cuntry\nParis,France",
            "Line 1, column 2: “cuntry” matches no variable of the prompt "
            "(its variables: city, country).",
        ),
        (
            "city\nParis",
            "Line 1: no column for “country”; every variable of the prompt needs one "
            "(city, country).",
        ),
        (
            "city,country,city\nParis,France,Lyon",
            "the column “city” appears twice (columns 1 and 3)",
        ),
        ("city,country\nParis,France\nOslo", "Row 3 has 1 cells; the columns are 2"),
        ("city,country\n", "There are no rows under the line of column names."),
    ],
)
def test_csv_mistakes_are_named_by_row_and_column(text, said):
    with pytest.raises(tables.TableRejected, match=None) as refused:
        tables.read_file("cases.csv", text, NAMES)
    assert said in str(refused.value)


def test_too_many_rows_are_refused():
    text = "city,country\n" + "Paris,France\n" * (tables.MAX_ROWS + 1)
    with pytest.raises(tables.TableRejected) as refused:
        tables.read_file("cases.csv", text, NAMES)
    assert str(refused.value) == "1,001 rows is more than the 1,000 a table can hold."


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"city": "Paris", "country": "France"}\n{"city": "Oslo"', "Line 2 is not JSON"),
        ('["Paris", "France"]', "Line 1 is not an object with a key per variable."),
        ('{"city": "Paris", "land": "France"}', "Line 1, column 2: “land” matches no variable"),
    ],
)
def test_jsonl_mistakes_are_named_by_line(text, said):
    with pytest.raises(tables.TableRejected) as refused:
        tables.read_file("cases.jsonl", text, NAMES)
    assert said in str(refused.value)


@pytest.mark.django_db
def test_csv_and_jsonl_exports_import_back_the_same_rows(logged_in, make_prompt, rows):
    prompt = make_prompt("Tell me about {{city}} in {{country}}.")
    rows(
        prompt,
        {"city": 'Paris, "the city"', "country": "France"},
        {"city": "Oslo\nNorth", "country": "Norway"},
    )
    for fmt in ("csv", "jsonl"):
        exported = logged_in.get(reverse(f"case_{fmt}", args=[prompt.pk]))
        assert exported.status_code == 200
        assert "attachment" in exported["Content-Disposition"]
        text = exported.content.decode()
        reader = tables.read_file if fmt == "csv" else tables.read_file
        assert reader(f"x.{fmt}", text, ["city", "country"]) == [
            {"city": 'Paris, "the city"', "country": "France"},
            {"city": "Oslo\nNorth", "country": "Norway"},
        ]


@pytest.mark.django_db
def test_a_refused_import_adds_nothing_and_keeps_the_table(logged_in, make_prompt, rows):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"})
    upload = SimpleUploadedFile("cases.csv", b"text,extra\nOslo,1\n", content_type="text/csv")

    page = logged_in.post(reverse("case_import", args=[prompt.pk]), {"file": upload}, follow=True)

    assert (
        "Nothing was imported. Line 1, column 2: “extra” matches no variable"
        in page.content.decode()
    )
    assert [c.values for c in prompt.test_cases.all()] == [{"text": "Paris"}]


@pytest.mark.django_db
def test_an_imported_file_adds_its_rows_after_the_others(logged_in, make_prompt, rows):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"})
    upload = SimpleUploadedFile("cases.jsonl", b'{"text": "Oslo"}\n{"text": "Rome"}\n')

    page = logged_in.post(reverse("case_import", args=[prompt.pk]), {"file": upload}, follow=True)

    assert "Imported 2 rows." in page.content.decode()
    assert [c.values["text"] for c in prompt.test_cases.all()] == ["Paris", "Oslo", "Rome"]


@pytest.mark.django_db
def test_a_refused_paste_keeps_the_text_to_fix_it(logged_in, make_prompt):
    prompt = make_prompt("{{city}} in {{country}}")
    response = logged_in.post(
        reverse("case_paste", args=[prompt.pk]),
        {"rows": "Paris\tFrance\tEurope"},
        HTTP_HX_REQUEST="true",
    )

    page = response.content.decode()
    assert response.status_code == 422
    assert "Line 1 has 3 cells but the prompt has 2 variables (city, country)" in page
    assert "Paris\tFrance\tEurope</textarea>" in page
    assert not prompt.test_cases.exists()


@pytest.mark.django_db
def test_rows_are_edited_moved_and_deleted(logged_in, make_prompt, rows):
    prompt = make_prompt()
    first, second, third = rows(prompt, {"text": "a"}, {"text": "b"}, {"text": "c"})

    logged_in.post(
        reverse("case_edit", args=[second.pk]), {"var-text": "B"}, HTTP_HX_REQUEST="true"
    )
    logged_in.post(
        reverse("case_move", args=[third.pk]), {"direction": "up"}, HTTP_HX_REQUEST="true"
    )
    logged_in.post(reverse("case_delete", args=[first.pk]), HTTP_HX_REQUEST="true")

    assert [c.values["text"] for c in prompt.test_cases.all()] == ["c", "B"]
