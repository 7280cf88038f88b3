"""CQL2 Text (OGC 21-065) → filter tree, by recursive descent.

The subset the platform serves: Basic CQL2 (comparison, LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT,
parentheses, string/number/boolean literals, DATE/TIMESTAMP), the spatial functions S_* with
WKT or BBOX literals, and ``S_DWITHIN(a, b, distance, units)``. Keywords and function names are
case-insensitive; a property whose name is a keyword is written in double quotes.
"""

from __future__ import annotations

import datetime as dt
import re

import shapely

from cim.cql2.nodes import (
    SPATIAL_OPS,
    WKT_TYPES,
    Between,
    BoolConst,
    Budget,
    Compare,
    DWithin,
    FilterError,
    In,
    IsNull,
    Like,
    Lit,
    Logical,
    Node,
    Not,
    Prop,
    Spatial,
)

# CQL2 Text's identifierStart and identifierPart (OGC 21-065, cql2.bnf): besides ASCII letters,
# ``_`` and ``:``, the letters of every script — a Chinese property name (建筑用途) is written
# unquoted as an English one is; a part may also hold digits, ``.``, combining marks and ‿ ⁀
_ID_START = ("_:A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFE"
             "\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF"
             "\uFDF0-\uFFFD\U00010000-\U000EFFFF")
