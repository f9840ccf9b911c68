"""course_lib.code_features against indicators written out by hand.

In each case the code is written on one line, '|' standing for a newline, and the expected
indicator on the line under it: '^' where it is 1, a space where it is 0.
"""
import numpy as np
import pytest

from course_lib.code_features import NAMES, code_features


def expected(code_row: str, mark_row: str) -> tuple[str, np.ndarray]:
    """The code ('|' -> newline) and the 0/1 indicator that the marks under it spell."""
    mark_row = mark_row.ljust(len(code_row))
    assert len(mark_row) == len(code_row), "a mark row longer than its code row"
    return code_row.replace("|", "\n"), np.array([float(m == "^") for m in mark_row])


CASES = [
    # strings: from the opening quote (after a prefix) up to, not including, the closing quote
    ("string",
     'x = "ab" + r"c"|',
     '    ^^^     ^^  '),
    ("string",
     'y = f"{a}" """q|r"""|',
     '     ^^^^  ^^^^^^^^  '),
    # a docstring is the first statement of a body; other triple-quoted strings are not
    ("docstring",
     'def f():|    """Doc."""|    x = """no"""|',
     '             ^^^^^^^^^                   '),
    ("docstring",
     '"""Module."""|class A:|    """A."""|',
     '^^^^^^^^^^^^               ^^^^^^^  '),
    ("string",
     'def f():|    """Doc."""|',
     '             ^^^^^^^^^  '),
    # comments: '#' to the end of the line, the newline excluded; a '#' in a string is no comment
    ("comment",
     'a = "#"  # note|b = 1  #|',
     '         ^^^^^^        ^ '),
    # brackets: opening bracket inside, closing bracket outside, brackets in strings and comments ignored
    ("inside brackets",
     'f(a, [b])  # (|g("(")|',
     ' ^^^^^^^        ^^^^  '),
    ("inside brackets",
     'x = {|  1: 2}|',
     '    ^^^^^^^^  '),
    # indentation: leading spaces and newlines
    ("indentation",
     'if a:|    b = 1|  # c|',
     '     ^^^^^     ^^^   ^'),
]


@pytest.mark.parametrize("name, code_row, mark_row", CASES)
def test_indicator_matches_hand_marks(name, code_row, mark_row):
    code, indicator = expected(code_row, mark_row)
    np.testing.assert_array_equal(code_features(code)[name], indicator)


def test_column_counts_along_each_line():
    features = code_features("ab\n\n  c\nd")
    np.testing.assert_array_equal(features["column"], [0, 1, 2, 0, 0, 1, 2, 3, 0])


def test_every_indicator_has_one_value_per_character():
    code = "def f(x):\n    return x  # done\n"
    features = code_features(code)
    assert tuple(features) == NAMES
    for name, values in features.items():
        assert values.shape == (len(code),), name


@pytest.mark.parametrize("name, code_row, mark_row", [
    # cut inside a triple-quoted string: the string runs to the end of the text
    ("string",
     'x = 1|s = """ab|cd',
     '          ^^^^^^^^'),
    # cut inside brackets: they stay open
    ("inside brackets",
     'y = g(1,|      2',
     '     ^^^^^^^^^^^'),
    # starts deeper than it ends (text cut from a method): scanning goes on after the dedent
    ("string",
     '        a = 1|    b = "s"|',
     '                      ^^  '),
    # an unterminated one-line string runs to the end of its line
    ("string",
     "s = 'ab|t = (1)|",
     "    ^^^         "),
    ("inside brackets",
     "s = 'ab|t = (1)|",
     "            ^^  "),
])
def test_text_that_does_not_tokenize(name, code_row, mark_row):
    code, indicator = expected(code_row, mark_row)
    np.testing.assert_array_equal(code_features(code)[name], indicator)


def test_empty_text():
    assert all(len(values) == 0 for values in code_features("").values())
