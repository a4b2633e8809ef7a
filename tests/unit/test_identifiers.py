"""Names from specs.json become valid, distinct C identifiers and Python names."""
from __future__ import annotations

import keyword
import re

import pytest

from helpers.emit.identifiers import C_RESERVED, camel_case, identifier

HOSTILE = ["co2_lstm", "my model", "my-model", "my_model", "3dcnn", "int", "while", "class", "modèle", "模型",
           "", "__init__", "a*/b", "x" * 200, "Model", "model"]


@pytest.mark.parametrize("name", HOSTILE)
def test_identifier_is_valid_everywhere(name):
    result = identifier(name)
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", result)
    assert result not in C_RESERVED and not keyword.iskeyword(result)
    assert not result.startswith("__")


def test_identifiers_are_distinct_for_distinct_names():
    results = [identifier(n) for n in HOSTILE]
    assert len(set(results)) == len(HOSTILE)


def test_clean_names_are_kept_and_camel_cased():
    assert identifier("co2_lstm") == "co2_lstm"
    assert camel_case("co2_lstm") == "Co2Lstm"