_ID_PART = _ID_START + ".0-9\u0300-\u036F\u203F-\u2040"
_TOKEN = re.compile(rf"""
    (?P<ws>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")*")
  | (?P<ident>[{_ID_START}][{_ID_PART}]*)
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)
KEYWORDS = {"AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE"}
# full-width punctuation as a Chinese input method types it (＝ （ ） ， ＜ ＞ ＇), outside a
# quoted text; the grammar reads it as a letter of an identifier (use_name＝'住宅' is the
# property "use_name＝" and then a stray text), or as no token at all
_FULL_WIDTH = re.compile("'(?:[^']|'')*'|([\uFF01-\uFF0F\uFF1A-\uFF20\uFF3B-\uFF40"
                         "\uFF5B-\uFF5E])")


class FullWidthError(FilterError):
    """A filter that fails to parse and holds full-width punctuation: what to type instead
    (no ECQL either: pygeoapi's parser would only say "Bad CQL text")."""


class Token:
    __slots__ = ("kind", "text", "pos", "end")

    def __init__(self, kind: str, text: str, pos: int, end: int) -> None:
        self.kind, self.text, self.pos, self.end = kind, text, pos, end

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "ident" else ""

    def describe(self) -> str:
        return "end of filter" if self.kind == "eof" else repr(self.text)


class Parser:
    def __init__(self, text: str, budget: Budget) -> None:
        self.src = text
        self.budget = budget
        self.i = 0
        self._peeked: Token | None = None

    # -- tokens -----------------------------------------------------------------------
    def _lex(self) -> Token:
        while True:
            if self.i >= len(self.src):
                return Token("eof", "", self.i + 1, self.i)
            m = _TOKEN.match(self.src, self.i)
            if m is None:
                ch = self.src[self.i]
                if ch == "'":
                    raise FilterError("unterminated string literal", self.i + 1)
                raise FilterError(f"unexpected character {ch!r}", self.i + 1)
            start, self.i = self.i, m.end()
            if m.lastgroup != "ws":
                return Token(m.lastgroup, m.group(), start + 1, m.end())

    def peek(self) -> Token:
        if self._peeked is None:
            self._peeked = self._lex()
        return self._peeked

    def take(self) -> Token:
        t = self.peek()
        self._peeked = None
        return t

    def expect(self, text: str) -> Token:
        t = self.take()
        if t.text.upper() != text:
            raise FilterError(f"expected {text!r}, found {t.describe()}", t.pos)
        return t

    def keyword(self, word: str) -> bool:
        if self.peek().upper == word:
            self.take()
            return True
        return False

    # -- grammar ----------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.expression(0)
        t = self.peek()
        if t.kind != "eof":
            msg = "unbalanced ')'" if t.text == ")" else f"unexpected {t.describe()}"
            raise FilterError(msg, t.pos)
        return node

    def expression(self, depth: int) -> Node:
        return self._chain("OR", self.term, depth)

    def term(self, depth: int) -> Node:
        return self._chain("AND", self.factor, depth)

    def _chain(self, word: str, sub, depth: int) -> Node:
        pos = self.peek().pos
        args = [sub(depth)]
        while self.keyword(word):
            args.append(sub(depth))
        return args[0] if len(args) == 1 else Logical(word, args, pos=pos)

    def factor(self, depth: int) -> Node:
        t = self.peek()
        self.budget.depth(depth, t.pos)
        self.budget.node(t.pos)
        if self.keyword("NOT"):
            return Not(self.factor(depth + 1), pos=t.pos)
        if t.text == "(":
            self.take()
            node = self.expression(depth + 1)
            close = self.take()
            if close.text != ")":
                raise FilterError(f"unbalanced '(': expected ')', found {close.describe()}",
                                  close.pos)
            return node
        if t.upper in ("TRUE", "FALSE") and self._after_is_end():
            self.take()
            return BoolConst(t.upper == "TRUE", pos=t.pos)
        if t.kind == "ident" and t.upper in SPATIAL_OPS or t.upper == "S_DWITHIN":
            return self.spatial()
        return self.predicate()

    def _after_is_end(self) -> bool:
        """Is the boolean literal just peeked a predicate of its own (not ``TRUE = x``)?"""
        save_i, save_p = self.i, self._peeked
        self.take()
        nxt = self.peek()
        self.i, self._peeked = save_i, save_p
        return nxt.kind == "eof" or nxt.text == ")" or nxt.upper in ("AND", "OR")

    def predicate(self) -> Node:
        lhs = self.scalar()
        t = self.peek()
        if t.kind == "op":
            self.take()
            op = "<>" if t.text == "!=" else t.text
            return Compare(op, lhs, self.scalar(), pos=t.pos)
        negated = self.keyword("NOT")
        if self.keyword("LIKE"):
            return Like(lhs, self.scalar(), negated, pos=t.pos)
        if self.keyword("BETWEEN"):
            low = self.scalar()
            self.expect("AND")
            return Between(lhs, low, self.scalar(), negated, pos=t.pos)
        if self.keyword("IN"):
            return In(lhs, self.scalar_list(), negated, pos=t.pos)
        if negated:
            raise FilterError(f"expected LIKE, BETWEEN or IN after NOT, found "
                              f"{self.peek().describe()}", self.peek().pos)
        if self.keyword("IS"):
            neg = self.keyword("NOT")
            self.expect("NULL")
            return IsNull(lhs, neg, pos=t.pos)
        raise FilterError(f"expected a comparison, LIKE, BETWEEN, IN or IS NULL, found "
                          f"{t.describe()}", t.pos)

    def scalar_list(self) -> list[Node]:
        self.expect("(")
        values = [self.scalar()]
        while self.peek().text == ",":
            self.take()
            values.append(self.scalar())
            if len(values) > self.budget.limits.max_in:
                raise FilterError(f"IN list longer than {self.budget.limits.max_in}",
                                  self.peek().pos)
        self.expect(")")
        return values

    def scalar(self) -> Node:
        t = self.take()
        self.budget.node(t.pos)
        if t.kind == "number":
            v = float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
            return Lit(self.budget.number(v, t.pos), pos=t.pos)
        if t.kind == "string":
            return Lit(self.budget.string(t.text[1:-1].replace("''", "'"), t.pos), pos=t.pos)
        if t.kind == "qident":
            return Prop(t.text[1:-1].replace('""', '"'), pos=t.pos)
        if t.kind == "ident":
            if t.upper in ("TRUE", "FALSE"):
                return Lit(t.upper == "TRUE", pos=t.pos)
            if self.peek().text == "(":
                return self.function(t)
            if t.upper in KEYWORDS:
                raise FilterError(f"unexpected keyword {t.text}", t.pos)
            return Prop(t.text, pos=t.pos)
        raise FilterError(f"expected a property or a literal, found {t.describe()}", t.pos)

    def function(self, name: Token) -> Node:
        """DATE('…') / TIMESTAMP('…'); any other function is refused by name."""
        if name.upper in ("DATE", "TIMESTAMP"):
            self.expect("(")
            s = self.take()
            if s.kind != "string":
                raise FilterError(f"{name.upper} takes a quoted string", s.pos)
            self.expect(")")
            return Lit(temporal(name.upper, s.text[1:-1], s.pos), pos=name.pos)
        raise FilterError(f"unknown function {name.text}", name.pos)

    # -- spatial ----------------------------------------------------------------------
    def spatial(self) -> Node:
        name = self.take()
        self.expect("(")
        lhs = self.geom_arg()
        self.expect(",")
        rhs = self.geom_arg()
        if name.upper == "S_DWITHIN":
            self.expect(",")
            d = self.scalar()
            self.expect(",")
            u = self.take()
            if u.kind not in ("ident", "string"):
                raise FilterError("S_DWITHIN needs units (meters or kilometers)", u.pos)
            units = u.text.strip("'")
            self.expect(")")
            value = d.value if isinstance(d, Lit) else None
            return DWithin(lhs, rhs, self.budget.distance(value, units, d.pos), pos=name.pos)
        self.expect(")")
        return Spatial(name.upper, lhs, rhs, pos=name.pos)

    def geom_arg(self) -> Node:
        t = self.peek()
        self.budget.node(t.pos)
        if t.kind == "ident" and t.upper == "BBOX":
            self.take()
            return bbox_literal(self.number_list(), t.pos, self.budget)
        if t.kind == "ident" and t.upper in WKT_TYPES:
            self.take()
            return self.wkt(t)
        if t.kind in ("ident", "qident"):
            return self.scalar()
        raise FilterError(f"expected a geometry property, a WKT geometry or BBOX(...), found "
                          f"{t.describe()}", t.pos)

    def number_list(self) -> list[float]:
        self.expect("(")
        out = []
        while True:
            t = self.take()
            if t.kind != "number":
                raise FilterError(f"expected a number, found {t.describe()}", t.pos)
            out.append(float(self.budget.number(float(t.text), t.pos)))
            sep = self.take()
            if sep.text == ")":
                return out
            if sep.text != ",":
                raise FilterError(f"expected ',' or ')', found {sep.describe()}", sep.pos)

    def wkt(self, kw: Token) -> Node:
        """The WKT text from the keyword to its balanced closing parenthesis, read by GEOS."""
        j = self.i
        depth, started = 0, False
        while j < len(self.src):
            ch = self.src[j]
            if ch == "(":
                depth, started = depth + 1, True
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            elif not started and not (ch.isalpha() or ch.isspace()):
                break
            j += 1
        if not started or depth != 0:
            raise FilterError(f"unbalanced parentheses in {kw.upper} literal", kw.pos)
        text = self.src[kw.pos - 1:j + 1]
        self.i = j + 1
        self._peeked = None
        try:
            g = shapely.from_wkt(text)
        except shapely.errors.GEOSException as exc:
            raise FilterError(f"invalid {kw.upper} literal: {exc}", kw.pos) from None
        return self.budget.geometry(g, kw.pos)


def bbox_literal(values: list[float], pos, budget: Budget) -> Node:
    """BBOX(x1, y1, x2, y2) or with z: the rectangle, corners in the filter CRS's axis order."""
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4:
        raise FilterError("BBOX takes 4 or 6 numbers", pos)
    x0, y0, x1, y1 = values
    if x0 > x1 or y0 > y1:
        raise FilterError("BBOX: the lower corner must come first", pos)
    return budget.geometry(shapely.box(x0, y0, x1, y1), pos)


def temporal(kind: str, s: str, pos) -> dt.date | dt.datetime:
    try:
        if kind == "DATE":
            return dt.date.fromisoformat(s)
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"invalid {kind} {s!r}", pos) from None


def parse_text(text: str, budget: Budget) -> Node:
    if not text.strip():
        raise FilterError("empty filter", 1)
    try:
        return Parser(text, budget).parse()
    except FilterError as exc:
        wide = next((m for m in _FULL_WIDTH.finditer(text) if m[1]), None)
        if wide is None:
            raise
        half = chr(ord(wide[1]) - 0xFEE0)  # the ASCII character of a full-width form
        raise FullWidthError(f"{exc.message}; the filter holds a full-width {wide[1]!r} at "
                             f"character {wide.start() + 1}: CQL2 is written with "
                             f"{half!r}", exc.position) from None
