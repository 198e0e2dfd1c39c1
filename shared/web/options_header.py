"""A header's value and its `key=value` parameters (Content-Type, Content-Disposition) read
exactly as werkzeug.http.parse_options_header reads them, for the FastAPI side.

Why not Starlette's or the email package's parser: the legacy upload finds its multipart
boundary with werkzeug's rules, and a client whose Content-Type another parser reads
differently (RFC 2231 continuations, `%22` in a quoted value, a parameter without `=`,
an unclosed quote) must get the same answer from both sides.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_KEY = re.compile(r"([\w!#$%&'*+\-.^`|~]+)=", flags=re.ASCII)
_MARK = re.compile(r"(?:\*(\d+))?(\*)?$", flags=re.ASCII)  # RFC 2231 section 3
_TOKEN_VALUE = re.compile(r"[\w!#$%&'*+\-.^`|~]+", flags=re.ASCII)
_CHARSET_VALUE = re.compile(  # RFC 2231 section 4: charset'language'percent-encoded
    r"([\w!#$%&*+\-.^`|~]*)'[\w!#$%&*+\-.^`|~]*'([\w!#$%&'*+\-.^`|~]+)$", re.ASCII
)
_DELIMITER = re.compile(r";[ \t]*")
_UNSLASH = re.compile(r"\\(.)", re.A)
# The only charsets a `key*=` value is decoded from; any other leaves it as sent.
_CHARSETS = frozenset({"ascii", "us-ascii", "utf-8", "iso-8859-1"})


def parse_options_header(value: str | None) -> tuple[str, dict[str, str]]:
    """(value, options) with lower-cased option names; invalid parts are skipped."""
    if value is None:
        return "", {}
    value, _, rest = value.partition(";")
    value, rest = value.strip(" \t"), rest.strip(" \t")
    if not value or not rest:
        return value, {}
    return value, _options(_raw_parts(rest))


def _raw_parts(rest: str) -> list[tuple[str, str]]:
    """Each valid key=value, the value still quoted; scanning stops at an unclosed quote."""
    parts: list[tuple[str, str]] = []
    pos, length = 0, len(rest)
    while pos < length:
        if (key := _KEY.match(rest, pos)) is not None:
            name, pos = key.group(1).lower(), key.end()
            if (token := _TOKEN_VALUE.match(rest, pos)) is not None:
                parts.append((name, token.group()))
            elif rest.startswith('"', pos):
                end = _closing_quote(rest, pos + 1)
                if end is None:
                    break
                parts.append((name, rest[pos:end]))
                pos = end
        if (delimiter := _DELIMITER.search(rest, pos)) is None:
            break
        pos = delimiter.end()
    return parts


def _closing_quote(rest: str, pos: int) -> int | None:
    """Just past the quote closing a quoted string, escapes (\\\\ and \\") skipped."""
    while pos < len(rest):
        if rest.startswith(("\\\\", '\\"'), pos):
            pos += 2
        elif rest.startswith('"', pos):
            return pos + 1
        else:
            pos += 1
    return None


def _options(parts: list[tuple[str, str]]) -> dict[str, str]:
    """Charsets decoded, quotes removed, `key*0=a; key*1=b` joined into `key=ab`."""
    options: dict[str, str] = {}
    continuations: dict[str, list[str]] = {}
    continuation_charsets: dict[str, str] = {}
    for name, raw in parts:
        value, charset, continued, has_charset = raw, "", False, False
        mark = _MARK.search(name)
        if mark is not None and mark.end() > mark.start():
            continued, has_charset = mark.group(1) is not None, mark.group(2) is not None
            name = name[: mark.start()]
        if has_charset:
            if (encoded := _CHARSET_VALUE.match(value)) is not None:
                charset, value = encoded.group(1).lower(), encoded.group(2)
            if not charset and continued:
                charset = continuation_charsets.get(name, "")
            if charset in _CHARSETS:
                value = unquote(value, encoding=charset)  # invalid bytes replaced
        else:
            # Header escapes, and the HTML standard's %22 for a quote in a form's names.
            value = _unquote_header_value(value).replace("%22", '"')
        if continued:
            options.pop(name, None)
            continuations.setdefault(name, []).append(value)  # in order seen, as werkzeug
            if charset:
                continuation_charsets[name] = charset
        else:
            continuations.pop(name, None)
            continuation_charsets.pop(name, None)
            options[name] = value
    options.update({name: "".join(values) for name, values in continuations.items()})
    return options


def _unquote_header_value(value: str) -> str:
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return _UNSLASH.sub(r"\g<1>", value[1:-1])
    return value
