"""Command-line parsing: argv -> RunConfig.

This module must not import TensorFlow (nor anything that does): `main.py --help`
answers from here alone, in a fraction of a second.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from helpers.command import command_name
from helpers.config_quantization import ptq_variants, quantization_list
from helpers.core.quantization import DEFAULT_PTQ, QAT_OUTPUTS, Quantization
from helpers.errors import ConfigError
from helpers.config_trees import micropython_dir_flag, packages_flag, targets_flag
from helpers.micropython.qemu_port import DEFAULT_BOARDS, parse_boards
from helpers.sweep.security import TlsFiles, check_tls_flags
from helpers.targets.boards import apply_board

_SIZE_SUFFIXES = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024,
                  "M": 1024**2, "MB": 1024**2, "MIB": 1024**2}


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to know from the command line."""

    input_dir: Path
    input_dirs: tuple[Path, ...] = ()          # every --input_dir (several only with --sweep)
    scheduler: str | None = None               # --sweep on an existing Dask cluster
    tls: TlsFiles | None = None                # --tls_ca, --tls_cert, --tls_key for a tls:// scheduler
    sweep_grid: Path | None = None             # --sweep_grid JSON
    export: bool = False
    export_dir: Path | None = None
    prune: bool = False
    qat: bool = False
    quantizations: tuple[Quantization, ...] = ()
    plot_results: bool = False
    cluster: int | None = None
    sparsity: float | None = None
    sparsity_auto: bool = False
    prune_epochs: int | None = None
    prune_policy: str | None = None
    qat_int8_io: bool = False
    keep_float: tuple[str, ...] = ()
    sweep: bool = False
    sweep_sparsity: tuple[float, ...] = ()
    jobs: int = 1
    flash_budget: int | None = None
    ram_budget: int | None = None
    max_drop: float | None = None
    recovery: bool = True                      # accuracy recovery for quantized variants outside the guard
    recovery_seconds: float = 180.0            # its budget per variant
    skip_firmware_checks: bool = False
    check: bool = False                        # --check: convert and place the ops; no evaluation, nothing written
    strip: bool = False
    keep_layout: bool = False
    allow_select_ops: bool = False
    trust_model_code: bool = False             # let a model file's own code run (Lambda layers, pickles, ...)
    debug: bool = False
    verbose: bool = False
    quiet: bool = False
    notices: tuple[str, ...] = ()
    tflm_dir: Path | None = None               # a TFLM tree: the self-test is built and run on `targets`
    tflm_unfetched: str | None = None          # why --tflm_dir auto left no tree (no network)
    targets: tuple[str, ...] = ()              # helpers.targets.target names; empty without a tree
    mcu_mhz: float = 80.0                      # clock for the latency estimate from instruction counts
    board: str | None = None                   # --board: the board that set targets, budgets and clock
    profile: bool = False                      # --profile: instructions per layer on each emulated target
    micropython_dir: Path | None = None        # a MicroPython tree: its qemu port and the kernels module
    micropython_seconds: float = 60.0          # the unix-port check's rows stop after this much engine time
    packages: tuple[str, ...] = ()             # --package: the build systems the C engine is packaged for
    micropython_boards: tuple[str, ...] = DEFAULT_BOARDS  # the qemu port boards (helpers.micropython.qemu_port)


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (one line, exit 2) instead of printing usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message[0].upper() + message[1:] if message else "bad arguments",
                          "see `python main.py --help`")


