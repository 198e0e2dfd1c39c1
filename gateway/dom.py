"""Two HTML documents compared as a normalised DOM: elements with their attributes sorted,
text with its whitespace collapsed and empty text dropped (stdlib html.parser). Markup that
a browser reads alike (attribute order, indentation, `&#34;` for `&quot;`) is alike here;
a difference is named by the path of the node that differs.

Shared by the parity tool (its first difference) and shadow traffic (every difference, for
its noise filter): gateway/compare.py; stdlib only, so a serving process may import it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import zip_longest

# Elements that never have content or an end tag.
VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)


@dataclass
class Element:
    tag: str
    attrs: tuple[tuple[str, str], ...] = ()
    children: list[Element | str] = field(default_factory=list)

    def brief(self) -> str:
        attrs = "".join(f' {k}="{v}"' if v else f" {k}" for k, v in self.attrs)
        return f"<{self.tag}{attrs}>"


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self._open = [self.root]
        self._text: list[str] = []

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        self._text.clear()
        if text:
            self._open[-1].children.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        element = Element(tag, tuple(sorted((k, v or "") for k, v in attrs)))
        self._open[-1].children.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        self._open[-1].children.append(Element(tag, tuple(sorted((k, v or "") for k, v in attrs))))

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        # Close up to the nearest open element of this tag; a stray end tag closes nothing.
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_decl(self, decl: str) -> None:
        self._flush()
        self._open[-1].children.append(Element(f"!{decl.lower()}"))

    def close(self) -> None:
        super().close()
        self._flush()


def parse(html: str) -> Element:
    """`html` as its normalised tree, under a #document root."""
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


# How a node differs: both there and unlike (VALUES), or only in the first (ONLY_A) or only
# in the second (ONLY_B) document.
VALUES, ONLY_A, ONLY_B = "values", "only-a", "only-b"


@dataclass(frozen=True, slots=True)
class NodeDifference:
    path: str  # "/html[1]/body[1]/ul[1]/li[2]/text()[1]"
    how: str  # VALUES, ONLY_A or ONLY_B
    a: str = ""  # the first document's node, briefly (VALUES only)
    b: str = ""


def dom_differences(a: bytes, b: bytes) -> Iterator[NodeDifference]:
    """Every node where page `a` and page `b` differ, in document order; an element that
    differs in its tag or attributes is one difference (its children are not looked at)."""
    return _diff(parse(_text(a)), parse(_text(b)), "")


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def _diff(a: Element, b: Element, path: str) -> Iterator[NodeDifference]:
    if (a.tag, a.attrs) != (b.tag, b.attrs):
        yield NodeDifference(path or "/", VALUES, a.brief(), b.brief())
        return
    seen: dict[str, int] = {}
    for x, y in zip_longest(a.children, b.children):
        either = x if x is not None else y
        assert either is not None  # zip_longest pads one side only
        name = "text()" if isinstance(either, str) else either.tag
        seen[name] = seen.get(name, 0) + 1
        where = f"{path}/{name}[{seen[name]}]"
        if x is None or y is None:
            yield NodeDifference(where, ONLY_A if y is None else ONLY_B)
        elif isinstance(x, str) or isinstance(y, str):
            if x != y:
                yield NodeDifference(where, VALUES, _brief(x), _brief(y))
        else:
            yield from _diff(x, y, where)


def _brief(node: Element | str) -> str:
    if isinstance(node, Element):
        return node.brief()
    return repr(node if len(node) < 80 else node[:77] + "...")
