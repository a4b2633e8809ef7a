"""Where an exported MicroPython engine spends its instructions, op by op, on MicroPython's own
Cortex-M4F port under QEMU (-icount shift=0): each line of the engine's run function (`_run_native`
or `_run_portable`) becomes a lambda on the board, timed over `repeats` calls, minus an empty
lambda's cost; the heap each step allocates is read the same way. A diagnostic for the boards
bench (bench/ops_boards_bench.py), not a figure of the pipeline's.

    python bench/ops_profile.py EXPORT/<variant> [--path native|viper|plain] [--board cortex-m4f]
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_DRIVER = '''
import gc, time
import {module} as m
print("ENGINE", m.use_engine({path!r}))
steps = {steps!r}
calls = [eval("lambda: " + s, m.__dict__) for s, _ in steps]
empty = eval("lambda: None", m.__dict__)
def cost(f, n):
    gc.collect()
    before = gc.mem_alloc()
    start = time.ticks_us()
    for _ in range(n):
        f()
    spent = time.ticks_diff(time.ticks_us(), start)
    return spent, gc.mem_alloc() - before
base, _ = cost(empty, {repeats})
m.run()
for (s, label), f in zip(steps, calls):
    spent, alloc = cost(f, {repeats})
    print("STEP", label, (spent - base) * 1000 // {repeats}, alloc // {repeats})
spent, alloc = cost(m.run, {repeats})
print("RUN", spent * 1000 // {repeats}, alloc // {repeats})
'''


def steps(engine_py: Path, path: str) -> list[tuple[str, str]]:
    """(call, op) per line of the engine's run function for this path."""
    name = "_run_native" if path == "native" else "_run_portable"
    text = engine_py.read_text()
    body = text[text.index(f"def {name}():"):].split("\n\n")[0].splitlines()[1:]
    found = []
    for line in body:
        match = re.match(r"\s+(.+?)\s+#\s*(.+)$", line)
        if match:
            found.append((match.group(1), match.group(2)))
    return found


def profile(folder: Path, path: str, board_name: str, micropython: Path, repeats: int) -> str:
    from helpers.micropython.board_check import DEFAULT_BUDGET_INSTRUCTIONS  # noqa: F401 (the same port)
    from helpers.micropython.qemu_port import BOARDS, RawRepl, build_firmware, romfs_image
    from helpers.targets.library import default_cache_root

    board = BOARDS[board_name]
    engine = next(folder.glob("*_infer.mpy"))
    files = {engine.name: engine.read_bytes()}
    for kernels in folder.glob(f"mcu_kernels_{board.arch}.mpy"):
        files[kernels.name] = kernels.read_bytes()
    driver = _DRIVER.format(module=engine.stem, path=path, steps=steps(folder / f"{engine.stem}.py", path),
                            repeats=repeats)
    firmware = build_firmware(micropython, board, default_cache_root())
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "romfs.img"
        image.write_bytes(romfs_image(micropython, files, board))
        with RawRepl(firmware, board, image) as repl:
            stdout, errors = repl.execute(driver, 600)
    return stdout + errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--path", default="native")
    parser.add_argument("--board", default="cortex-m4f")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--micropython_dir", type=Path, default=Path("/work/shared/micropython"))
    args = parser.parse_args()
    print(profile(args.folder, args.path, args.board, args.micropython_dir, args.repeats))


if __name__ == "__main__":
    main()
