"""Instructions per step of an exported C engine on an emulated core: the engine's invoke is
copied with the board's tick counter (QEMU -icount: 40 instructions a tick on the MPS2) read
around every kernel call, built against the cached CMSIS-NN, run once, and the first vector's
figures printed as a Markdown table. A measuring aid for the engine's own kernels (issue 36);
the exported files are not changed.

    python bench/engine_layers.py EXPORT/int8 [--target cortex-m4] [--tflm_dir ../shared/tflm]
                                  [--render_with CHECKOUT]

--render_with renders the engine (.c and .h) again from the folder's model.tflite with another
checkout's emitter first (e.g. a worktree of the commit before a kernel change), so two emitters'
engines run the same self-test vectors: the "before" of a per-layer comparison.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEP = re.compile(r"^  /\* (?P<op>[^*]+) \*/\n(?P<body>(?:(?!  /\*).*\n)+?)(?=  /\*|  memcpy\(output)", re.M)


def instrument(source: str) -> tuple[str, list[str]]:
    """The engine's text with a tick read after every step of its invoke, and the steps' names."""
    names: list[str] = []

    def wrap(match: re.Match[str]) -> str:
        index = len(names)
        names.append(match["op"].strip())
        return (f"  /* {match['op']} */\n{match['body']}  mcu_step_ticks[{index}] += mcu_deploy_ticks() - mcu_t;"
                " mcu_t = mcu_deploy_ticks();\n")

    start = re.search(r"^int \w+_engine_invoke\(.*\{\n", source, re.M)
    assert start is not None, "no invoke function"
    head, tail = source[:start.start()], source[start.end():]
    tail = STEP.sub(wrap, tail)
    declarations = f"extern uint32_t mcu_deploy_ticks(void);\nuint32_t mcu_step_ticks[{max(len(names), 1)}];\n"
    return (head + declarations + start.group(0) + "  uint32_t mcu_t = mcu_deploy_ticks();\n" + tail), names


RENDER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from helpers.emit.c_engine import c_engine, render_engine_c, render_engine_h
from helpers.lowering.lower import lower_model
folder, model_id = Path(sys.argv[2]), sys.argv[3]
program = lower_model((folder / "model.tflite").read_bytes()).program
context = {"id": model_id, "upper": model_id.upper(), "source": "model.tflite", "display_name": model_id,
           "variant": folder.name, "engine_checked_on": [], "tflm_given": True, "stateful": False}
engine = c_engine(program, context, "re-rendered")
for rendered in (render_engine_c(engine), render_engine_h(engine)):
    (folder / rendered.filename).write_text(rendered.text)
"""


def main() -> None:
    from helpers.targets.engine_test import cmsis_library, compile_engine_test
    from helpers.targets.library import open_library
    from helpers.targets.runner import run_program
    from helpers.targets.target import TARGETS
    from helpers.targets.tree import find_tree

    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path, help="a variant folder holding <id>_engine.c and its self-test")
    parser.add_argument("--target", default="cortex-m4")
    parser.add_argument("--tflm_dir", type=Path, default=ROOT.parent / "shared" / "tflm")
    parser.add_argument("--render_with", type=Path, default=None, help="a checkout whose emitter renders the engine")
    args = parser.parse_args()
    engine = next(args.folder.glob("*_engine.c"))
    model_id = engine.name[: -len("_engine.c")]
    target = TARGETS[args.target]
    cmsis = cmsis_library(open_library(find_tree(args.tflm_dir), target))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "engine"
        shutil.copytree(args.folder, work)
        if args.render_with:
            subprocess.run([sys.executable, "-c", RENDER, str(args.render_with.resolve()), str(work), model_id],
                           check=True)
        text, names = instrument((work / engine.name).read_text())
        (work / engine.name).write_text(text)
        selftest = work / f"{model_id}_engine_selftest.c"
        said = selftest.read_text()
        said = said.replace("int main(void) {", "extern uint32_t mcu_step_ticks[];\nint main(void) {", 1)
        said = said.replace("    if (v == 0) first_inference_ticks",
                            f"    if (v == 0) for (int s = 0; s < {len(names)}; ++s) printf(\"step %d: %lu\\n\", s, "
                            "(unsigned long)mcu_step_ticks[s]);\n    if (v == 0) first_inference_ticks", 1)
        selftest.write_text(said)
        program = compile_engine_test(cmsis, work, model_id, Path(tmp) / "build").link()
        run = run_program(target, program.path)
    ticks = {int(m[1]): int(m[2]) for m in re.finditer(r"step (\d+): (\d+)", run.output)}
    per_tick = target.instructions_per_tick
    total = sum(ticks.values()) * per_tick
    print(f"| step | op | instructions ({args.target}) | share |\n|---|---|---|---|")
    for index, name in enumerate(names):
        count = ticks.get(index, 0) * per_tick
        print(f"| {index} | {name} | {count:,.0f} | {count / total:.1%} |")
    print(f"| | total | {total:,.0f} | |")
    print(run.output.splitlines()[-1])


if __name__ == "__main__":
    main()
