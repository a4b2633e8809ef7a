"""Code flash per op family on the Cortex-M4, the C engine against TFLM (for bench/ops_boards_bench.py).

Both self-tests of an exported variant are linked again (no run) into a work folder, and their link
maps read per input section: TFLM's bytes by the archive member they came from (its kernel objects,
`kernels__<op>.o` and `kernels__cmsis_nn__<op>.o`, and CMSIS-NN's `arm_*.o`); the C engine's
CMSIS-NN functions the same way. The engine's own kernels are `static inline` and inlined into the
invoke function, so the engine object is compiled with `-g` (which changes no code) and its bytes
shared out by DWARF: each inlined kernel's address ranges go to the kernel, the rest of the
function to the engine's call glue. Each name then goes to an op family by FAMILIES."""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

FLASH_SECTIONS = (".text", ".rodata")
# (family, pattern over a TFLM kernel object's stem, a CMSIS-NN function or an engine kernel's name);
# the first match wins. The first six are issue 34's new ops.
FAMILIES = (
    ("TRANSPOSE_CONV", r"transpose_conv"),
    ("BATCH_MATMUL", r"batch_matmul"),
    ("activations and int8 tables (LEAKY_RELU, PRELU, HARD_SWISH, ELU, RELU6, RSQRT...)",
     r"^(leaky_relu|prelu|hard_swish|elu|activations|elementwise|exp$|neg$|log_softmax|mcu_lookup|mcu_prelu"
     r"|mcu_activation|mcu_(rsqrt|sqrt|exp|log|abs|neg|square|floor|ceil|round|sin|cos)_)"),
    ("reductions (SUM, REDUCE_MAX/MIN, MEAN)", r"^(reduce|mcu_reduce|mcu_mean)"),
    ("binary (MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, DIV...)",
     r"^(maximum_minimum|squared_difference|div|floor_div|floor_mod|comparisons|select|arm_(maximum|minimum)"
     r"|mcu_(squared_difference|div|floor_div|floor_mod|maximum|minimum|compare|select))"),
    ("data movement (TRANSPOSE, SLICE, GATHER, PACK, RESHAPE, ...)",
     r"^(transpose|slice|strided_slice|gather|gather_nd|pack|unpack|broadcast_to|mirror_pad|space_to|depth_to"
     r"|batch_to|reverse|pad|concatenation|split|split_v|reshape|squeeze|expand_dims|resize|shape|arm_transpose"
     r"|mcu_(gather|scatter))"),
    ("FULLY_CONNECTED, CONV_2D, DEPTHWISE, pooling",
     r"^(fully_connected|conv|depthwise_conv|pooling|arm_(fully_connected|convolve|depthwise|nn_mat|nn_vec_mat"
     r"|max_pool|avgpool|nn_depthwise|s8_to_s16|q7_to_q15|nn_(mat_mul|vec))|mcu_(fully_connected|conv_2d"
     r"|depthwise|pool))"),
    ("ADD, SUB, MUL", r"^(add|sub|mul|arm_elementwise|mcu_(add|sub|mul)_)"),
    ("SOFTMAX, LOGISTIC, TANH", r"^(softmax|logistic|tanh|arm_(softmax|nn_softmax)|mcu_(softmax|logistic|tanh"
                                r"|sigmoid))"),
    ("QUANTIZE, DEQUANTIZE", r"^(quantize|dequantize|mcu_(quantize|dequantize|requantize))"),
)
OTHER_KERNELS = "other kernel code (helpers shared by the kernels)"
GLUE = "the engine's invoke (its calls and loops around them)"
RUNTIME = "TFLM runtime (interpreter, allocator, flatbuffer, op resolver)"

_INPUT_ONE_LINE = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_INPUT_NAME = re.compile(r"^ (\S+)$")
_INPUT_REST = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_OUTPUT = re.compile(r"^(\.[\w.]+)")


