"""Grammars (structured_outputs.grammar): the simple part of xgrammar's EBNF (GBNF) and of Lark."""

from __future__ import annotations

import math
import random
import re

from simulator.regex import regex_text
from simulator.text import ALNUM


class _UnsupportedGrammar(Exception):
    """A grammar the simulator cannot follow; the message says why, for the answer."""


_EBNF_TOKEN = re.compile(
    r"""(?P<skip>\s+|\#[^\n]*)
    |(?P<lit>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<cls>\[(?:[^\]\\]|\\.)*\])
    |(?P<name>[A-Za-z_][\w-]*)
    |(?P<op>::=|\d+|[|()*+?{},])""",
    re.X,
)
_LARK_TOKEN = re.compile(
    r"""(?P<skip>[ \t\r\f]+|//[^\n]*|->\s*\w+)  # an alias (-> name) only names the tree
    |(?P<newline>\n)
    |(?P<lit>"(?:[^"\\\n]|\\.)*"i?|'(?:[^'\\\n]|\\.)*'i?)
    |(?P<re>/(?:[^/\\\n]|\\.)+/[imsux]*)
    |(?P<name>[A-Za-z_]\w*(?:\.-?\d+)?)
    |(?P<op>\.\.|\d+|[:|()*+?\[\]~!])""",
    re.X,
)
# Lark's common.lark terminals, as regular expressions for text each accepts.
_LARK_COMMON = {
    "DIGIT": "[0-9]",
    "HEXDIGIT": "[a-fA-F0-9]",
    "INT": "[0-9]+",
    "SIGNED_INT": "[+-]?[0-9]+",
    "DECIMAL": r"[0-9]+\.[0-9]+",
    "FLOAT": r"[0-9]+\.[0-9]+",
    "SIGNED_FLOAT": r"[+-]?[0-9]+\.[0-9]+",
    "NUMBER": r"[0-9]+(\.[0-9]+)?",
    "SIGNED_NUMBER": r"[+-]?[0-9]+(\.[0-9]+)?",
    "LETTER": "[A-Za-z]",
    "LCASE_LETTER": "[a-z]",
    "UCASE_LETTER": "[A-Z]",
    "WORD": "[A-Za-z]+",
    "CNAME": "[A-Za-z_][A-Za-z0-9_]*",
    "ESCAPED_STRING": '"[a-z]+( [a-z]+)?"',
    "WS": "[ \t\f\r\n]+",
    "WS_INLINE": "[ \t]+",
    "NEWLINE": "\n",
    "CR": "\r",
    "LF": "\n",
}
_LARK_IMPORT = re.compile(r"%import\s+common\s*(?:\.\s*(\w+)(?:\s*->\s*(\w+))?|\(([\w\s,]+)\))\s*$")
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_GRAMMAR_DEPTH = 12  # rule references deeper than this take the shortest way out
_GRAMMAR_SIZE = 2000  # characters; past them too


def grammar_text(grammar: str, rng: random.Random, topic: list[str]) -> str:
    """Text the grammar accepts, or a sentence saying the simulator cannot follow it."""
    try:
        return _Grammar(grammar).text(rng, topic)
    except _UnsupportedGrammar as error:
        return f"The simulator cannot follow this grammar: {error}."
    except RecursionError:
        return "The simulator cannot follow this grammar: it nests too deeply."
    except (re.error, ValueError, OverflowError) as error:
        return f"The simulator cannot follow this grammar: {error}."


