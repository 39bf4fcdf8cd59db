"""Confluence storage format and Google Docs HTML export -> sections that keep structure."""

from __future__ import annotations

from ingest.connectors.html_to_sections import html_to_sections, parse_html


def by_kind(sections, kind):
    return [s for s in sections if s.kind == kind]


def test_headings_nest_and_paragraphs_merge_under_them():
    sections = html_to_sections("<h1>A</h1><p>one</p><p>two</p><h2>B</h2><p>three</p><h1>C</h1><p>four</p>")
    assert [(s.heading_path, s.text) for s in sections] == [
        (("A",), "one\ntwo"), (("A", "B"), "three"), (("C",), "four")]


def test_tables_read_as_header_value_rows_and_nested_lists_indent():
    html = ("<table><tr><th>Tool</th><th>Owner</th></tr><tr><td>VPN</td><td><p>IT</p></td></tr>"
            "<tr><td>Wiki</td><td></td></tr></table>"
            "<ul><li>a<ol><li>a1</li><li>a2</li></ol></li><li>b</li></ul>")
    sections = html_to_sections(html)
    assert by_kind(sections, "table")[0].text == "Tool: VPN | Owner: IT\nTool: Wiki"
    assert by_kind(sections, "list")[0].text == "- a\n  1. a1\n  2. a2\n- b"


def test_confluence_macros_links_mentions_and_tasks():
    html = """<p>Ask <ac:link><ri:user ri:account-id="557058"/></ac:link> or read
    <ac:link><ri:page ri:content-title="Security policy"/></ac:link>.</p>
    <ac:structured-macro ac:name="info"><ac:rich-text-body><p>Keep secrets out of Git.</p></ac:rich-text-body>
    </ac:structured-macro>
    <ac:structured-macro ac:name="code"><ac:parameter ac:name="language">python</ac:parameter>
    <ac:plain-text-body><![CDATA[if a < b:
    print("x & y")]]></ac:plain-text-body></ac:structured-macro>
    <ac:image><ri:attachment ri:filename="diagram.png"/></ac:image>
    <ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status>
    <ac:task-body>Rotate keys</ac:task-body></ac:task><ac:task><ac:task-id>2</ac:task-id>
    <ac:task-status>incomplete</ac:task-status><ac:task-body>Audit</ac:task-body></ac:task></ac:task-list>"""
    sections = html_to_sections(html)
    assert sections[0].text == "Ask @user or read Security policy.\nKeep secrets out of Git."
    assert by_kind(sections, "code")[0].text == 'if a < b:\n    print("x & y")'
    assert by_kind(sections, "list")[0].text == "- [x] Rotate keys\n- [ ] Audit"
    assert "diagram" not in "".join(s.text for s in sections)


def test_google_docs_export_anchors_and_flat_nested_lists():
    html = """<html><head><style>p{}</style></head><body><h1 id="h.x1"><span>予算</span></h1>
    <p><span>来期の予算は</span><span>前年比5%増です。</span></p>
    <ol class="lst-kix_q-0 start"><li>申請</li></ol><ol class="lst-kix_q-1"><li>部長承認</li></ol></body></html>"""
    parsed = parse_html(html)
    assert parsed.heading_ids == {"予算": "h.x1"}
    assert [(s.kind, s.text) for s in parsed.sections] == [
        ("text", "来期の予算は前年比5%増です。"), ("list", "1. 申請\n  1. 部長承認")]
    assert all(s.heading_path == ("予算",) for s in parsed.sections)


def test_empty_and_plain_input():
    assert html_to_sections("") == []
    assert [s.text for s in html_to_sections("just text")] == ["just text"]


def test_pathological_nesting_is_refused_quickly_with_a_clear_reason():
    import time

    import pytest

    from ingest.connectors.files import html_sections
    from ingest.connectors.html_to_sections import MAX_HTML_DEPTH, HtmlTooDeep

    deep = "<div>" * 4000 + "<p>deep</p>" + "</div>" * 4000  # took 8 s before the check, and blew the stack later
    for parse in (parse_html, html_sections):
        started = time.perf_counter()
        with pytest.raises(HtmlTooDeep, match=f"nested deeper than {MAX_HTML_DEPTH}"):
            parse(deep)
        assert time.perf_counter() - started < 2  # refused in one pass, before any tree is built
    # Within the limit, nesting is read as usual; so are long flat pages of sloppy <p>/<li> (lxml closes them).
    ok = "<div>" * (MAX_HTML_DEPTH - 5) + "<p>deep enough</p>" + "</div>" * (MAX_HTML_DEPTH - 5)
    assert [s.text for s in html_to_sections(ok)] == ["deep enough"]
    assert html_sections("<ul>" + "<li>item" * 500 + "</ul>")[1][0].text.count("- item") == 500