def family(name: str) -> str:
    """The op family of a kernel object stem, a CMSIS-NN function or an engine kernel."""
    for label, pattern in FAMILIES:
        if re.search(pattern, name):
            return label
    return OTHER_KERNELS


def map_inputs(map_path: Path) -> list[tuple[str, str, int, str]]:
    """(output section, input section, bytes, origin) of every input section of the flash sections."""
    lines = map_path.read_text(errors="replace").splitlines()
    start = lines.index("Linker script and memory map") if "Linker script and memory map" in lines else 0
    found, current, pending = [], "", ""
    for line in lines[start:]:
        output = _OUTPUT.match(line)
        if output:
            current, pending = output.group(1), ""
            continue
        single = _INPUT_ONE_LINE.match(line)
        rest = _INPUT_REST.match(line) if pending else None
        if single:
            found.append((current, single.group(1), int(single.group(3), 16), single.group(4)))
        elif rest:
            found.append((current, pending, int(rest.group(2), 16), rest.group(3)))
        only = _INPUT_NAME.match(line)
        pending = only.group(1) if only and not single else ""
    return [entry for entry in found if entry[0] in FLASH_SECTIONS and entry[2]]


def archive_families(entries: list[tuple[str, str, int, str]], archive: str) -> dict[str, int]:
    """Bytes per family of one archive's members (TFLM's or CMSIS-NN's)."""
    totals: dict[str, int] = defaultdict(int)
    for _, _, size, origin in entries:
        member = re.search(rf"{re.escape(archive)}\((.+)\.o\)", origin)
        if not member:
            continue
        stem = member.group(1)
        if "__kernels__" in stem:
            totals[family(stem.split("__kernels__")[-1].removeprefix("cmsis_nn__"))] += size
        elif "arm_" in stem:
            totals[family(stem[stem.index("arm_"):])] += size
        else:
            totals[RUNTIME] += size
    return dict(totals)


def _ranges_bytes(die, dwarf) -> int:  # type: ignore[no-untyped-def]
    """The bytes a DWARF subprogram or inlined subroutine covers."""
    attributes = die.attributes
    if "DW_AT_low_pc" in attributes and "DW_AT_high_pc" in attributes:
        high = attributes["DW_AT_high_pc"]
        low = attributes["DW_AT_low_pc"].value
        return high.value if high.form != "DW_FORM_addr" else high.value - low
    if "DW_AT_ranges" in attributes:
        ranges = dwarf.range_lists().get_range_list_at_offset(attributes["DW_AT_ranges"].value, cu=die.cu)
        return sum(r.end_address - r.begin_address for r in ranges if hasattr(r, "end_address"))
    return 0


def _origin_name(die) -> str:  # type: ignore[no-untyped-def]
    while "DW_AT_name" not in die.attributes and "DW_AT_abstract_origin" in die.attributes:
        die = die.get_DIE_from_attribute("DW_AT_abstract_origin")
    name = die.attributes.get("DW_AT_name")
    return name.value.decode() if name else "?"


def _top_inlined(die):  # type: ignore[no-untyped-def]
    """The inlined subroutines directly in a function (through lexical blocks, not into each other)."""
    for child in die.iter_children():
        if child.tag == "DW_TAG_inlined_subroutine":
            yield child
        elif child.tag == "DW_TAG_lexical_block":
            yield from _top_inlined(child)


def engine_families(elf: Path, source_name: str) -> dict[str, int]:
    """The engine's own code per family, from the DWARF of its compilation unit in the linked ELF."""
    from elftools.elf.elffile import ELFFile

    totals: dict[str, int] = defaultdict(int)
    with elf.open("rb") as handle:
        dwarf = ELFFile(handle).get_dwarf_info()
        for unit in dwarf.iter_CUs():
            top = unit.get_top_DIE()
            if not str(top.attributes.get("DW_AT_name").value.decode()).endswith(source_name):
                continue
            for die in top.iter_children():
                if die.tag != "DW_TAG_subprogram" or "DW_AT_low_pc" not in die.attributes:
                    continue
                whole = _ranges_bytes(die, dwarf)
                inlined = 0
                for child in _top_inlined(die):
                    size = _ranges_bytes(child, dwarf)
                    name = _origin_name(child)
                    totals[family(name) if name.startswith("mcu_") else GLUE] += size
                    inlined += size
                name = _origin_name(die)
                totals[family(name) if name.startswith("mcu_") else GLUE] += whole - inlined
    return dict(totals)


