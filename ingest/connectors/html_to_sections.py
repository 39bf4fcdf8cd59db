"""HTML (Confluence storage format, Google Docs HTML export) -> clean ``Section``s that keep the structure.

Headings become the ``heading_path`` of what follows them; paragraphs under one
heading merge into a text section; lists keep their nesting as indented
``- item`` / ``1. item`` lines; tables become one line per row, ``Header: value``
pairs when the table has a header row, so a row reads on its own after
chunking; code blocks (``<pre>``, Confluence's code macro) stay verbatim.

Confluence's ``ac:``/``ri:`` elements are handled where they carry text (code,
panels, tasks, links, mentions, emoticons); images, attachments and other
macros without text are dropped. ``html.parser`` is used on purpose: it keeps
CDATA (the code macro's body), which lxml's HTML parser discards.

Bounded work: the walk is recursive and looks into a container's subtree to
classify it, so its cost grows with size x nesting depth (depth 4,000 took 8 s,
and Python's recursion limit sits near depth 1,000). Real pages nest a few dozen
levels; ``check_html_depth`` refuses anything deeper than ``MAX_HTML_DEPTH`` in
one linear pass before any tree is built, with a message saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

from core.types import Section

HEADINGS = {f"h{i}": i for i in range(1, 7)}
SKIP = {"script", "style", "head", "title", "meta", "link", "ac:image", "ri:attachment", "ac:parameter",
        "ac:placeholder", "colgroup", "col"}
# Macros whose body is prose (panels, expand sections): walk into their rich-text body.
CODE_MACROS = {"code", "noformat"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


@dataclass
class ParsedHtml:
    """Sections plus the anchor id of each heading (Google Docs: ``h.xxxx``) for deep links."""

    sections: list[Section] = field(default_factory=list)
    heading_ids: dict[str, str] = field(default_factory=dict)


MAX_HTML_DEPTH = 200
# Elements without content never make a page deeper.
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
# Elements whose end tag may be left out: an HTML5 parser (lxml) closes them implicitly, html.parser nests them.
OPTIONAL_END = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup",
                          "colgroup", "caption", "rb", "rt", "rtc", "rp", "html", "head", "body"})


class HtmlTooDeep(ValueError):
    """A page nested deeper than ``MAX_HTML_DEPTH``: not parsed (the message is the reason shown to the user)."""


class _DepthProbe(HTMLParser):
    def __init__(self, limit: int, flat: frozenset[str]) -> None:
        super().__init__(convert_charrefs=False)
        self.limit, self.flat, self.depth = limit, flat, 0

    def handle_startendtag(self, tag, attrs):
        pass  # <x/>: opened and closed at once

    def handle_starttag(self, tag, attrs):
        if tag not in self.flat:
            self.depth += 1
            if self.depth > self.limit:
                raise HtmlTooDeep(f"HTML nested deeper than {self.limit} elements; not indexed")

    def handle_endtag(self, tag):
        if tag not in self.flat and self.depth:
            self.depth -= 1


def check_html_depth(html: str, limit: int = MAX_HTML_DEPTH, *, implicit_close: bool = False) -> None:
    """Raise ``HtmlTooDeep`` when elements nest deeper than ``limit``; one pass over the text, no tree built.

    ``implicit_close``: the page goes to a parser that closes ``<p>``, ``<li>``... on its own (lxml), so
    those do not count; html.parser (used here) nests them, so by default they do.
    """
    if (html or "").count("<") <= limit:
        return  # cannot nest deeper than it has tags
    probe = _DepthProbe(limit, VOID | OPTIONAL_END if implicit_close else VOID)
    probe.feed(html)
    probe.close()


def html_to_sections(html: str) -> list[Section]:
    """Convert an HTML or Confluence storage-format fragment to sections."""
    return parse_html(html).sections


def parse_html(html: str) -> ParsedHtml:
    """Like :func:`html_to_sections`, also returning heading anchors; ``HtmlTooDeep`` for pathological nesting."""
    check_html_depth(html)
    walker = _Walker()
    walker.walk(BeautifulSoup(html or "", "html.parser"))
    walker.flush()
    return walker.result


def _clean(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


class _Walker:
    """Walks the tree once, in document order, emitting sections as block elements end."""

    def __init__(self) -> None:
        self.result = ParsedHtml()
        self.headings: list[tuple[int, str]] = []
        self.paragraphs: list[str] = []

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.headings)

    def emit(self, text: str, kind: str) -> None:
        if text.strip():
            self.result.sections.append(Section(text=text, heading_path=self.path, kind=kind))

    def flush(self) -> None:
        """Close the running text section."""
        text = "\n".join(p for p in self.paragraphs if p)
        self.paragraphs = []
        self.emit(text, "text")

    # --- block level ---------------------------------------------------------------
    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                text = _clean(str(child))
                if text:
                    self.paragraphs.append(text)
                continue
            self.block(child)

    def block(self, tag: Tag) -> None:
        name = tag.name
        if name in SKIP:
            return
        if name in HEADINGS:
            self.heading(tag, HEADINGS[name])
        elif name in ("p", "ac:task-body") or (name == "div" and not tag.find(_is_block)):
            text = _clean(inline_text(tag))
            if text:
                self.paragraphs.append(text)
        elif name in ("ul", "ol", "ac:task-list"):
            self.list_block(tag)
        elif name == "table":
            self.flush()
            self.emit(table_text(tag), "table")
        elif name == "pre":
            self.flush()
            self.emit(tag.get_text().strip("\n"), "code")
        elif name == "ac:structured-macro" and tag.get("ac:name") in CODE_MACROS:
            body = tag.find("ac:plain-text-body")
            self.flush()
            self.emit(body.get_text().strip("\n") if body else "", "code")
        elif name == "hr":
            self.flush()
        else:  # containers: div, section, blockquote, layouts, panels, expand macros, rich-text bodies, ...
            self.walk(tag)

    def list_block(self, tag: Tag) -> None:
        """A list; Google Docs exports nested levels as separate flat lists, joined here into one section."""
        continuing = not self.paragraphs and bool(self.result.sections)
        self.flush()
        text = "\n".join(list_lines(tag, _gdocs_list_level(tag)))
        last = self.result.sections[-1] if self.result.sections else None
        if continuing and text and last and last.kind == "list" and last.heading_path == self.path:
            self.result.sections[-1] = Section(last.text + "\n" + text, last.heading_path, "list")
        else:
            self.emit(text, "list")

    def heading(self, tag: Tag, level: int) -> None:
        self.flush()
        text = _clean(inline_text(tag)).replace("\n", " ")
        if not text:
            return
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self.headings.append((level, text))
        anchor = tag.get("id")
        if anchor and text not in self.result.heading_ids:
            self.result.heading_ids[text] = str(anchor)


_GDOCS_LIST_CLASS = re.compile(r"^lst-kix_\w+-(\d+)$")


def _gdocs_list_level(tag: Tag) -> int:
    for cls in tag.get("class") or ():
        match = _GDOCS_LIST_CLASS.match(cls)
        if match:
            return int(match.group(1))
    return 0


def _is_block(tag) -> bool:
    return isinstance(tag, Tag) and (tag.name in HEADINGS or tag.name in {"p", "ul", "ol", "table", "pre", "div"})


# --- inline level --------------------------------------------------------------------
def inline_text(tag: Tag) -> str:
    """The readable text of an element: link text, @mentions, emoticons, line breaks."""
    parts: list[str] = []
    for node in tag.children:
        if isinstance(node, CData):
            parts.append(str(node))
        elif isinstance(node, (Comment, Declaration, Doctype, ProcessingInstruction)):
            continue
        elif isinstance(node, NavigableString):
            parts.append(str(node).replace("\n", " "))
        elif node.name in SKIP:
            continue
        elif node.name == "br":
            parts.append("\n")
        elif node.name == "ac:link":
            parts.append(_link_text(node))
        elif node.name == "ac:emoticon":
            parts.append(node.get("ac:emoji-fallback") or "")
        elif node.name == "time" and node.get("datetime"):
            parts.append(node["datetime"])
        elif node.name in ("ul", "ol"):
            parts.append("\n" + "\n".join(list_lines(node, 0)) + "\n")
        elif node.name in ("p", "div") and parts:
            parts.append("\n" + inline_text(node))
        else:
            parts.append(inline_text(node))
    return "".join(parts)


def _link_text(link: Tag) -> str:
    body = link.find(["ac:plain-text-link-body", "ac:link-body"])
    if body and body.get_text(strip=True):
        return body.get_text()
    page = link.find("ri:page")
    if page and page.get("ri:content-title"):
        return page["ri:content-title"]
    user = link.find("ri:user")
    if user:
        return "@" + (user.get("ri:username") or "user")
    return link.get_text()


def list_lines(tag: Tag, depth: int) -> list[str]:
    """Lines of a (nested) list; ordered lists are numbered, tasks get a checkbox."""
    lines: list[str] = []
    ordered = tag.name == "ol"
    items = tag.find_all(["li", "ac:task"], recursive=False)
    for number, item in enumerate(items, start=1):
        marker = f"{number}." if ordered else "-"
        if item.name == "ac:task":
            status = item.find("ac:task-status")
            marker = "- [x]" if status and status.get_text(strip=True) == "complete" else "- [ ]"
            body = item.find("ac:task-body")
            own = _clean(inline_text(body)) if body else ""
            nested = []
        else:
            nested = item.find_all(["ul", "ol"], recursive=False)
            for sub in nested:
                sub.extract()
            own = _clean(inline_text(item))
        indent = "  " * depth
        if own:
            lines.append(f"{indent}{marker} {own.replace(chr(10), ' ')}")
        for sub in nested:
            lines.extend(list_lines(sub, depth + 1))
    return lines


def table_text(table: Tag) -> str:
    """One line per row; ``Header: value`` pairs when the first row is a header row."""
    rows: list[list[str]] = []
    header: list[str] | None = None
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue  # rows of a nested table are read as cell text
        cells = row.find_all(["th", "td"], recursive=False)
        values = [_clean(inline_text(c)).replace("\n", " ") for c in cells]
        if header is None and not rows and cells and all(c.name == "th" for c in cells):
            header = values
            continue
        if any(values):
            rows.append(values)
    if header is None and len(rows) > 1 and _looks_like_header(table):
        header, rows = rows[0], rows[1:]
    lines = []
    for values in rows:
        if header:
            pairs = [f"{h}: {v}" if h else v for h, v in zip(header, values) if v]
            pairs += [v for v in values[len(header):] if v]
            lines.append(" | ".join(pairs))
        else:
            lines.append(" | ".join(v for v in values if v))
    if header and not rows:
        lines.append(" | ".join(header))
    return "\n".join(lines)


def _looks_like_header(table: Tag) -> bool:
    """Google Docs exports have no <th>; a first row in <thead> or all bold counts as a header."""
    first = table.find("tr")
    if first is None:
        return False
    if first.find_parent("thead") is not None:
        return True
    cells = first.find_all("td", recursive=False)
    return bool(cells) and all(c.find(["b", "strong"]) is not None for c in cells)
