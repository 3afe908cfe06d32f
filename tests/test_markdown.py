"""Answers are rendered as Markdown once, and whatever the model wrote cannot run in the page."""

from html.parser import HTMLParser

import pytest

from playground.markdown import render_markdown


class _Elements(HTMLParser):
    """The tags and attributes a browser would build from the HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "![x](javascript:alert(1))",
        '<img src=x onerror="alert(1)">',
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '<a href="https://e.com" onclick="alert(1)">x</a>',
    ],
)
def test_nothing_executable_survives(source):
    for tag, attrs in _Elements(render_markdown(source)).found:
        assert tag != "script"
        assert not any(name.startswith("on") for name in attrs)
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").startswith(("javascript:", "data:"))


def test_links_open_safely():
    out = render_markdown("[docs](https://docs.example.com)")
    assert out == (
        '<p><a href="https://docs.example.com" rel="noopener noreferrer nofollow">docs</a></p>\n'
    )


def test_code_blocks_are_highlighted_and_escaped():
    out = render_markdown("```python\nx = '<b>'\n```")
    assert '<span class="hl-n">x</span>' in out
    assert "&lt;b&gt;" in out and "<b>" not in out


def test_tables_and_emphasis_render():
    out = render_markdown("**bold** and ~~gone~~\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<strong>bold</strong>" in out and "<s>gone</s>" in out
    assert "<table>" in out and "<td>2</td>" in out


def test_single_line_breaks_stay_line_breaks():
    html = render_markdown("Roses are red,\nviolets are blue.\n\nNew verse")
    assert html.startswith("<p>Roses are red,<br")
    assert "<p>New verse</p>" in html
