"""Per-character properties of Python source, to compare with the hidden units of a character model.

``code_features(text)`` reads ``text`` with Python's own ``tokenize`` and returns, for every
character, whether it is inside a string literal, a docstring, a comment or brackets, whether it is
part of a line's indentation, and its column. Chapter 1 (vanilla RNN) and Chapter 4 (LSTM) correlate
hidden units with these.

Every indicator describes the state *after* reading the character, the moment a model's hidden state
is recorded: an opening quote or bracket is already inside, the closing one is outside again.

Text cut from the middle of a file need not tokenize. The scanner keeps what ``tokenize`` produced
before a failure: a string left open at the end of the text runs to its end, brackets left open stay
open, and after an indentation error tokenizing starts again at that line (where no string, comment
or bracket can be open).
"""
import io
import tokenize

import numpy as np

NAMES = ("string", "docstring", "comment", "inside brackets", "indentation", "column")
_OPEN, _CLOSE = "([{", ")]}"
_SKIP = (tokenize.NL, tokenize.COMMENT, tokenize.ENCODING)
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python >= 3.12 splits f-strings
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


def code_features(text: str) -> dict[str, np.ndarray]:
    """Per-character indicators of Python source ``text``, each an array of shape (len(text),).

    - 'string': 1 inside a string literal (docstrings and f-strings included), from the opening
      quote (after any prefix such as r or f) up to, not including, the last closing quote
    - 'docstring': 1 inside a docstring: a string that is the first statement of a body (or of the text)
    - 'comment': 1 from '#' to the end of its line, the newline excluded
    - 'inside brackets': 1 from an opening (, [ or { up to, not including, its closing bracket
    - 'indentation': 1 on a line's leading spaces and on its newline (where the next line's
      indentation begins)
    - 'column': 0, 1, 2, ... along each line; a newline has the column after its line's last character
    All are float arrays; every one is 0/1 except 'column'.
    """
    n = len(text)
    lines = io.StringIO(text).readlines()                # split at '\n' only, as tokenize does
    line_start = np.cumsum([0] + [len(line) for line in lines])
    features = {name: np.zeros(n) for name in NAMES}
    depth_change = np.zeros(n + 1)
    row = 1
    while row <= len(lines):
        row = _scan(text, line_start, row, features, depth_change)
    depth, events = 0, np.flatnonzero(depth_change[:n])
    for i, j in zip(events, list(events[1:]) + [n]):    # a stray closing bracket does not go below 0
        depth = max(depth + int(depth_change[i]), 0)
        features["inside brackets"][i:j] = float(depth > 0)
    for start, line in zip(line_start, lines):
        body = line.rstrip("\r\n")
        features["indentation"][start:start + len(body) - len(body.lstrip(" "))] = 1
        features["indentation"][start + len(body):start + len(line)] = 1
        features["column"][start:start + len(line)] = np.arange(len(line))
    return features


def _scan(text, line_start, first_row, features, depth_change) -> int:
    """Tokenize ``text`` from line ``first_row`` (1-based) on and mark what it finds.

    Returns the line to start again from after an indentation error, or past the last line when
    the rest of the text is done.
    """
    offset = line_start[first_row - 1]
    at = lambda pos: line_start[first_row + pos[0] - 2] + pos[1]      # (row, col) -> index in text
    tokens = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text[offset:]).readline):
            tokens.append(tok)
    except IndentationError as error:                   # a dedent to a level never opened
        _mark(tokens, at, features, depth_change)
        return first_row + max(error.lineno - 1, 1)
    except tokenize.TokenError as error:                # text ends inside a string or brackets
        _mark(tokens, at, features, depth_change)
        if "string" in error.args[0]:
            start = at(error.args[1])
            start += len(text[start:start + 3]) - len(text[start:start + 3].lstrip("rRbBuUfF"))
            features["string"][start:] = 1
            if _opens_body(tokens, len(tokens)) and text[start:start + 3] in ('"""', "'''"):
                features["docstring"][start:] = 1
        return len(line_start)
    except SyntaxError as error:                        # any other failure: go on at the next line
        _mark(tokens, at, features, depth_change)
        return first_row + max(getattr(error, "lineno", 1) or 1, 1)
    _mark(tokens, at, features, depth_change)
    return len(line_start)


def _mark(tokens, at, features, depth_change) -> None:
    """Mark strings, docstrings, comments and bracket changes of ``tokens`` (positions via ``at``)."""
    fstring_starts = []
    for k, tok in enumerate(tokens):
        s, e = at(tok.start), at(tok.end)
        if tok.type == tokenize.STRING or tok.type == _FSTRING_START:
            quote_at = s + len(tok.string) - len(tok.string.lstrip("rRbBuUfF"))
            if tok.type == _FSTRING_START:
                fstring_starts.append((quote_at, _opens_body(tokens, k)))
                continue
            features["string"][quote_at:e - 1] = 1
            if _opens_body(tokens, k) and _ends_statement(tokens, k):
                features["docstring"][quote_at:e - 1] = 1
        elif tok.type == _FSTRING_END and fstring_starts:
            quote_at, _ = fstring_starts.pop()
            features["string"][quote_at:e - 1] = 1
        elif tok.type == tokenize.COMMENT:
            features["comment"][s:e] = 1
        elif tok.type == tokenize.OP and tok.string in _OPEN and not fstring_starts:
            depth_change[s] += 1
        elif tok.type == tokenize.OP and tok.string in _CLOSE and not fstring_starts:
            depth_change[s] -= 1
        elif tok.type == tokenize.ERRORTOKEN and tok.string in ("'", '"'):   # unterminated 'string
            line_end = e + len(tok.line) - tok.end[1]
            features["string"][s:line_end - 1 if tok.line.endswith("\n") else line_end] = 1


def _opens_body(tokens, k) -> bool:
    """Whether token k is the first of a body: after an INDENT, or first in the text."""
    previous = next((tokens[j] for j in range(k - 1, -1, -1) if tokens[j].type not in _SKIP), None)
    return previous is None or previous.type == tokenize.INDENT


def _ends_statement(tokens, k) -> bool:
    """Whether token k is the whole rest of its statement (a NEWLINE or the end comes next)."""
    following = next((tokens[j] for j in range(k + 1, len(tokens)) if tokens[j].type not in _SKIP), None)
    return following is None or following.type in (tokenize.NEWLINE, tokenize.ENDMARKER)
