"""One copy of an own kernel per layer shape (helpers/emit/c_shared_kernels.py): layers of the
same shape call one wrapper, each passing its own offsets and clamp; a shape used once keeps its
direct call with every argument a literal. The wrapper compiles cleanly for the Cortex-M4 (C and
C++) and for the Cortex-M0+; the host test (test_c_engine_host.py) runs the Armv6-M wrappers of the
recurrent zoo models against TFLM, and the MLPerf MobileNetV1 in BENCHMARKS.md runs them on the
boards."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from helpers.emit.c_engine import c_engine, render_engine_c, render_engine_h
from helpers.emit.c_shared_kernels import SharedKernels
from helpers.lowering.lower import lower_model
from tests.conftest import TFLM_DIR, require_tool

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "engines"


def test_a_shape_used_twice_gets_one_wrapper_and_a_shape_used_once_its_direct_call():
    shared = SharedKernels()
    args = ["x", "y", "w", "s", "m", "h", "scratch", "36", "128", "128"]
    first = shared.call("mcu_pointwise_s8", args + ["-128", "-128", "127", "1"], "GUARD")
    second = shared.call("mcu_pointwise_s8", args + ["-5", "-128", "127", "1"], "GUARD")  # another output offset
    alone = shared.call("mcu_pointwise_s8", args[:7] + ["9", "128", "256", "-128", "-128", "127", "1"], "GUARD")
    steps, definitions = shared.finish([("CONV_2D", first), ("CONV_2D", second), ("CONV_2D", alone)])
    assert first == "mcu_shape0(x, y, w, s, m, h, scratch, -128, -128, 127);"
    assert second == "mcu_shape0(x, y, w, s, m, h, scratch, -5, -128, 127);"
    assert [line for _, line in steps[:2]] == [first, second]
    assert steps[2][1] == "mcu_pointwise_s8(x, y, w, s, m, h, scratch, 9, 128, 256, -128, -128, 127, 1);"
    (definition,) = definitions
    assert definition.startswith("#if GUARD\n") and "noinline" in definition
    assert "mcu_pointwise_s8(p0, p1, p2, p3, p4, p5, p6, 36, 128, 128, v3, v4, v5, 1);" in definition
    assert "const int32_t v3, const int32_t v4, const int32_t v5" in definition


def test_the_recurrent_zoo_models_dense_layers_share_one_copy_per_shape_and_compile_for_both_cores(tmp_path):
    require_tool("tflm")
    require_tool("arm-none-eabi-gcc")
    case = GOLDEN / "zoo_simple_rnn__int8"
    program = lower_model((case / "model.tflite").read_bytes()).program
    context = json.loads((case / "context.json").read_text())
    context.setdefault("upper", context["id"].upper())
    engine = c_engine(program, {**context, "engine_checked_on": [], "tflm_given": False}, "test")
    source = render_engine_c(engine)
    (tmp_path / source.filename).write_text(source.text)
    header = render_engine_h(engine)
    (tmp_path / header.filename).write_text(header.text)
    wrappers = re.findall(r"^static __attribute__\(\(noinline\)\) void (mcu_shape\d+)\(", source.text, re.M)
    # FULLY_CONNECTED 1 -> 16 (x16) and 16 -> 16 (x15): one copy each on Armv6-M, 16 -> 16 on Armv7E-M too
    assert len(wrappers) == 3, wrappers
    assert sum(len(re.findall(rf"\b{name}\(", source.text)) - 1 for name in wrappers) == 16 + 15 + 15
    downloads = TFLM_DIR / "tensorflow/lite/micro/tools/make/downloads"
    includes = [f"-I{tmp_path}", f"-I{downloads / 'cmsis_nn' / 'Include'}",
                f"-I{downloads / 'cmsis' / 'CMSIS' / 'Core' / 'Include'}"]
    for core, defines in (("cortex-m4", ["-DARM_MATH_DSP"]), ("cortex-m0plus", [])):
        for compiler in (["arm-none-eabi-gcc", "-std=c99"], ["arm-none-eabi-g++", "-x", "c++"]):
            result = subprocess.run([*compiler, f"-mcpu={core}", "-mthumb", "-Os", "-Wall", "-Wextra", "-Wconversion",
                                     "-Werror", *defines, *includes, "-c", str(tmp_path / source.filename), "-o",
                                     str(tmp_path / "engine.o")], capture_output=True, text=True)
            assert result.returncode == 0, f"{core} {compiler[0]}: {result.stderr[:1500]}"
