"""Helpers for the chapter notebooks: parameter checking and result tables."""
from __future__ import annotations

import ast
import types


def check_parameters(namespace: dict, schema: dict) -> types.SimpleNamespace:
    """Validate a notebook's UPPER_CASE parameters against ``schema`` {name: type or tuple of types}.

    Unknown UPPER_CASE names (e.g. a misspelt papermill ``-p``) and wrong types
    fail with a message naming the parameter, its value and what is allowed.
    Lists given as text (papermill ``-p NAME "[1, 2]"``) are parsed.
    """
    given = {k: v for k, v in namespace.items() if k.isupper() and not k.startswith("_")}
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise ValueError(f"unknown notebook parameters {unknown}; allowed: {sorted(schema)}")
    values = {}
    for name, expected in schema.items():
        if name not in given:
            raise ValueError(f"notebook parameter {name} is missing from the parameters cell")
        value = given[name]
        expected = expected if isinstance(expected, tuple) else (expected,)
        if isinstance(value, str) and str not in expected:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                pass
        if float in expected and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            allowed = " or ".join(t.__name__ if t is not type(None) else "None" for t in expected)
            raise TypeError(f"notebook parameter {name} must be {allowed}, got {value!r}")
        values[name] = value
    return types.SimpleNamespace(**values)


def format_table(frame, percent=(), digits: int = 4, missing: str = "–"):
    """``frame`` as text for reading: missing values (``NaN``, ``<NA>``) as ``missing``, the columns
    named in ``percent`` (fractions) as percentages with two decimals, other floats to ``digits``
    significant figures without exponents below ``10**digits``, large integers with thousands separators.
    """
    import math

    import pandas as pd

    unknown = sorted(set(percent) - set(frame.columns))
    if unknown:
        raise ValueError(f"percent columns {unknown} are not in the table; its columns: {list(frame.columns)}")

    def cell(value, as_percent):
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return missing
        if as_percent and isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{value:.2%}"
        if isinstance(value, float):
            return f"{value:,.0f}" if abs(value) >= 10 ** digits else f"{value:.{digits}g}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    text = frame.astype(object).copy()
    for column in frame.columns:
        as_percent = column in percent
        text[column] = [cell(v.item() if hasattr(v, "item") else v, as_percent) for v in frame[column]]
    return text


class _Table:
    """A formatted table: HTML (with a caption) in the book, plain text elsewhere."""

    def __init__(self, text, caption):
        from html import escape

        import pandas as pd

        self.text, self.caption = text, caption
        # a default 0..n-1 index is row numbering, not data: the reader sees only named indexes
        self.index = not (isinstance(text.index, pd.RangeIndex) and text.index.name is None)
        html = text.to_html(border=0, escape=True, index=self.index)
        if caption:
            start = html.index(">") + 1
            html = f"{html[:start]}\n  <caption>{escape(caption)}</caption>{html[start:]}"
        self.html = html

    def _repr_html_(self):
        return self.html

    def __repr__(self):
        return (f"{self.caption}\n" if self.caption else "") + self.text.to_string(index=self.index)


def show_table(frame, caption: str | None = None, percent=(), digits: int = 4, missing: str = "–") -> None:
    """Display ``frame`` for reading (see :func:`format_table`), with ``caption`` above it and every
    cell in full: pandas otherwise cuts text at 50 characters, which turns a table of claims into a
    table of "All pruned models beat the dense one...".
    """
    import pandas as pd
    from IPython.display import display

    text = format_table(frame, percent, digits, missing)
    if frame.empty:
        # a sweep not trained yet: a sentence, not a header row over nothing
        lead = f"{caption.rstrip('.:; ')}: nothing" if caption else "Nothing"
        display(_Sentence(f"{lead} stored yet at this page's scale (the introduction's training status says "
                          "what is left and the command that trains it)."))
        return
    with pd.option_context("display.max_colwidth", None):
        display(_Table(text, caption))


class _Sentence:
    """A line of text: a paragraph in the book, plain text elsewhere."""

    def __init__(self, text):
        self.text = text

    def _repr_html_(self):
        from html import escape

        return f"<p>{escape(self.text)}</p>"

    def __repr__(self):
        return self.text
