"""Comparing nested results (decisions' JSON) across float paths."""

import pytest


def assert_close(got, expected, where: str = "", *, rel: float, abs: float) -> None:
    """Equal structures: strings, bools, ints and None exactly, floats to within ``rel``/``abs``.
    ``where`` names the first difference in the message."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), where
        for key, value in expected.items():
            assert_close(got[key], value, f"{where}.{key}", rel=rel, abs=abs)
    elif isinstance(expected, list | tuple):
        assert isinstance(got, list | tuple) and len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_close(g, e, f"{where}[{i}]", rel=rel, abs=abs)
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert got == pytest.approx(expected, rel=rel, abs=abs), where
    else:
        assert got == expected and type(got) is type(expected), where
