"""Flask's URL rule matching, without Flask: which rule of a set serves (method, path).

The gateway decides every request's side by the rules of the legacy Flask app; a process
in which no route is left on Flask must decide without importing Flask or werkzeug. This
module compiles the same rule syntax (`/api/videos/<int:video_id>`, `<path:p>`,
`<string(length=2):lang>`, `<any(a, b):x>`, `<int(signed=True):n>`...) and matches with
the algorithm of werkzeug's own matcher (werkzeug.routing.matcher.StateMachineMatcher,
werkzeug 3), on a Map as Flask builds it (strict and merged slashes, no subdomains):

- a tree of states, one per path segment; at each state the static transition first,
  then the variable ones in werkzeug's weight order (more static text first, then the
  converters' weights: int and float 50, string and any 100, path 200), backtracking;
- a rule that takes the method wins; rules of the path that do not are the 405's methods
  (a GET rule takes HEAD);
- `/x` where only `/x/` has a rule: werkzeug's redirect to `/x/`; `/a//b`: to `/a/b`;
- converters validate after the match (int's fixed_digits, min and max), and a value
  they refuse is a 404 (or 405), never a try of the next rule, as in werkzeug;
- int's `\\d+` is Python's, so Unicode digits (`/videos/٣`) are digits, as in Flask.

tests/gateway/test_rules.py checks every decision against werkzeug's own Map over the
manifest, the example app and generated rule sets. A converter werkzeug does not ship is
refused when the manifest loads (RuleError): figway cannot run an app's own converters.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# What werkzeug's Map takes by default, by the names rules use (werkzeug's DEFAULT_CONVERTERS).
CONVERTERS = ("any", "default", "float", "int", "path", "string", "uuid")

# werkzeug.routing.rules._part_re: a slash, static text, or <converter(args):variable>.
_PART = re.compile(
    r"""
    (?:
        (?P<slash>/)
      |
        (?P<static>[^</]+)
      |
        (?:
          <
            (?:
              (?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)
              (?:\((?P<arguments>.*?)\))?
              :
            )?
            (?P<variable>[a-zA-Z_][a-zA-Z0-9_]*)
           >
        )
    )
    """,
    re.VERBOSE,
)
# werkzeug.routing.rules._converter_args_re, as written there (its unescaped dots too).
_CONVERTER_ARGS = re.compile(
    r"""
    \s*
    ((?P<name>\w+)\s*=\s*)?
    (?P<value>
        True|False|
        \d+.\d+|
        \d+.|
        \d+|
        [\w\d_.]+|
        [urUR]?(?P<stringval>"[^"]*?"|'[^']*')
    )\s*,
    """,
    re.VERBOSE,
)
_CONSTANTS: dict[str, Any] = {"None": None, "True": True, "False": False}
_SLASHES = re.compile("/{2,}")


class RuleError(ValueError):
    """A rule that cannot be compiled: malformed, or a converter werkzeug does not ship."""


# --- converters ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Converter:
    """What matching needs of a werkzeug converter: its regex, its weight, whether it
    stays within one segment, and its to_python as a test (False: ValidationError)."""

    regex: str
    weight: int
    part_isolating: bool = True
    accepts: Callable[[str], bool] | None = None
    # Every segment of digits alone (up to 18 of them) gets the same verdict: which
    # digits a segment holds cannot change the match (see RouteTable's number folding).
    digit_blind: bool = True


def _string(
    minlength: int = 1, maxlength: int | None = None, length: int | None = None
) -> Converter:
    if length is not None:
        quantifier = f"{{{int(length)}}}"
    else:
        upper = "" if maxlength is None else str(int(maxlength))
        quantifier = f"{{{int(minlength)},{upper}}}"
    blind = length is None and maxlength is None and int(minlength) <= 1
    return Converter(f"[^/]{quantifier}", 100, digit_blind=blind)


def _any(*items: str) -> Converter:
    return Converter(f"(?:{'|'.join([re.escape(x) for x in items])})", 100, digit_blind=False)


def _path(*_args: Any, **_kwargs: Any) -> Converter:
    # werkzeug's PathConverter and UUIDConverter take (and ignore) any arguments.
    return Converter("[^/].*?", 200, part_isolating=False)


def _number(
    regex: str,
    convert: Callable[[str], float],
    fixed_digits: int,
    minimum: float | None,
    maximum: float | None,
    signed: bool,
) -> Converter:
    def accepts(value: str) -> bool:
        if fixed_digits and len(value) != fixed_digits:
            return False
        try:
            number = convert(value)
        except ValueError:
            return False
        return not (
            (minimum is not None and number < minimum) or (maximum is not None and number > maximum)
        )

    # part_isolating: werkzeug derives it from the class regex ("/" not in it): True.
    blind = not fixed_digits and minimum is None and maximum is None
    return Converter(f"-?{regex}" if signed else regex, 50, accepts=accepts, digit_blind=blind)


def _int(
    fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
) -> Converter:
    return _number(r"\d+", int, fixed_digits, min, max, signed)


def _float(min: float | None = None, max: float | None = None, signed: bool = False) -> Converter:
    return _number(r"\d+\.\d+", float, 0, min, max, signed)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _uuid(*_args: Any, **_kwargs: Any) -> Converter:
    regex = r"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"
    return Converter(regex, 100, accepts=_is_uuid)


# The same signatures as werkzeug's converter classes (less `map`): an argument they do not
# take is refused the same way.
_FACTORIES: dict[str, Callable[..., Converter]] = {
    "default": _string,
    "string": _string,
    "any": _any,
    "path": _path,
    "int": _int,
    "float": _float,
    "uuid": _uuid,
}


def _pythonize(value: str) -> Any:
    if value in _CONSTANTS:
        return _CONSTANTS[value]
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    if value[:1] == value[-1:] and value[0] in "\"'":
        value = value[1:-1]
    return str(value)


def parse_converter_args(argstr: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """`signed=True, 4` -> ((4,), {"signed": True}), as werkzeug parses them."""
    argstr += ","
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    position = 0
    for item in _CONVERTER_ARGS.finditer(argstr):
        if item.start() != position:
            raise RuleError(f"cannot parse converter argument {argstr[position : item.start()]!r}")
        value = item.group("stringval")
        if value is None:
            value = item.group("value")
        if item.group("name"):
            kwargs[item.group("name")] = _pythonize(value)
        else:
            args.append(_pythonize(value))
        position = item.end()
    return tuple(args), kwargs


def converter(name: str, arguments: str | None) -> Converter:
    """The converter `<name(arguments):...>` stands for; RuleError if there is none."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise RuleError(
            f"unknown converter {name!r}: figway matches Flask's own converters only "
            f"({', '.join(CONVERTERS)})"
        )
    args, kwargs = parse_converter_args(arguments or "")
    try:
        return factory(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise RuleError(f"converter {name!r}: bad arguments ({arguments}): {exc}") from None


# --- rules ------------------------------------------------------------------------------

# werkzeug's Weighting: (-static parts, [(index, -length)], -arguments, [converter weights]).
Weight = tuple[int, tuple[tuple[int, int], ...], int, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class Part:
    """One step of a rule: a segment's static text, or a regex over one segment (or, once a
    converter takes slashes, over the rest of the path)."""

    content: str
    final: bool
    static: bool
    suffixed: bool
    weight: Weight


@dataclass(eq=False, slots=True)
class Rule:
    path: str
    methods: frozenset[str]
    endpoint: str
    parts: tuple[Part, ...]
    # Variable name -> converter, as werkzeug keeps them (a name used twice keeps its last
    # converter, at its first place); zipped with the matched values in that order.
    converters: dict[str, Converter]
    # No digit in its static text, and converters blind to digits: see Converter.
    digit_blind: bool


def _parse(rule: str, converters: dict[str, Converter], statics: list[str]) -> Iterator[Part]:
    """werkzeug's Rule._parse_rule."""
    content = ""
    static = True
    argument_weights: list[int] = []
    static_weights: list[tuple[int, int]] = []
    final = False
    number = 0
    pos = 0
    while pos < len(rule):
        found = _PART.match(rule, pos)
        if found is None:
            raise RuleError(f"malformed rule {rule!r} at {rule[pos:]!r}")
        data = found.groupdict()
        if data["static"] is not None:
            statics.append(data["static"])
            static_weights.append((len(static_weights), -len(data["static"])))
            content += data["static"] if static else re.escape(data["static"])
        if data["variable"] is not None:
            if static:
                content = re.escape(content)  # the part becomes a regex
            static = False
            conv = converter(data["converter"] or "default", data["arguments"])
            converters[data["variable"]] = conv
            if not conv.part_isolating:
                final = True
            content += f"(?P<__werkzeug_{number}>{conv.regex})"
            number += 1
            argument_weights.append(conv.weight)
        if data["slash"] is not None:
            if final:
                content += "/"
            else:
                if not static:
                    content += r"\Z"
                yield Part(content, final, static, False, _weight(static_weights, argument_weights))
                content, static, final, number = "", True, False, 0
                argument_weights, static_weights = [], []
        pos = found.end()
    suffixed = False
    if final and content.endswith("/"):
        # A slash-taking converter then a slash: the match may end before that slash, for
        # werkzeug's slash redirect.
        suffixed = True
        content = content[:-1] + "(?<!/)(/?)"
    if not static:
        content += r"\Z"
    weight = _weight(static_weights, argument_weights)
    yield Part(content, final, static, suffixed, weight)
    if suffixed:
        yield Part("", False, True, False, weight)


def _weight(static_weights: list[tuple[int, int]], argument_weights: list[int]) -> Weight:
    return (
        -len(static_weights),
        tuple(static_weights),
        -len(argument_weights),
        tuple(argument_weights),
    )


def compile_rule(path: str, methods: Iterable[str], endpoint: str) -> Rule:
    """A rule as Flask's Map compiles it (RuleError when it cannot be)."""
    if not path.startswith("/"):
        raise RuleError(f"rule {path!r} must start with a slash")
    allowed = {m.upper() for m in methods}
    if "GET" in allowed:
        allowed.add("HEAD")
    converters: dict[str, Converter] = {}
    statics: list[str] = []
    # The domain part (Flask matches no subdomains: always empty), then the path, its
    # repeated slashes merged as the Map's merge_slashes does.
    domain = Part("", False, True, False, (0, (), 0, ()))
    parts = (domain, *_parse(_SLASHES.sub("/", path), converters, statics))
    blind = all(c.digit_blind for c in converters.values()) and not any(
        ch.isdigit() for text in statics for ch in text
    )
    return Rule(path, frozenset(allowed), endpoint, parts, converters, blind)


def check_rule(path: str) -> str | None:
    """What is wrong with `path` as a rule, or None: for the manifest's own checks."""
    try:
        compile_rule(path, (), "")
    except RuleError as exc:
        return str(exc)
    return None


# --- matching ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a match: the rule's endpoint; else a redirect (the path werkzeug
    sends the client to); else a 405 (`allowed` holds the path's methods) or a 404."""

    endpoint: str | None
    redirect: str | None = None
    allowed: frozenset[str] = frozenset()


@dataclass(slots=True)
class _State:
    dynamic: list[tuple[Part, re.Pattern[str], _State]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    static: dict[str, _State] = field(default_factory=dict)


class _SlashRequired(Exception):
    pass


_NOT_FOUND = Outcome(None)


class Matcher:
    """Rules compiled into werkzeug's state machine; match() is pure, and thread-safe."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._root = _State()
        for rule in rules:
            self._add(rule)
        self._sort(self._root)

    def _add(self, rule: Rule) -> None:
        state = self._root
        for part in rule.parts:
            if part.static:
                state = state.static.setdefault(part.content, _State())
                continue
            for known, _pattern, next_state in state.dynamic:
                if known == part:
                    state = next_state
                    break
            else:
                next_state = _State()
                state.dynamic.append((part, re.compile(part.content), next_state))
                state = next_state
        state.rules.append(rule)

    def _sort(self, state: _State) -> None:
        # Stable, as werkzeug's: equal weights keep the rules' order.
        state.dynamic.sort(key=lambda entry: entry[0].weight)
        for child in state.static.values():
            self._sort(child)
        for _part, _pattern, child in state.dynamic:
            self._sort(child)

    def match(self, path: str, method: str) -> Outcome:
        """What werkzeug's MapAdapter.match(path, method) does, as an Outcome."""
        method = method.upper()
        path = f"/{path.lstrip('/')}" if path else ""
        allowed: set[str] = set()
        try:
            found = self._walk(self._root, ["", *path.split("/")], [], method, allowed)
        except _SlashRequired:
            return Outcome(None, redirect=f"{path}/")
        if found is None:
            merged = _SLASHES.sub("/", path)
            if merged == path:  # werkzeug tries again, and finds the same nothing
                return Outcome(None, allowed=frozenset(allowed)) if allowed else _NOT_FOUND
            try:
                found = self._walk(self._root, ["", *merged.split("/")], [], method, allowed)
            except _SlashRequired:
                return Outcome(None, redirect=f"{merged}/")
            if found is None:
                return Outcome(None, allowed=frozenset(allowed)) if allowed else _NOT_FOUND
            return Outcome(None, redirect=merged)
        rule, values = found
        for conv, value in zip(rule.converters.values(), values, strict=False):
            if conv.accepts is not None and not conv.accepts(value):
                return Outcome(None, allowed=frozenset(allowed)) if allowed else _NOT_FOUND
        return Outcome(rule.endpoint)

    def _walk(
        self, state: _State, parts: list[str], values: list[str], method: str, allowed: set[str]
    ) -> tuple[Rule, list[str]] | None:
        if not parts:
            for rule in state.rules:
                if method in rule.methods:
                    return rule, values
                allowed.update(rule.methods)
            # The path with a slash added has a rule for the method: werkzeug redirects.
            slashed = state.static.get("")
            if slashed is not None and any(method in r.methods for r in slashed.rules):
                raise _SlashRequired
            return None
        part = parts[0]
        following = state.static.get(part)
        if following is not None:
            found = self._walk(following, parts[1:], values, method, allowed)
            if found is not None:
                return found
        for test, pattern, next_state in state.dynamic:
            target, remaining = part, parts[1:]
            if test.final:  # takes the rest of the path
                target, remaining = "/".join(parts), []
            hit = pattern.match(target)
            if hit is None:
                continue
            if test.suffixed and hit.groups()[-1] == "/":
                remaining = [""]
            groups = sorted(
                ((k, v) for k, v in hit.groupdict().items() if k.startswith("__werkzeug_")),
                key=lambda item: int(item[0][11:]),
            )
            found = self._walk(
                next_state, remaining, values + [v for _k, v in groups], method, allowed
            )
            if found is not None:
                return found
        # (werkzeug then tries rules without strict slashes: a Map as Flask's has none.)
        return None
