"""Names from specs.json and folder names -> safe C identifiers and Python names.

Any text becomes a valid identifier: non-ASCII is transliterated or dropped, everything else
outside [A-Za-z0-9_] becomes `_`, a leading digit gets a prefix, and C, C++ and Python keywords
get a suffix. Whenever that rewrote the text, a short hash of the original is appended, so two
different names can never produce the same identifier ("my model" and "my-model" differ).
"""
from __future__ import annotations

import hashlib
import keyword
import re
import unicodedata

_VALID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

C_RESERVED = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int long
register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local
alignas alignof and and_eq asm bitand bitor bool catch char8_t char16_t char32_t class compl concept consteval
constexpr constinit const_cast co_await co_return co_yield decltype delete dynamic_cast explicit export false
friend mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public
reinterpret_cast requires static_assert static_cast template this thread_local throw true try typeid typename
using virtual wchar_t xor xor_eq main NULL
""".split())

MAX_LENGTH = 48


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]


def identifier(text: str) -> str:
    """A lower-case identifier valid in C, C++ and Python, distinct for distinct inputs."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    candidate = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_text).strip("_").lower()
    candidate = re.sub(r"_+", "_", candidate)[:MAX_LENGTH].rstrip("_")
    if not candidate:
        candidate = "model"
    if candidate[0].isdigit():
        candidate = "m_" + candidate
    if candidate in C_RESERVED or keyword.iskeyword(candidate) or candidate.startswith("__"):
        candidate = candidate + "_model"
    if candidate != text:
        candidate = f"{candidate}_{_short_hash(text)}"
    if not _VALID.match(candidate):  # cannot happen; guards the templates against future edits
        raise ValueError(f"internal error: {candidate!r} is not an identifier")
    return candidate


def camel_case(name: str) -> str:
    """`co2_lstm` -> `Co2Lstm`, for k-prefixed C constants."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
