"""What a run checks the MicroPython engine with, set up once per run: the kernels module for every
architecture (needs a MicroPython tree for py/dynruntime.mk and the TFLM tree for CMSIS-NN) and
MicroPython's own 32-bit port per board (needs the MicroPython tree). What is missing is said
once, as the reason those checks did not run."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from helpers.core.checks import BoardRun
from helpers.micropython.board_check import DEFAULT_BUDGET_INSTRUCTIONS, BoardInputs, run_on_boards
from helpers.micropython.native_model import ModelModule, build_model_module
from helpers.micropython.native_module import ARCHS, KernelsModule, NativeBuildError, build_kernels
from helpers.micropython.qemu_port import BOARDS, DEFAULT_BOARDS
from helpers.targets.library import default_cache_root

log = logging.getLogger("mcu_deploy")
NO_TREE = "not run on a 32-bit MicroPython (no --micropython_dir)"


@dataclass
class MicroPythonBench:
    micropython_dir: Path | None
    tflm_root: Path | None
    cache_root: Path = field(default_factory=default_cache_root)
    budget_instructions: int = DEFAULT_BUDGET_INSTRUCTIONS   # per engine path on a board
    unix_seconds: float = 30.0                               # the unix-port check's time per engine
    board_names: tuple[str, ...] = DEFAULT_BOARDS            # the qemu port's boards the engine runs on
    _kernels: dict[str, KernelsModule] | None = None
    _kernels_reason: str | None = None

    def kernels(self) -> tuple[dict[str, KernelsModule], str | None]:
        """The kernels module per architecture (built into the cache the first time), and why
        there is none for the architectures that lack one."""
        if self._kernels is None:
            self._kernels, reasons = {}, []
            if self.micropython_dir is None:
                self._kernels_reason = "no --micropython_dir (the kernels module is built with its py/dynruntime.mk)"
            elif self.tflm_root is None:
                self._kernels_reason = "no --tflm_dir (the kernels module is CMSIS-NN, from its downloads)"
            else:
                for arch in ARCHS:
                    try:
                        self._kernels[arch] = build_kernels(self.micropython_dir, self.tflm_root, arch,
                                                            self.cache_root)
                    except NativeBuildError as error:
                        reasons.append(str(error))
                        log.warning("warning: the MicroPython kernels module was not built for %s: %s", arch, error)
                self._kernels_reason = "; ".join(dict.fromkeys(reasons)) or None
        return self._kernels, self._kernels_reason

    def model_modules(self, folder: Path, model_id: str) -> tuple[dict[str, ModelModule], str | None]:
        """The model's own native module (its files in `folder`) for each chosen board's architecture,
        and why there is none for those that lack one."""
        if self.micropython_dir is None or self.tflm_root is None:
            return {}, "no --micropython_dir or no --tflm_dir (it is built with both)"
        modules, reasons = {}, []
        for arch in dict.fromkeys(BOARDS[name].arch for name in self.board_names):
            try:
                modules[arch] = build_model_module(folder, model_id, self.micropython_dir, self.tflm_root, arch,
                                                   self.cache_root)
            except NativeBuildError as error:
                reasons.append(str(error))
                log.warning("warning: %s's native module was not built for %s: %s", model_id, arch, error)
        return modules, "; ".join(dict.fromkeys(reasons)) or None

    def boards(self, engine_mpy: Path, rows, expected, tflm_counts: dict[str, int],  # type: ignore[no-untyped-def]
               native: bool, models: dict[str, ModelModule] | None = None) -> tuple[BoardRun, ...]:
        """The engine on each chosen board of MicroPython's qemu port (with the kernels module when the
        engine has `native` steps, and the model's own native module from `models`); () without a tree."""
        if self.micropython_dir is None:
            return ()
        kernels, reason = self.kernels() if native else ({}, "the engine has no op the kernels module runs")
        inputs = BoardInputs(engine_mpy=engine_mpy, rows=rows, expected=expected, kernels=kernels,
                             kernels_reason=reason, budget_instructions=self.budget_instructions,
                             model_modules=models or {})
        return run_on_boards(self.micropython_dir, self.cache_root, inputs, tflm_counts, self.board_names)
