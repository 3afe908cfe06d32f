"""The tool library: schemas from simple rows and back, checks, import/export, pages."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction

from playground import tools
from playground.forms.schemas import ParametersEditor
from playground.models import ToolClash, ToolDefinition, import_tools

pytestmark = pytest.mark.django_db

WEATHER = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City and country, e.g. Paris, France"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}


@pytest.fixture
def weather(user):
    return ToolDefinition.objects.create(
        owner=user,
        name="get_current_weather",
        description="The weather now.",
        parameters=WEATHER,
        canned_result='{"temperature": 18}',
    )


def weather_rows(**extra) -> dict[str, str]:
    """The simple form filled in as a person builds get_current_weather."""
    return {
        "shown_mode": "simple",
        "mode": "simple",
        "prop-0-name": "location",
        "prop-0-type": "string",
        "prop-0-description": "City and country, e.g. Paris, France",
        "prop-0-required": "on",
        "prop-1-name": "unit",
        "prop-1-type": "string",
        "prop-1-enum": "celsius, fahrenheit",
        **extra,
    }


# ---- Schemas from rows and back --------------------------------------------------------------


def test_rows_build_an_object_schema_with_required_names_in_order():
    rows = [
        tools.Property("location", "string", "City and country, e.g. Paris, France", True),
        tools.Property("unit", "string", enum=["celsius", "fahrenheit"]),
    ]
    assert tools.build_schema(rows) == WEATHER
    assert tools.build_schema([]) == {"type": "object", "properties": {}}


def test_a_schema_built_from_rows_reads_back_as_the_same_rows():
    rows = [
        tools.Property("city", "string", "Where", True),
        tools.Property("days", "integer", enum=[1, 3, 7]),
        tools.Property("threshold", "number", enum=[0.5, 2]),
        tools.Property("metric", "boolean", "Use metric units"),
        tools.Property("tags", "array"),
        tools.Property("extra", "object", required=True),
    ]
    schema = tools.build_schema(rows)
    assert tools.simple_properties(schema) == rows
    assert tools.build_schema(tools.simple_properties(schema)) == schema


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}},
        {"type": "object", "properties": {"a": {"type": ["string", "null"]}}},
        {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
        {"type": "object", "properties": {"a": {"type": "string", "enum": ["x, y"]}}},
        {"type": "object", "properties": {"a": {"type": "string", "description": "two\nlines"}}},
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]},
        {"type": "object", "properties": {"a": {"type": "boolean", "enum": [True]}}},
        {"type": "object", "properties": {"a": {"type": "integer", "enum": [1.5]}}},
    ],
)
def test_schemas_the_rows_cannot_show_are_left_to_json(schema):
    assert tools.simple_properties(schema) is None


def test_enum_text_is_typed_by_the_property_type():
    assert tools.parse_enum(" celsius,fahrenheit ,", "string") == ["celsius", "fahrenheit"]
    assert tools.parse_enum("1, -2", "integer") == [1, -2]
    assert tools.parse_enum("1, 2.5", "number") == [1, 2.5]
    with pytest.raises(ValueError, match="“x” is not a whole number"):
        tools.parse_enum("1, x", "integer")
    with pytest.raises(ValueError, match="listed twice"):
        tools.parse_enum("a, a", "string")
    with pytest.raises(ValueError, match="text and numbers only"):
        tools.parse_enum("true", "boolean")


def test_signature_marks_optional_arguments():
    assert tools.signature("get_current_weather", WEATHER) == "get_current_weather(location, unit?)"


# ---- Checking against the meta-schema --------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        (
            {"type": "object", "properties": {"unit": {"type": "string", "enum": "celsius"}}},
            "properties → unit → enum: must be a list ([…])",
        ),
        (
            {"type": "object", "properties": {"unit": {"type": "strin"}}},
            "properties → unit → type: must be one of string, number, integer, boolean, array, "
            'object, null (or a list of them), not "strin"',
        ),
        ({"type": "object", "required": "unit"}, "required: must be a list ([…])"),
        (
            {"type": "object", "required": ["a", "a"]},
            "required: must not list the same value twice",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string", "maxLength": -1}}},
            "properties → a → maxLength: must be at least 0",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}},
            "properties → a → pattern: is not a valid regular expression",
        ),
        ({"type": "string"}, 'type: must be "object" (arguments are an object)'),
        ([], 'top level: must be an object ({…}) with "type": "object"'),
    ],
)
def test_schema_problems_say_where_and_what_in_plain_words(schema, problem):
    assert problem in tools.schema_problems(schema)


def test_a_good_schema_has_no_problems_in_any_draft():
    assert tools.schema_problems(WEATHER) == []
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **WEATHER}
    assert tools.schema_problems(draft7) == []


def test_arguments_are_checked_against_the_tools_schema():
    assert tools.argument_problems(WEATHER, '{"location": "Paris"}') == []
    assert tools.argument_problems(WEATHER, '{"unit": "kelvin"}') == [
        "location: is required but missing",
        'unit: must be one of "celsius", "fahrenheit"',
    ]
    assert tools.argument_problems(WEATHER, '{"location": ') == [
        "The arguments are not valid JSON: Expecting value."
    ]


# ---- The model -------------------------------------------------------------------------------


def test_tool_names_are_unique_per_owner(user, other_user, weather):
    ToolDefinition.objects.create(owner=other_user, name=weather.name)  # someone else: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        ToolDefinition.objects.create(owner=user, name=weather.name)


@pytest.mark.parametrize("name", ["get weather", "météo", "a" * 65, "", "a.b"])
def test_tool_names_follow_the_function_name_rule(user, name):
    tool = ToolDefinition(owner=user, name=name)
    with pytest.raises(ValidationError) as caught:
        tool.full_clean()
    assert "name" in caught.value.message_dict
    # A check constraint; on PostgreSQL the column's length refuses a long name first.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        tool.save()  # the database refuses it too


def test_as_openai_sends_strict_only_when_on(weather):
    assert weather.as_openai() == {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "The weather now.",
            "parameters": WEATHER,
        },
    }
    weather.strict = True
    assert weather.as_openai()["function"]["strict"] is True


def test_duplicates_take_the_next_free_copy_name(weather):
    first, second = weather.duplicate(), weather.duplicate()
    assert (first.name, second.name) == ("get_current_weather_copy", "get_current_weather_copy2")
    assert second.parameters == WEATHER and second.canned_result == weather.canned_result
    long = ToolDefinition.objects.create(owner=weather.owner, name="x" * 64)
    assert long.duplicate().name == "x" * 59 + "_copy"


# ---- Import and export -----------------------------------------------------------------------


def test_import_reads_one_wrapped_tool_or_a_bare_list():
    wrapped = {
        "type": "function",
        "function": {"name": "get_current_weather", "parameters": WEATHER},
    }
    [spec] = tools.parse_tools(json.dumps(wrapped))
    assert spec.name == "get_current_weather" and spec.parameters == WEATHER
    bare = [{"name": "a", "description": "A"}, {"name": "b", "parameters": WEATHER, "strict": True}]
    a, b = tools.parse_tools(json.dumps(bare))
    assert a.parameters == {"type": "object", "properties": {}} and b.strict
    body = {"model": "m", "messages": [], "tools": [wrapped]}
    assert [s.name for s in tools.parse_tools(json.dumps(body))] == ["get_current_weather"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{", "The JSON is not valid JSON: Expecting property name enclosed in double quotes"),
        ("[]", "The list is empty"),
        ('[{"name": "ok"}, {"name": "bad name"}]', "Tool 2 (bad name): “bad name” cannot be"),
        (
            '[{"name": "ok"}, {"name": "w", "parameters": {"type": "object", "required": "x"}}]',
            "Tool 2 (w): parameters → required: must be a list ([…]).",
        ),
        ('{"type": "custom", "name": "x"}', 'The tool (x): type must be "function"'),
        ('[{"name": "a"}, {"name": "a"}]', "Tool 2 (a): tool 1 has the same name."),
    ],
)
def test_bad_imports_name_the_tool_and_the_problem(text, message):
    with pytest.raises(tools.ToolsRejected) as caught:
        tools.parse_tools(text)
    assert message in str(caught.value)


def test_a_bad_tool_imports_nothing(logged_in, user):
    text = json.dumps([{"name": "good"}, {"name": "bad", "parameters": {"type": "array"}}])
    response = logged_in.post("/tools/import/", {"text": text, "on_clash": "copy"})
    page = response.content.decode()
    assert response.status_code == 422
    assert "Nothing was imported." in page and "Tool 2 (bad): parameters → type" in page
    assert not ToolDefinition.objects.filter(owner=user).exists()


def test_import_clashes_become_copies_replace_or_stop(user, weather):
    spec = tools.ToolSpec("get_current_weather", "New text", WEATHER)
    assert import_tools(user, [spec]) == [
        "get_current_weather was already taken, so it was imported as get_current_weather_copy."
    ]
    with pytest.raises(tools.ToolsRejected, match="You already have a tool named"):
        import_tools(user, [tools.ToolSpec("fresh"), spec], on_clash=ToolClash.STOP)
    assert not ToolDefinition.objects.filter(name="fresh").exists()
    import_tools(user, [spec], on_clash=ToolClash.REPLACE)
    weather.refresh_from_db()
    assert weather.description == "New text" and weather.canned_result == '{"temperature": 18}'


def test_export_then_import_gives_the_same_tools(logged_in, user, other_user, weather):
    weather.duplicate()
    ToolDefinition.objects.create(owner=user, name="strict_one", strict=True)
    response = logged_in.get("/tools/export/")
    assert response["Content-Disposition"] == 'attachment; filename="hexplay-tools.json"'
    exported = json.loads(response.content)
    assert [t["function"]["name"] for t in exported] == [
        "get_current_weather",
        "get_current_weather_copy",
        "strict_one",
    ]
    import_tools(other_user, tools.parse_tools(response.content.decode()))
    theirs = [t.as_openai() for t in ToolDefinition.objects.filter(owner=other_user)]
    assert theirs == exported


def test_one_tool_exports_as_a_list_of_one(logged_in, weather):
    response = logged_in.get(f"/tools/{weather.pk}/export/")
    assert 'filename="get_current_weather.json"' in response["Content-Disposition"]
    assert json.loads(response.content) == [weather.as_openai()]


# ---- The parameters editor -------------------------------------------------------------------


def test_rows_and_json_stay_in_sync():
    from_rows = ParametersEditor.from_post(weather_rows())
    assert from_rows.schema == WEATHER
    assert json.loads(from_rows.json_text) == WEATHER
    from_json = ParametersEditor.from_post(
        {"shown_mode": "json", "mode": "simple", "parameters_json": from_rows.json_text}
    )
    assert from_json.mode == "simple"
    assert [(r.name, r.enum, r.required) for r in from_json.rows] == [
        ("location", "", True),
        ("unit", "celsius, fahrenheit", False),
    ]


def test_json_the_rows_cannot_show_keeps_json_mode():
    schema = {**WEATHER, "additionalProperties": False}
    editor = ParametersEditor.from_post(
        {"shown_mode": "json", "mode": "simple", "parameters_json": json.dumps(schema)}
    )
    assert editor.mode == "json" and editor.schema == schema and not editor.representable
    assert editor.refusal


def test_rows_with_mistakes_say_so_and_save_nothing():
    editor = ParametersEditor.from_post(
        weather_rows(**{"prop-1-name": "location", "prop-1-type": "integer"})
    )
    assert editor.schema is None
    assert editor.rows[1].errors == [
        "Allowed values: “celsius” is not a whole number.",
        "Name: another property already has this name.",
    ]


def test_add_and_remove_rows_redraw_without_saving():
    added = ParametersEditor.from_post(weather_rows(action="add"))
    assert len(added.rows) == 3 and added.focus == 2 and not added.saving
    removed = ParametersEditor.from_post(weather_rows(remove_row="0"))
    assert [r.name for r in removed.rows] == ["unit"] and not removed.saving


# ---- Pages -----------------------------------------------------------------------------------


def test_every_tool_page_asks_for_a_log_in(client, weather):
    for url in ["/tools/", "/tools/new/", f"/tools/{weather.pk}/", "/tools/export/"]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/")


def test_someone_elses_tool_is_not_found_on_every_url(logged_in, other_user):
    theirs = ToolDefinition.objects.create(owner=other_user, name="secret_tool")
    pk = theirs.pk
    assert logged_in.get(f"/tools/{pk}/").status_code == 404
    assert logged_in.post(f"/tools/{pk}/", weather_rows(name="mine")).status_code == 404
    assert logged_in.post(f"/tools/{pk}/duplicate/").status_code == 404
    assert logged_in.get(f"/tools/{pk}/delete/").status_code == 404
    assert logged_in.post(f"/tools/{pk}/delete/").status_code == 404
    assert logged_in.get(f"/tools/{pk}/export/").status_code == 404
    assert "secret_tool" not in logged_in.get("/tools/").content.decode()
    assert "secret_tool" not in logged_in.get("/tools/export/").content.decode()
    assert ToolDefinition.objects.filter(owner=other_user).count() == 1
    theirs.refresh_from_db()
    assert theirs.name == "secret_tool"


def test_create_a_tool_with_the_simple_form(logged_in, user):
    page = logged_in.get("/tools/new/").content.decode()
    for control, label in [
        ("id_name", "Tool name"),
        ("id_description", "Description"),
        ("prop-0-name", "Name"),
        ("prop-0-type", "Type"),
        ("prop-0-enum", "Allowed values"),
        ("prop-0-required", "Required"),
        ("id_parameters_json", "JSON Schema"),
        ("id_canned_result", "Canned result"),
    ]:
        assert f'<label for="{control}">{label}</label>' in page
    response = logged_in.post(
        "/tools/new/", weather_rows(name="get_current_weather", description="The weather now.")
    )
    assert response.status_code == 302 and response.url == "/tools/"
    tool = ToolDefinition.objects.get(owner=user)
    assert tool.parameters == WEATHER and tool.description == "The weather now."
    listing = logged_in.get("/tools/").content.decode()
    assert "Saved get_current_weather." in listing
    assert "get_current_weather(location, unit?)" in listing


def test_create_with_raw_json(logged_in, user):
    schema = {**WEATHER, "additionalProperties": False}
    data = {"name": "w", "shown_mode": "json", "mode": "json", "strict": "on"}
    response = logged_in.post("/tools/new/", data | {"parameters_json": json.dumps(schema)})
    assert response.status_code == 302
    tool = ToolDefinition.objects.get(owner=user)
    assert tool.parameters == schema and tool.strict


def test_bad_json_is_not_saved_and_says_where(logged_in, user):
    bad = {"type": "object", "properties": {"unit": {"type": "string", "enum": "celsius"}}}
    data = {"name": "w", "shown_mode": "json", "mode": "json", "parameters_json": json.dumps(bad)}
    response = logged_in.post("/tools/new/", data)
    page = response.content.decode()
    assert response.status_code == 422 and 'role="alert"' in page
    assert "properties → unit → enum: must be a list ([…])" in page
    assert not ToolDefinition.objects.exists()


def test_a_name_in_use_is_refused_in_plain_words(logged_in, weather):
    response = logged_in.post("/tools/new/", weather_rows(name=weather.name))
    page = response.content.decode()
    assert response.status_code == 422
    assert "You already have a tool named “get_current_weather”." in page
    assert 'id="id_name_error" class="error" role="alert"' in page
    assert ToolDefinition.objects.count() == 1


def test_edit_keeps_the_tool_and_may_keep_its_name(logged_in, weather):
    response = logged_in.post(
        f"/tools/{weather.pk}/",
        weather_rows(name=weather.name, description="Changed", canned_result="sunny"),
    )
    assert response.status_code == 302
    weather.refresh_from_db()
    assert weather.description == "Changed" and weather.canned_result == "sunny"
    assert weather.parameters == WEATHER


def test_update_without_javascript_redraws_both_views(logged_in):
    response = logged_in.post("/tools/new/", weather_rows(name="w", action="update", mode="json"))
    page = response.content.decode()
    assert response.status_code == 200 and not ToolDefinition.objects.exists()
    assert '<input type="radio" name="mode" value="json" id="mode-json" checked>' in page
    assert "&quot;enum&quot;: [\n        &quot;celsius&quot;" in page  # the JSON, editable now
    assert '<fieldset id="simple-side" class="parameters__simple" disabled' in page


def test_adding_a_property_over_htmx_returns_the_editor_with_a_new_focused_row(logged_in):
    response = logged_in.post(
        "/tools/preview/", weather_rows(action="add", changed="structure"), HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<fieldset id="parameters"')
    assert 'id="prop-2-name" name="prop-2-name" value=""' in page
    assert "autofocus" in page.split('id="prop-2-name"')[1].split(">")[0]


def test_typing_in_rows_returns_the_json_out_of_band(logged_in):
    response = logged_in.post(
        "/tools/preview/", weather_rows(changed="rows"), HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert '<textarea id="id_parameters_json"' in page and 'hx-swap-oob="true"' in page
    assert "&quot;celsius&quot;" in page
    assert 'id="prop-1-errors"' in page and 'id="simple-side"' not in page


def test_typing_json_the_rows_cannot_show_says_so(logged_in):
    schema = {**WEATHER, "minProperties": 1}
    data = {"shown_mode": "json", "mode": "json", "parameters_json": json.dumps(schema)}
    response = logged_in.post("/tools/preview/", data | {"changed": "json"})
    page = response.content.decode()
    assert "This schema uses features the simple editor cannot show; edit it as JSON." in page
    assert "id_parameters_json" not in page  # the box being typed in is left alone


def test_duplicate_opens_the_copy(logged_in, weather):
    response = logged_in.post(f"/tools/{weather.pk}/duplicate/")
    copy = ToolDefinition.objects.get(name="get_current_weather_copy")
    assert response.url == f"/tools/{copy.pk}/"
    assert (
        "This is a copy named get_current_weather_copy"
        in logged_in.get(response.url).content.decode()
    )


def test_delete_asks_first_without_javascript(logged_in, weather):
    page = logged_in.get(f"/tools/{weather.pk}/delete/").content.decode()
    assert "Delete the tool <code>get_current_weather</code>?" in page
    assert ToolDefinition.objects.filter(pk=weather.pk).exists()
    response = logged_in.post(f"/tools/{weather.pk}/delete/")
    assert response.status_code == 302 and not ToolDefinition.objects.exists()


def test_delete_over_htmx_returns_the_list(logged_in, weather):
    listing = logged_in.get("/tools/").content.decode()
    assert 'hx-confirm="Delete the tool “get_current_weather”? This cannot be undone."' in listing
    response = logged_in.post(f"/tools/{weather.pk}/delete/", HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "Deleted get_current_weather." in page and "You have no tools yet" in page


def test_import_page_reports_what_happened_to_each_tool(logged_in, user, weather):
    text = json.dumps([{"name": "get_current_weather"}, {"name": "get_time"}])
    response = logged_in.post("/tools/import/", {"text": text, "on_clash": "copy"}, follow=True)
    page = response.content.decode()
    assert "get_current_weather was already taken, so it was imported as" in page
    assert "get_time was imported." in page
    assert ToolDefinition.objects.filter(owner=user).count() == 3


def test_topbar_links_to_the_tools(logged_in):
    assert '<a class="button" href="/tools/" aria-current="page">Tools</a>' in (
        logged_in.get("/tools/").content.decode()
    )