def parse_size(text: str) -> int:
    """Parse a byte size such as `256K`, `1M`, `1.5MiB` or `4096`."""
    cleaned = text.strip().upper().replace(" ", "")
    number = cleaned.rstrip("KMIB")
    suffix = cleaned[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if suffix not in _SIZE_SUFFIXES or value <= 0:
        raise ConfigError(f"Cannot read the size {text!r}",
                          "write a positive number of bytes with an optional K or M suffix, e.g. 256K")
    return int(value * _SIZE_SUFFIXES[suffix])


def _sparsity_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or not all(0.0 < v <= 0.99 for v in values):
        raise ConfigError(f"cannot read --sweep_sparsity {text!r}", "write fractions separated by commas, e.g. 0.5,0.8")
    return values


def _sparsity(text: str) -> float | str:
    """--sparsity: a fraction, or `auto`."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"cannot read --sparsity {text!r}", "write a fraction such as 0.8, or auto") from None


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser; kept separate so the CLI reference (docs/cli.md) can be checked."""
    parser = _Parser(
        prog=command_name(),
        description="Optimize, quantize, convert, evaluate and export a Keras model for microcontrollers.",
        epilog=f"`{command_name()} fetch --tflm --micropython`: the pinned TFLM and MicroPython trees into the cache.",
    )
    for add in (_model_flags, _optimization_flags, _sweep_flags, _guard_flags, _check_flags):
        add(parser)
    return parser


def _model_flags(parser: argparse.ArgumentParser) -> None:
    """The model directory and where the export goes."""
    parser.add_argument("--input_dir", required=True, type=Path, action="append",
                        help="model directory: the model, specs.json and (or naming) the CSV dataset")
    parser.add_argument("-e", "--export", action="store_true",
                        help="write firmware artifacts (C array, MicroPython module, specs) per variant")
    parser.add_argument("--export_dir", type=Path, default=None,
                        help="where to write the export (default: export/<name>)")
    parser.add_argument("--trust_model_code", action="store_true",
                        help="let the model file's own code run (Lambda layers, custom objects, SavedModel file "
                             "ops, pickles in a .pt2); refused by default")


def _optimization_flags(parser: argparse.ArgumentParser) -> None:
    """Pruning, clustering, the quantization and its mode, plots and --keep_float."""
    parser.add_argument("-p", "--prune", action="store_true", help="prune the model before conversion")
    parser.add_argument("--sparsity", type=_sparsity, default=None, metavar="S|auto",
                        help="final pruning sparsity, 0..0.99 (default: specs pruning.final_sparsity or 0.5); "
                        "`auto`: the highest of 90/80/70/50/30%% that stays within --max_drop")
    parser.add_argument("--prune_epochs", type=int, default=None, metavar="N",
                        help="pruning fine-tuning epochs (default: specs pruning.epochs or 2)")
    parser.add_argument("--prune_policy", choices=["xnnpack"], default=None,
                        help="xnnpack: PruneForLatencyOnXNNPack (only where the model allows it)")
    parser.add_argument("--cluster", type=int, default=None, metavar="N",
                        help="cluster weights into N centroids (2..256) before conversion")
    parser.add_argument("-q", "--quantization_type", type=str, default=None, metavar="TYPE",
                        help="quantization: " + ", ".join(q.value for q in Quantization)
                        + f", or several with --PTQ, comma-separated (default with --PTQ: {DEFAULT_PTQ.value})")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--PTQ", action="store_true", help="post-training quantization")
    mode.add_argument("--QAT", action="store_true", help="quantization-aware training")
    parser.add_argument("--plot_results", action="store_true",
                        help="write comparison plots to <export>/plots and per-layer quantization errors")
    parser.add_argument("--keep_float", nargs="+", default=None, metavar="LAYER",
                        help="add a selectively quantized variant keeping these Keras layers in float; "
                        "`auto` keeps the layers whose RMSE/scale is above 0.7")


def _sweep_flags(parser: argparse.ArgumentParser) -> None:
    """--sweep and where its combinations run."""
    parser.add_argument("--sweep", action="store_true",
                        help="run the grid of pruning, clustering, PTQ types and QAT; write config_combinations.ods")
    parser.add_argument("--sweep_sparsity", type=str, default=None, metavar="S1,S2",
                        help="sparsity levels for --sweep (default: specs pruning.final_sparsity, else 0.5,0.8)")
    parser.add_argument("--sweep_grid", type=Path, default=None, metavar="GRID.json",
                        help="the sweep's values per axis: {\"pruning\": [null, 0.5], \"clustering\": [null, 16], "
                             "\"ptq\": [\"int8\"], \"qat\": true} (default: a specs `sweep` block, else every "
                             "combination)")
    parser.add_argument("--scheduler", type=str, default=None, metavar="tls://HOST:8786",
                        help="run the sweep's combinations on this Dask cluster (default: a local cluster of "
                             "--jobs workers); tls:// with --tls_ca, --tls_cert and --tls_key on a shared network")
    parser.add_argument("--tls_ca", type=Path, default=None, metavar="CA.pem",
                        help="the CA that signed the tls:// scheduler's certificate (one that does not verify "
                             "is refused)")
    parser.add_argument("--tls_cert", type=Path, default=None, metavar="CERT.pem",
                        help="this client's certificate for a tls:// scheduler, signed by --tls_ca")
    parser.add_argument("--tls_key", type=Path, default=None, metavar="KEY.pem",
                        help="the private key of --tls_cert")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="parallel processes for --sweep (default: the number of cores)")


