"""Flash and RAM of a linked Cortex-M self-test, from its GNU ld link map: totals per output
section and a breakdown by where each input section came from."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

# Output sections that occupy flash (.data too: its initial values are stored in flash) and RAM.
# (.init and .tdata/.tbss: picolibc's RISC-V layout)
FLASH_SECTIONS = (".init", ".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".init_array", ".data", ".tdata")
RAM_SECTIONS = (".data", ".tdata", ".bss", ".tbss")
CATEGORIES = ("model_data", "tflm_runtime", "kernels", "engine_code", "engine_constants", "engine_data", "c_runtime",
              "self_test", "padding")  # padding: the rest

_OUTPUT = re.compile(r"^(\.[\w.]+)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+))?")
_INPUT_ONE_LINE = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(\S.*))?$")
_INPUT_NAME = re.compile(r"^ (\S+)$")
_INPUT_REST = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


@dataclass(frozen=True)
class MemoryFigures:
    """Bytes of flash and RAM of one linked program, with their breakdowns."""

    flash_bytes: int
    ram_bytes: int
    flash_breakdown: dict[str, int]    # CATEGORIES -> bytes
    ram_breakdown: dict[str, int]      # "tensor_arena", "stack_and_rest"... -> bytes
    sections: dict[str, int]           # output section -> bytes

    @property
    def flash_without_self_test(self) -> int:
        """Flash the model needs in an application: everything but the self-test's main and vectors."""
        return self.flash_bytes - self.flash_breakdown.get("self_test", 0)


def read_map(map_path: Path, model_id: str) -> MemoryFigures:
    """Parse the map: output section sizes, and each input section's bytes by category."""
    lines = map_path.read_text(errors="replace").splitlines()
    try:
        start = lines.index("Linker script and memory map")
    except ValueError:
        start = 0
    sections: dict[str, int] = {}
    # output section -> category -> bytes; mergeable strings apart, as the map lists them unmerged
    plain: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    strings: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    current = ""
    pending_name = ""
    for line in lines[start:]:
        output = _OUTPUT.match(line)
        if output:
            current = output.group(1)  # the header may wrap: its address and size then follow alone
            sections[current] = sections.get(current, 0) + int(output.group(3) or "0", 16)
            continue
        name, size, origin = "", 0, ""
        single = _INPUT_ONE_LINE.match(line)
        if single and (single.group(4) or single.group(1) == "*fill*"):
            name, size, origin = single.group(1), int(single.group(3), 16), single.group(4) or ""
        elif pending_name and (rest := _INPUT_REST.match(line)):
            name, size, origin = pending_name, int(rest.group(2), 16), rest.group(3)
        pending_name = ""
        if not name:
            only = _INPUT_NAME.match(line)
            pending_name = only.group(1) if only else ""
            continue
        category = "tensor_arena" if "tensor_arena" in name else _category(name, origin, model_id)
        (strings if ".str1." in name else plain)[current][category] += size
    flash = _attribute(FLASH_SECTIONS, sections, plain, strings)
    ram = _attribute(RAM_SECTIONS, sections, plain, strings)
    flash_total = sum(sections.get(name, 0) for name in FLASH_SECTIONS)
    return MemoryFigures(flash_bytes=flash_total, ram_bytes=sum(sections.get(name, 0) for name in RAM_SECTIONS),
                         flash_breakdown={key: flash[key] for key in (*CATEGORIES, "tensor_arena") if flash.get(key)},
                         ram_breakdown={key: value for key, value in sorted(ram.items()) if value},
                         sections={name: size for name, size in sections.items() if size})


def _attribute(names: tuple[str, ...], sections: dict[str, int], plain: dict[str, dict[str, int]],
               strings: dict[str, dict[str, int]]) -> dict[str, int]:
    """Bytes per category over these output sections. Merged strings are shared out in proportion
    to what each category listed; whatever the inputs leave unexplained is padding."""
    totals: dict[str, int] = defaultdict(int)
    for name in names:
        total = sections.get(name, 0)
        listed = sum(plain[name].values())
        merged = max(total - listed, 0)
        string_listed = sum(strings[name].values())
        for category, size in plain[name].items():
            totals[category] += size
        for category, size in strings[name].items():
            totals[category] += size * merged // string_listed if string_listed else 0
        totals["padding"] += total - listed - sum(size * merged // string_listed for size in strings[name].values()
                                                   if string_listed)
    return totals


def _category(section: str, origin: str, model_id: str) -> str:
    """Where an input section's bytes belong."""
    if section == "*fill*":
        return "padding"
    member = re.search(r"lib(?:tensorflow-microlite|cmsis-nn)\.a\((.+)\)", origin)
    if member:
        source = member.group(1)
        is_kernel = "__kernels__" in source or source.startswith("arm_") or "cmsis_nn" in source
        return "kernels" if is_kernel else "tflm_runtime"
    if origin.endswith(f"{model_id}_model_data.o"):
        return "model_data"
    if origin.endswith(f"{model_id}_engine.o"):
        # the C engine: its functions, and its weights and constants (rodata) apart; .bss is its arena
        return "engine_code" if section.startswith(".text") else "engine_constants" if section.startswith(
            ".rodata") else "engine_arena" if section.startswith(".bss") else "engine_data"
    if origin.endswith(f"{model_id}_engine_selftest.o"):
        return "self_test"
    if origin.endswith("/main.o"):
        # main.cc instantiates the op resolver (TFLM runtime); the rest is the self-test and its vectors
        return "tflm_runtime" if "OpResolver" in section or "RegisterOps" in section else "self_test"
    return "c_runtime"   # newlib, libgcc, libstdc++, crt objects, QEMU's start-up
