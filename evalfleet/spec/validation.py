"""The checks every hand-written validator shares (run config, task specs, edition rules, probe settings).

Each check returns the value it accepted or raises one EvalfleetError naming the file (`source`) and
the dotted field path (`field`), worded one way:

    <file>: field '<path>': must be <what>, got <type> <value>
    <file>: field '<path>.<key>': unknown key (known: a, b, c)
    <file>: field '<path>': required (<what>)

`what` is 'int >= 1', 'a number', 'a string', 'a mapping', 'a list of strings', "one of 'a', 'b'" ...
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Collection, Iterable, Mapping, NoReturn, TypeVar

from evalfleet.errors import EvalfleetError

T = TypeVar("T")


def join(parent: str, key: Any) -> str:
    """The dotted path of `key` under `parent` ('' = top level): join('views', 'delta') -> 'views.delta'."""
    return f"{parent}.{key}" if parent else str(key)


def describe(value: Any) -> str:
    """How a rejected value is shown: its YAML-ish type and repr, e.g. "str 'big'", 'null'."""
    return "null" if value is None else f"{type(value).__name__} {value!r}"


def wrong(what: str, value: Any, *, source: str | None, field: str) -> NoReturn:
    """Raise 'must be <what>, got <type> <value>' for `field` of `source`."""
    raise EvalfleetError(f"must be {what}, got {describe(value)}", source=source, field=field)


def required(what: str, *, source: str | None, field: str) -> NoReturn:
    """Raise 'required (<what>)' for a missing `field` of `source`."""
    raise EvalfleetError(f"required ({what})", source=source, field=field)


def known_keys(raw: Mapping, known: Iterable[str], *, source: str | None, field: str = "", what: str = "key") -> None:
    """Reject the first (sorted) key of `raw` not in `known`; the field named is '<field>.<key>'."""
    known = set(known)
    unknown = sorted((str(k) for k in raw if k not in known), key=str)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise EvalfleetError(f"unknown {what} (known: {listed})", source=source, field=join(field, unknown[0]))


def mapping(value: Any, *, source: str | None, field: str) -> dict:
    """A mapping; None (an empty YAML section) is {}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        wrong("a mapping", value, source=source, field=field)
    return value


def choice(value: Any, allowed: Collection[T], *, source: str | None, field: str) -> T:
    """One of `allowed` (None shown as null)."""
    if value not in allowed:
        listed = ", ".join("null" if a is None else repr(a) for a in allowed)
        wrong(f"one of {listed}", value, source=source, field=field)
    return value


def integer(value: Any, *, source: str | None, field: str, minimum: int | None = None) -> int:
    """An int (not a bool), >= `minimum` when given."""
    if not isinstance(value, int) or isinstance(value, bool) or (minimum is not None and value < minimum):
        wrong("int" if minimum is None else f"int >= {minimum}", value, source=source, field=field)
    return value


def number(
    value: Any, *, source: str | None, field: str, minimum: float | None = None, fractions: bool = False
) -> float:
    """An int or float (not a bool), >= `minimum` when given; with `fractions`, also a string like '1/3'."""
    got = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        got = float(value)
    elif fractions and isinstance(value, str):
        try:
            got = float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            pass
    if got is None or (minimum is not None and got < minimum):
        what = "a number or a fraction like 1/3" if fractions else "a number"
        wrong(what if minimum is None else f"{what} >= {minimum:g}", value, source=source, field=field)
    return got


def string(value: Any, *, source: str | None, field: str, nonempty: bool = False) -> str:
    """A string (non-empty when asked)."""
    if not isinstance(value, str) or (nonempty and not value):
        wrong("a non-empty string" if nonempty else "a string", value, source=source, field=field)
    return value


def strings(value: Any, *, source: str | None, field: str, what: str = "a list of strings") -> tuple[str, ...]:
    """A list of strings, as a tuple."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        wrong(what, value, source=source, field=field)
    return tuple(value)