def _link_both(folder: Path, model_id: str, bench, work: Path) -> tuple[Path, Path, Path]:  # type: ignore[no-untyped-def]
    """TFLM's self-test and the C engine's (its engine object with -g), linked for the Cortex-M4:
    TFLM's map, the engine's map and the engine's ELF."""
    from helpers.targets.program import HARNESS, SelfTestObjects, compile_self_test, compile_source
    from helpers.targets.target import TARGETS

    target = TARGETS["cortex-m4"]
    tflm = compile_self_test(bench.library(target), folder, model_id, work / "tflm").link()
    cmsis = bench.cmsis(target)
    (work / "engine").mkdir(parents=True, exist_ok=True)
    sources = [folder / f"{model_id}_engine.c", folder / f"{model_id}_engine_selftest.c",
               folder / f"{model_id}_model_data.c", HARNESS / "startup_cortex_m.c"]
    objects = tuple(compile_source(cmsis, source, work / "engine" / f"{source.stem}.o",
                                   [f"-I{folder}", *(["-g"] if source == sources[0] else [])]) for source in sources)
    engine = SelfTestObjects(library=cmsis, objects=objects, work=work / "engine").link()
    return tflm.map_path, engine.map_path, engine.path


def variant_families(folder: Path, bench, work: Path) -> dict[str, tuple[int, int, int]] | None:  # type: ignore[no-untyped-def]
    """Per family: (TFLM's kernels with CMSIS-NN, the engine's own code, the CMSIS-NN it calls)."""
    engines = sorted(folder.glob("*_engine.c"))
    if not engines:
        return None
    model_id = engines[0].name.removesuffix("_engine.c")
    tflm_map, engine_map, engine_elf = _link_both(folder, model_id, bench, work)
    tflm = archive_families(map_inputs(tflm_map), "libtensorflow-microlite.a")
    cmsis = archive_families(map_inputs(engine_map), "libcmsis-nn.a")
    own = engine_families(engine_elf, f"{model_id}_engine.c")
    text = sum(size for section, _, size, origin in map_inputs(engine_map)
               if section == ".text" and origin.endswith(f"{model_id}_engine.o"))
    if sum(own.values()) != text:   # what DWARF does not place (alignment) goes to the glue
        own[GLUE] = own.get(GLUE, 0) + text - sum(own.values())
    names = [label for label, _ in FAMILIES] + [OTHER_KERNELS, GLUE, RUNTIME]
    return {name: (tflm.get(name, 0), own.get(name, 0), cmsis.get(name, 0)) for name in names
            if tflm.get(name) or own.get(name) or cmsis.get(name)}


def family_table(variants: dict[tuple[str, str], Path], tflm_dir: Path, work: Path) -> str:
    """The Markdown table of code flash per op family, every variant with a C engine."""
    from helpers.targets.bench import TargetBench

    bench = TargetBench.create(tflm_dir, ("cortex-m4",), 100.0)
    lines = ["| model | variant | op family | TFLM kernels (B) | C engine own code (B) | C engine CMSIS-NN (B) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for (model, kind), folder in variants.items():
        families = variant_families(folder, bench, work / model / kind)
        if families is None:
            lines.append(f"| {model} | {kind} | no C engine | - | - | - |")
            continue
        for name, (tflm, own, cmsis) in families.items():
            lines.append(f"| {model} | {kind} | {name} | {tflm:,} | {own:,} | {cmsis:,} |")
    return "\n".join(lines)