def _guard_flags(parser: argparse.ArgumentParser) -> None:
    """Budgets, the accuracy guard and what the converter may do."""
    parser.add_argument("--flash_budget", type=str, default=None, metavar="SIZE",
                        help="flash available for the model, e.g. 256K; exit 3 if the final variant does not fit")
    parser.add_argument("--ram_budget", type=str, default=None, metavar="SIZE",
                        help="RAM available for the tensor arena, e.g. 64K")
    parser.add_argument("--max_drop", type=float, default=None, metavar="X",
                        help="accuracy guard: the most a variant may lose against the reference, in accuracy points "
                        "(classification, default 2) or percent more MAE (regression, default 5); exit 3 when the "
                        "final variant loses more")
    parser.add_argument("--no_recovery", action="store_true",
                        help="do not try to bring an int8 variant outside --max_drop back within it (by default "
                             "other activation ranges and bias correction are tried, judged on validation rows)")
    parser.add_argument("--recovery_seconds", type=float, default=180.0, metavar="S",
                        help="the accuracy recovery's budget per variant (default 180)")
    parser.add_argument("--strip", action="store_true",
                        help="drop tensor names, signatures and metadata TFLM never reads (kept only if TFLM "
                        "gives identical outputs)")
    parser.add_argument("--keep_layout", action="store_true",
                        help="ONNX/PyTorch models: keep the original (channels-first) input layout")
    parser.add_argument("--allow_select_ops", action="store_true",
                        help="let the converter use TensorFlow ops TFLite lacks (such variants cannot run on MCUs)")


def _check_flags(parser: argparse.ArgumentParser) -> None:
    """The firmware checks: the TFLM tree, the targets, and how much to print."""
    parser.add_argument("--tflm_dir", type=Path, default=None, metavar="DIR|auto",
                        help="a TensorFlow Lite Micro checkout with its make downloads (default: $TFLM_DIR): "
                             "build each variant's self-test against it and run it on --target; `auto`: the "
                             f"pinned tree `{command_name()} fetch --tflm` keeps in the cache, fetched when missing")
    parser.add_argument("--target", type=str, default=None, metavar="T1,T2",
                        help="where the self-test runs: host, cortex-m4, cortex-m0plus, cortex-m33, cortex-m7, "
                             "cortex-m55, riscv32 (under QEMU; default with a TFLM tree: host,cortex-m4)")
    parser.add_argument("--mcu_mhz", type=float, default=None, metavar="MHZ",
                        help="clock for the latency estimate from the counted instructions (default 80)")
    parser.add_argument("--profile", action="store_true",
                        help="also time every layer on each emulated --target, TFLM and the C engine side by side "
                             "(a second build and run of each self-test): report.json, report.md, a plot with "
                             "--plot_results")
    parser.add_argument("--board", type=str, default=None, metavar="NAME",
                        help="a real board (`--board list`): sets --target, --mcu_mhz and the budgets")
    parser.add_argument("--micropython_dir", type=Path, default=None, metavar="DIR|auto",
                        help="a MicroPython source tree (default: $MICROPYTHON_DIR; `auto` as for --tflm_dir): build "
                             "the CMSIS-NN kernels module and run the engine on its 32-bit port's boards")
    parser.add_argument("--micropython_boards", type=str, default=",".join(DEFAULT_BOARDS), metavar="B1,B2|all",
                        help="that port's boards: cortex-m3, cortex-m4f, cortex-m55, riscv32 (default: the first two)")
    parser.add_argument("--micropython_seconds", type=float, default=30.0, metavar="S",
                        help="the unix-port check of each engine takes at most S seconds: the evaluation rows "
                             "that fit, then the other engine paths timed (default 30)")
    parser.add_argument("--skip_firmware_checks", action="store_true",
                        help="skip the TFLM, arena, cross-compiler and mpy-cross checks")
    parser.add_argument("--package", type=str, default=None, metavar="S1,S2",
                        help="also write each C engine as a package for these build systems: cmake, arduino, "
                             "platformio, zephyr, esp-idf, or all (in <variant>/packages/; docs/packages.md)")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("--verbose", action="store_true", help="show progress details and TensorFlow logs")
    verbosity.add_argument("--quiet", action="store_true", help="print only the final table and errors")
    parser.add_argument("--check", action="store_true",
                        help="in seconds, before a full run: convert the variants and print, per variant, where "
                             "every op runs (TFLM, C engine, MicroPython), the rewrites, TFLM's tensor arena and "
                             "flash against the budgets; no evaluation, no targets, nothing written; exit 0 when "
                             "the final variant can be flashed and fits, else 3")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")


