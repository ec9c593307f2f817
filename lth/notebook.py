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


def show_table(frame) -> None:
    """Display ``frame`` with every cell in full: pandas otherwise cuts text at 50 characters,
    which turns a table of claims into a table of "All pruned models beat the dense one...".
    """
    import pandas as pd
    from IPython.display import display

    with pd.option_context("display.max_colwidth", None):
        display(frame)
