"""The Lark grammar of EQL and the lexical helpers the EQL parser needs.

The grammar lives in a Python string rather than a ``.lark`` file so that it
ships with the package without any package-data entry.
"""

from __future__ import annotations

import functools
import re

from lark import Lark

GRAMMAR = r"""
start: query pipe*

?query: event_query | sequence | sample

event_query: category "where" expr
category: FIELD | ANY | STRING | TRIPLE_STRING

sequence: "sequence" [by_clause] [with_clause] seq_step+ [until_step]
sample: "sample" [by_clause] [with_clause] seq_step+
seq_step: [MISSING] "[" event_query "]" [by_clause] [with_clause]
until_step: "until" "[" event_query "]" [by_clause]
by_clause: "by" sum ("," sum)*
with_clause: "with" param ("," param)*
param: FIELD "=" (INTERVAL | NUMBER)

pipe: "|" FIELD [expr ("," expr)*]

?expr: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: NOT not_expr -> not_op
    | comparison
?comparison: sum
    | sum (EQ | NEQ | LT | LTE | GT | GTE | COLON | LIKE | LIKE_CI | REGEX | REGEX_CI
           | IN | IN_CI) sum -> compare
    | sum NOT (IN | IN_CI) sum -> not_in
?sum: product
    | sum (PLUS | MINUS) product -> arith
?product: unary
    | product (STAR | SLASH | PERCENT) unary -> arith
?unary: MINUS unary -> neg
    | atom
?atom: literal
    | FIELD -> field
    | FIELD [TILDE] "(" [expr ("," expr)*] ")" -> func
    | "(" expr ")"
    | "(" expr ("," expr)+ ")" -> tuple

literal: STRING | RAW_STRING | TRIPLE_STRING | SQ_STRING | NUMBER | TRUE | FALSE | NULL

_OR: "or"
_AND: "and"
NOT: "not"
ANY: "any"
TRUE: "true"
FALSE: "false"
NULL: "null"
EQ: "=="
NEQ: "!="
LTE: "<="
GTE: ">="
LT: "<"
GT: ">"
COLON: ":"
LIKE: "like"
LIKE_CI: "like~"
REGEX: "regex"
REGEX_CI: "regex~"
IN: "in"
IN_CI: "in~"
TILDE: "~"
MISSING: "!"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
PERCENT: "%"

FIELD: /\??(?:[A-Za-z_@][A-Za-z0-9_@]*|`[^`]*`)(?:\.(?:[A-Za-z0-9_@]+|`[^`]*`))*/
TRIPLE_STRING.3: /"{3}[\s\S]*?"{3}/
RAW_STRING.2: /\?"(?:[^"\\\r\n]|\\.)*"/
STRING: /"(?:[^"\\\r\n]|\\.)*"/
SQ_STRING: /'(?:[^'\\\r\n]|\\.)*'/
INTERVAL.2: /\d+(?:ms|s|m|h|d)\b/
NUMBER: /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/

BLOCK_COMMENT: /\/\*[\s\S]*?\*\//
LINE_COMMENT: /\/\/[^\n]*/
%ignore BLOCK_COMMENT
%ignore LINE_COMMENT
%ignore /\s+/
"""


@functools.cache
def parser() -> Lark:
    """Build the LALR parser once; the contextual lexer keeps keywords and fields apart."""
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=True)


_SIMPLE_ESCAPES = {
    "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f",
    '"': '"', "'": "'", "\\": "\\", "/": "/",
}
_UNICODE_ESCAPE = re.compile(r"u\{([0-9A-Fa-f]{1,8})\}|u([0-9A-Fa-f]{4})")


def unescape(body: str) -> str:
    """Undo the escapes of a quoted EQL string body.

    An unknown escape keeps its backslash, since rule authors write regexes and
    Windows paths where a lone backslash was clearly meant literally.
    """
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\" or i + 1 >= len(body):
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
            continue
        match = _UNICODE_ESCAPE.match(body, i + 1)
        if match:
            out.append(chr(int(match.group(1) or match.group(2), 16)))
            i = match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


def string_value(token: str) -> str:
    """Return the value of a string token as written in the query, quotes and escapes undone."""
    if token.startswith('"""'):
        return token[3:-3]
    if token.startswith('?"'):
        return token[2:-1]
    return unescape(token[1:-1])


def field_name(token: str) -> str:
    """Return a field token without its backtick quoting and optional-field mark."""
    return token.removeprefix("?").replace("`", "")