def _reject_conflicts(args: argparse.Namespace, asked: tuple[Quantization, ...]) -> None:
    """ConfigError for flags that contradict each other or are out of range; never rewrite them."""
    if any(q is not Quantization.NONE for q in asked) and not (args.PTQ or args.QAT):
        raise ConfigError(f"`-q {args.quantization_type}` needs a quantization mode",
                          "add --PTQ (post-training) or --QAT (quantization-aware training)")

    if args.target and args.skip_firmware_checks:
        raise ConfigError("--target runs firmware checks, which --skip_firmware_checks turns off",
                          "drop one of the two")
    if not 1.0 <= args.mcu_mhz <= 2000.0:
        raise ConfigError(f"--mcu_mhz {args.mcu_mhz} is out of range", "give the MCU clock in MHz, e.g. 80")
    if args.strip and args.skip_firmware_checks:
        raise ConfigError("--strip needs the TFLM checks to prove the stripped model gives identical outputs",
                          "drop --skip_firmware_checks")
    if isinstance(args.sparsity, float) and not 0.0 <= args.sparsity <= 0.99:
        raise ConfigError(f"--sparsity {args.sparsity} is out of range", "use a fraction from 0 to 0.99, e.g. 0.8")
    if args.cluster is not None and not 2 <= args.cluster <= 256:
        raise ConfigError(f"--cluster {args.cluster} is out of range", "use 2 to 256 centroids, e.g. --cluster 16")
    if args.prune_epochs is not None and args.prune_epochs < 1:
        raise ConfigError(f"--prune_epochs {args.prune_epochs} is out of range", "use at least 1 epoch")
    for flag, value in (("--sparsity", args.sparsity), ("--prune_epochs", args.prune_epochs),
                        ("--prune_policy", args.prune_policy)):
        if value is not None and not args.prune:
            raise ConfigError(f"{flag} needs --prune", f"add --prune, or drop {flag}")
    if args.keep_float and not args.PTQ:
        raise ConfigError("--keep_float needs --PTQ with an integer quantization",
                          "add --PTQ -q int8 (or integer_with_float_fallback)")
    if args.keep_float and "auto" in args.keep_float and len(args.keep_float) > 1:
        raise ConfigError("--keep_float takes `auto` or layer names, not both", "pick one")
    if args.check and (args.sweep or args.QAT or args.prune or args.cluster or args.strip or args.keep_float):
        raise ConfigError("--check converts the model as it is, in seconds: it fine-tunes, sweeps and strips nothing",
                          "drop --sweep, --QAT, --prune, --cluster, --strip and --keep_float (or --check)")
    if args.sweep and (args.PTQ or args.QAT or args.prune or args.cluster):
        raise ConfigError("--sweep runs every combination itself",
                          "drop --PTQ, --QAT, --prune and --cluster when using --sweep")
    if len(args.input_dir) > 1 and not args.sweep:
        raise ConfigError("several --input_dir need --sweep", "give one model directory, or add --sweep")
    for flag, value in (("--sweep_grid", args.sweep_grid), ("--scheduler", args.scheduler),
                        ("--tls_ca", args.tls_ca), ("--tls_cert", args.tls_cert), ("--tls_key", args.tls_key)):
        if value is not None and not args.sweep:
            raise ConfigError(f"{flag} needs --sweep", "add --sweep")
    if args.sweep_sparsity and not args.sweep:
        raise ConfigError("--sweep_sparsity needs --sweep", "add --sweep")
    if args.max_drop is not None and not 0.0 <= args.max_drop <= 100.0:
        raise ConfigError(f"--max_drop {args.max_drop} is out of range",
                          "use accuracy points or percent from 0 to 100, e.g. --max_drop 2")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs} is out of range", "use 1 or more")
    if args.QAT and (len(asked) > 1 or any(q not in QAT_OUTPUTS for q in asked)):
        raise ConfigError(f"--QAT converts to int8, so `-q {args.quantization_type}` does not apply",
                          "use `--QAT` (float input/output) or `--QAT -q int8` (int8 input/output), "
                          "or --PTQ to compare quantization types")