class _Grammar:
    """A grammar's rules, parsed, and text they accept.

    EBNF when the grammar has ``::=`` (root rule ``root``), else Lark (root rule ``start``).
    A rule is ("lit", text), ("range", low, high), ("cls" | "re", pattern), ("ref", name),
    ("seq", items), ("alt", options) or ("rep", item, low, high), high None for no limit.
    """

    def __init__(self, grammar: str) -> None:
        self.lark = "::=" not in grammar
        self.rules: dict[str, tuple] = {}
        self.separator = ""  # Lark's %ignore of spaces lets rules put one between their terms
        ignored = self._parse_lark(grammar) if self.lark else self._parse_ebnf(grammar)
        self.root = "start" if self.lark else "root"
        if self.root not in self.rules:
            raise _UnsupportedGrammar(f"it has no `{self.root}` rule")
        for body in self.rules.values():
            self._check_refs(body)
        if any(self._accepts_space(expr, 0) for expr in ignored):
            self.separator = " "
        self.heights = self._heights()
        if math.isinf(self.heights[self.root]):
            raise _UnsupportedGrammar("its rules never end")

    # -- parsing ------------------------------------------------------------------------------

    def _tokens(self, text: str) -> list[tuple[str, str]]:
        pattern = _LARK_TOKEN if self.lark else _EBNF_TOKEN
        tokens, at = [], 0
        while at < len(text):
            match = pattern.match(text, at)
            if match is None:
                raise _UnsupportedGrammar(f"it uses syntax it does not know at `{text[at:][:20]}`")
            if match.lastgroup != "skip":
                tokens.append((match.lastgroup, match.group()))
            at = match.end()
        return tokens

    def _parse_ebnf(self, grammar: str) -> list[tuple]:
        tokens = self._tokens(grammar)
        heads = [
            i
            for i in range(len(tokens) - 1)
            if tokens[i][0] == "name" and tokens[i + 1][1] == "::="
        ]
        if not heads or heads[0] != 0:
            raise _UnsupportedGrammar("it does not start with a rule (`name ::= …`)")
        for head, end in zip(heads, [*heads[1:], len(tokens)], strict=True):
            self._define(tokens[head][1], tokens[head + 2 : end])
        return []

    def _parse_lark(self, grammar: str) -> list[tuple]:
        ignored, lines = [], []
        for line in grammar.splitlines():
            stripped = line.strip()
            if not stripped.startswith("%"):
                lines.append(line)
            elif stripped.startswith("%ignore"):
                ignored.append(self._expression(self._tokens(stripped[len("%ignore") :])))
            elif match := _LARK_IMPORT.match(stripped):
                if match[1]:
                    pairs = [(match[1], match[2] or match[1])]
                else:
                    pairs = [(name, name) for name in re.findall(r"\w+", match[3])]
                for name, alias in pairs:
                    if name not in _LARK_COMMON:
                        raise _UnsupportedGrammar(f"it imports `common.{name}`")
                    self.rules[alias] = ("re", _LARK_COMMON[name])
            else:
                raise _UnsupportedGrammar(f"it uses `{stripped.split()[0]}`")
        # A definition starts a line ("?expr: …", "NAME.2: …"); the lines after it continue it.
        definitions: list[tuple[str, list]] = []
        for line in self._lines(self._tokens("\n".join(lines))):
            start = 1 if line[0][1] in ("?", "!") else 0
            if len(line) > start + 1 and line[start][0] == "name" and line[start + 1][1] == ":":
                definitions.append((line[start][1].split(".")[0], line[start + 2 :]))
            elif definitions:
                definitions[-1][1].extend(line)
            else:
                raise _UnsupportedGrammar("it does not start with a rule (`name: …`)")
        for name, body in definitions:
            self._define(name, body)
        return ignored

    @staticmethod
    def _lines(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
        lines: list[list[tuple[str, str]]] = [[]]
        for token in tokens:
            if token[0] == "newline":
                lines.append([])
            else:
                lines[-1].append(token)
        return [line for line in lines if line]

    def _define(self, name: str, body: list[tuple[str, str]]) -> None:
        if name in self.rules:
            raise _UnsupportedGrammar(f"it defines `{name}` twice")
        self.rules[name] = self._expression(body)

    def _expression(self, tokens: list[tuple[str, str]]) -> tuple:
        self._at, self._body = 0, tokens
        expr = self._alternatives()
        if self._at < len(tokens):
            raise _UnsupportedGrammar(f"it uses syntax it does not know at `{tokens[self._at][1]}`")
        return expr

    def _peek(self) -> str | None:
        return self._body[self._at][1] if self._at < len(self._body) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self._at >= len(self._body) or (expected and self._body[self._at][1] != expected):
            raise _UnsupportedGrammar(f"a `{expected or 'term'}` is missing")
        self._at += 1
        return self._body[self._at - 1]

    def _alternatives(self) -> tuple:
        options = [self._sequence()]
        while self._peek() == "|":
            self._take()
            options.append(self._sequence())
        return options[0] if len(options) == 1 else ("alt", options)

    def _sequence(self) -> tuple:
        items = []
        while self._peek() not in (None, "|", ")", "]"):
            items.append(self._postfix(self._atom()))
        return items[0] if len(items) == 1 else ("seq", items)

    def _atom(self) -> tuple:
        kind, text = self._take()
        if kind == "lit":
            literal = ("lit", self._unescape(text.removesuffix("i")[1:-1]))
            if self._peek() != "..":
                return literal
            self._take()
            high = self._unescape(self._take()[1].removesuffix("i")[1:-1])
            if len(literal[1]) != 1 or len(high) != 1:
                raise _UnsupportedGrammar("a `..` range is not between two characters")
            return ("range", literal[1], high)
        if kind == "cls":
            return ("cls", text)
        if kind == "re":
            body, flags = text[1:].rsplit("/", 1)
            return ("re", (f"(?{flags})" if flags else "") + body.replace("\\/", "/"))
        if kind == "name":
            return ("ref", text)
        if text in ("(", "["):
            inner = self._alternatives()
            if text == "(":
                self._take(")")
                return inner
            self._take("]")
            return ("rep", inner, 0, 1)  # Lark's [optional]
        raise _UnsupportedGrammar(f"it uses syntax it does not know at `{text}`")

    def _postfix(self, item: tuple) -> tuple:
        while (mark := self._peek()) in ("*", "+", "?", "{", "~"):
            self._take()
            if mark in ("*", "+", "?"):
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[mark]
            elif mark == "~":  # Lark: item ~ 3, item ~ 2..5
                low = high = int(self._take()[1])
                if self._peek() == "..":
                    self._take()
                    high = int(self._take()[1])
            else:  # EBNF: item{3}, item{2,5}, item{2,}
                low = high = int(self._take()[1])
                if self._peek() == ",":
                    self._take()
                    high = None if self._peek() == "}" else int(self._take()[1])
                self._take("}")
            item = ("rep", item, low, high)
        return item

    @staticmethod
    def _unescape(text: str) -> str:
        def one(match: re.Match) -> str:
            code = match[1]
            if code[0] in "xuU" and len(code) > 1:
                return chr(int(code[1:], 16))
            return _ESCAPES.get(code, code)

        return _ESCAPE.sub(one, text)

    def _check_refs(self, expr: tuple) -> None:
        if expr[0] == "ref" and expr[1] not in self.rules:
            raise _UnsupportedGrammar(f"the rule `{expr[1]}` is not defined")
        if expr[0] in ("seq", "alt"):
            for item in expr[1]:
                self._check_refs(item)
        elif expr[0] == "rep":
            self._check_refs(expr[1])

    def _accepts_space(self, expr: tuple, depth: int) -> bool:
        kind = expr[0]
        if kind == "lit":
            return expr[1] == " "
        if kind in ("cls", "re"):
            return re.fullmatch(expr[1], " ") is not None
        if kind == "ref" and depth < 5:
            return self._accepts_space(self.rules.get(expr[1], ("seq", [])), depth + 1)
        if kind == "alt":
            return any(self._accepts_space(option, depth) for option in expr[1])
        if kind == "rep":
            return expr[2] <= 1 and expr[3] != 0 and self._accepts_space(expr[1], depth)
        return False

    def _heights(self) -> dict[str, float]:
        """Per rule, the fewest nested rule references it takes to finish (inf: never)."""
        heights = dict.fromkeys(self.rules, math.inf)
        changed = True
        while changed:
            changed = False
            for name, body in self.rules.items():
                height = self._height(body, heights)
                if height < heights[name]:
                    heights[name], changed = height, True
        return heights

    def _height(self, expr: tuple, heights: dict[str, float]) -> float:
        kind = expr[0]
        if kind == "ref":
            return heights[expr[1]] + 1
        if kind == "seq":
            return max((self._height(item, heights) for item in expr[1]), default=0)
        if kind == "alt":
            return min(self._height(option, heights) for option in expr[1])
        if kind == "rep":
            return 0 if expr[2] == 0 else self._height(expr[1], heights)
        return 0

    # -- writing ------------------------------------------------------------------------------

    def text(self, rng: random.Random, topic: list[str]) -> str:
        self._rng, self._topic, self._written = rng, topic, 0
        return self._write(("ref", self.root), 0, terminal=False)

    def _write(self, expr: tuple, depth: int, *, terminal: bool) -> str:
        kind, rng = expr[0], self._rng
        # Deep or long, every choice takes the shortest way out so that the text ends.
        short = depth > _GRAMMAR_DEPTH or self._written > _GRAMMAR_SIZE
        if kind == "lit":
            self._written += len(expr[1])
            return expr[1]
        if kind == "range":
            self._written += 1
            return chr(rng.randint(ord(expr[1]), ord(expr[2])))
        if kind in ("cls", "re"):
            text = self._pattern_text(expr[1])
            self._written += len(text)
            return text
        if kind == "ref":
            name = expr[1]
            # Lark's upper-case names are terminals: their parts join without a separator.
            inner = terminal or (self.lark and name.lstrip("_")[:1].isupper())
            return self._write(self.rules[name], depth + 1, terminal=inner)
        if kind == "alt":
            options = expr[1]
            if short:
                least = min(self._height(o, self.heights) for o in options)
                options = [o for o in options if self._height(o, self.heights) == least]
            return self._write(rng.choice(options), depth, terminal=terminal)
        if kind == "seq":
            parts = [self._write(item, depth, terminal=terminal) for item in expr[1]]
        else:  # rep
            _, item, low, high = expr
            # Optional spacing stays out, as a model's would; other repeats vary a little.
            most = low if short or self._spacing(item) else low + 3
            count = rng.randint(low, most if high is None else min(high, most))
            parts = [self._write(item, depth, terminal=terminal) for _ in range(count)]
        joiner = "" if terminal else self.separator
        return joiner.join(part for part in parts if part or not joiner)

    @staticmethod
    def _spacing(expr: tuple) -> bool:
        """Whether a class or pattern is whitespace: it takes a space but no letter or digit."""
        return (
            expr[0] in ("cls", "re")
            and re.fullmatch(expr[1], " ") is not None
            and not any(re.fullmatch(expr[1], c) for c in "aA0")
        )

    def _pattern_text(self, pattern: str) -> str:
        """A word of the topic the pattern accepts, else text written from the pattern."""
        if self._spacing(("re", pattern)):
            return " "
        words = [w for w in self._topic if re.fullmatch(pattern, w)]
        if words:
            return self._rng.choice(words)
        text = regex_text(pattern, self._rng)
        if text is None:  # e.g. a negated class: try a few plain characters
            spare = [c for c in ALNUM + " .,-_" if re.fullmatch(pattern, c)]
            if not spare:
                raise _UnsupportedGrammar(f"it cannot write text for `{pattern}`")
            text = self._rng.choice(spare)
        return text
