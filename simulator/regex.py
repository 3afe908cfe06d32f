"""Text that a simple regular expression accepts, written from the standard library's parse."""

from __future__ import annotations

import random
import re
import string

# The standard library's own regular expression parser, to write text a pattern accepts.
try:
    from re import _parser as _sre_parser  # Python 3.11+
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parser  # type: ignore[no-redef]


def regex_text(pattern: str, rng: random.Random) -> str | None:
    """A short text matching a simple regular expression; None when it is not simple."""
    try:
        parsed = _sre_parser.parse(pattern)
        text = "".join(_from_regex(list(parsed), rng, {}))
    except (re.error, ValueError, KeyError, OverflowError, RecursionError):
        return None
    return text if re.fullmatch(pattern, text) else None


def _from_regex(items: list, rng: random.Random, groups: dict[int, str]) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("x" if chr(arg) != "x" else "y")
        elif name == "ANY":
            out.append(rng.choice(string.ascii_lowercase))
        elif name == "IN":
            out.append(_from_class(arg, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, inner = arg
            count = rng.randint(low, min(high, low + 3))
            for _ in range(count):
                out += _from_regex(list(inner), rng, groups)
        elif name == "SUBPATTERN":
            group, _, _, inner = arg
            text = "".join(_from_regex(list(inner), rng, groups))
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name == "ATOMIC_GROUP":
            out += _from_regex(list(arg), rng, groups)
        elif name == "BRANCH":
            out += _from_regex(list(rng.choice(arg[1])), rng, groups)
        elif name == "GROUPREF":
            out.append(groups[arg])
        elif name != "AT":  # anchors produce nothing; lookarounds are not simple
            raise ValueError(f"not simple: {name}")
    return out


_CATEGORIES = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_WORD": string.ascii_letters + string.digits + "_",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": string.ascii_letters,
    "CATEGORY_NOT_WORD": " -.",
    "CATEGORY_NOT_SPACE": string.ascii_letters,
}


def _from_class(items: list, rng: random.Random) -> str:
    choices: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            raise ValueError("not simple: negated class")
        if name == "LITERAL":
            choices.append(chr(arg))
        elif name == "RANGE":
            choices.append(chr(rng.randint(*arg)))
        elif name == "CATEGORY":
            choices.append(rng.choice(_CATEGORIES[str(arg)]))
        else:
            raise ValueError(f"not simple: {name}")
    return rng.choice(choices)