def _positive(value: float, flag: str) -> float:
    if not value > 0:
        raise ConfigError(f"{flag} must be a positive number of seconds, not {value:g}", f"e.g. {flag} 60")
    return value


def parse_args(argv: Sequence[str]) -> RunConfig:
    """Turn argv into a RunConfig, rejecting conflicting or unknown flags with a ConfigError."""
    args = build_parser().parse_args(list(argv))
    notices: list[str] = []
    asked = quantization_list(args.quantization_type) if args.quantization_type else ()
    notices += [notice] if (notice := apply_board(args)) else []
    _reject_conflicts(args, asked)
    sweep_sparsity = _sparsity_list(args.sweep_sparsity) if args.sweep_sparsity else ()

    quantizations = ptq_variants(args.PTQ, asked, notices)
    targets, tflm_dir, tflm_unfetched = targets_flag(args)
    packages = packages_flag(args, tflm_dir)
    return RunConfig(
        packages=packages,
        tflm_dir=tflm_dir, tflm_unfetched=tflm_unfetched,
        micropython_dir=micropython_dir_flag(args), micropython_boards=parse_boards(args.micropython_boards),
        micropython_seconds=_positive(args.micropython_seconds, "--micropython_seconds"), targets=targets,
        mcu_mhz=args.mcu_mhz, board=args.board, profile=args.profile,
        input_dir=args.input_dir[0], input_dirs=tuple(args.input_dir),
        scheduler=args.scheduler,
        tls=check_tls_flags(args.scheduler, args.tls_ca, args.tls_cert, args.tls_key),
        sweep_grid=args.sweep_grid,
        export=args.export or args.check,  # the engines are lowered only where firmware is rendered
        export_dir=args.export_dir,
        prune=args.prune,
        qat=args.QAT,
        quantizations=quantizations,
        plot_results=args.plot_results,
        cluster=args.cluster,
        sparsity=args.sparsity if isinstance(args.sparsity, float) else None,
        sparsity_auto=args.sparsity == "auto",
        prune_epochs=args.prune_epochs,
        prune_policy=args.prune_policy,
        qat_int8_io=args.QAT and asked == (Quantization.INT8,),
        keep_float=tuple(args.keep_float or ()),
        sweep=args.sweep,
        sweep_sparsity=sweep_sparsity,
        jobs=args.jobs or os.cpu_count() or 1,
        flash_budget=parse_size(args.flash_budget) if args.flash_budget else None,
        ram_budget=parse_size(args.ram_budget) if args.ram_budget else None,
        max_drop=args.max_drop,
        recovery=not args.no_recovery and not args.check,
        recovery_seconds=_positive(args.recovery_seconds, "--recovery_seconds"),
        skip_firmware_checks=args.skip_firmware_checks,
        check=args.check,
        strip=args.strip,
        keep_layout=args.keep_layout,
        allow_select_ops=args.allow_select_ops, trust_model_code=args.trust_model_code,
        debug=args.debug, verbose=args.verbose, quiet=args.quiet,
        notices=tuple(notices),
    )
