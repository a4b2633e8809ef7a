"""`-q`: one quantization, or several compared in one run (`-q int8,int16x8`), and the variants
--PTQ builds from them."""
from __future__ import annotations

import difflib

from helpers.core.quantization import ALL_PTQ, DEFAULT_PTQ, TRAITS, Quantization
from helpers.errors import ConfigError


def _quantization(text: str) -> Quantization:
    """One `-q` name: the converter's value, or the variant's name the report uses (`int16x8`)."""
    for choice in Quantization:
        if text.lower() in (choice.value.lower(), TRAITS[choice].variant_name if choice in TRAITS else None):
            return choice
    names = [q.value for q in Quantization]
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.4)
    hint = f"did you mean `-q {close[0]}`?" if close else "choose one of " + ", ".join(names)
    raise ConfigError(f"Unknown quantization type {text!r}", hint)


def quantization_list(text: str) -> tuple[Quantization, ...]:
    """`-q int8,int16x8`: several quantizations compared in one run, in the order given (`all` alone
    expands to every one); a name given twice counts once."""
    chosen = tuple(dict.fromkeys(_quantization(name.strip()) for name in text.split(",") if name.strip()))
    if not chosen:
        raise ConfigError(f"-q {text!r} names no quantization", "e.g. -q int8, or -q int8,int16x8")
    if len(chosen) > 1 and Quantization.ALL in chosen:
        raise ConfigError("-q all already builds every quantization", "give `all` alone, or a list without it")
    return chosen


def ptq_variants(ptq: bool, asked: tuple[Quantization, ...], notices: list[str]) -> tuple[Quantization, ...]:
    """The variants --PTQ builds from -q as asked (the default under --PTQ, said in a notice)."""
    if not ptq:
        return ()
    if not asked:
        asked = (DEFAULT_PTQ,)
        notices.append(f"--PTQ without -q: using {DEFAULT_PTQ.value}")
    if asked == (Quantization.ALL,):
        return ALL_PTQ
    return tuple(q for q in asked if q is not Quantization.NONE)
