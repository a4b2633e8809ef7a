"""A model directory that holds a `.tflite` (float or already quantized, from this tool or another):
no conversion, and everything after it runs on the file as it is: LiteRT and TFLM, the firmware
files, the engines, the targets and the report. Flags that need the source model are refused."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from helpers.config import RunConfig
from helpers.core.flatbuffer import TfliteInfo, inspect_tflite
from helpers.core.quantization import TRAITS, Quantization
from helpers.core.results import VariantReport
from helpers.core.specs import Specs
from helpers.core.variant import Lineage, TfliteModel, VariantPlan
from helpers.errors import ConfigError, ModelError, first_line
from helpers.lowering.graph import Graph, read_graph
from helpers.measure.variant import select_ops
from helpers.pipeline.variants import VariantResult, VariantRunner

log = logging.getLogger("mcu_deploy")


def read_given(path: Path, specs: Specs) -> TfliteModel:
    """The file as a variant, or a one-line ModelError: not a flatbuffer, truncated, shapes that
    disagree with specs.json, TF Select ops, a type the tool does not handle."""
    content = path.read_bytes()
    try:
        info = inspect_tflite(content)
        graph = read_graph(content)
    except Exception as exc:  # the flatbuffer reader raises struct errors, IndexError... on a bad file
        raise ModelError(f"not a readable TFLite flatbuffer ({first_line(exc, 100)})",
                         "give the complete .tflite file the converter wrote", path) from None
    for what, declared, tensor in (("input", specs.input.shape, info.input), ("output", specs.output.shape,
                                                                                info.output)):
        if tuple(tensor.shape[1:]) != tuple(declared) or (tensor.shape and tensor.shape[0] != 1):
            raise ModelError(f"specs {what}.shape {list(declared)} does not match the .tflite's {what} shape "
                             f"{list(tensor.shape)} (batch 1 first)",
                             f"set {what}.shape in specs.json to {list(tensor.shape[1:])}", specs.path)
    quantization = detect_quantization(info, graph, path)
    plan = VariantPlan(name=TRAITS[quantization].variant_name, quantization=quantization, lineage=Lineage(),
                       description=f"{TRAITS[quantization].description} (the given {path.name})")
    model = TfliteModel(plan=plan, content=content, info=info)
    flex = select_ops(model)
    if flex:
        raise ModelError(f"the .tflite uses TF Select ops ({', '.join(flex)}), which no microcontroller runtime has",
                         "convert the model without SELECT_TF_OPS", path)
    probe_on_litert(path)
    return model


PROBE_TIMEOUT_S = 120


def probe_on_litert(path: Path) -> None:
    """LiteRT runs the file once in a child process (convert/child/probe.py) before this process
    builds an interpreter for it: a file the flatbuffer reader takes can still be one LiteRT's
    verifier refuses ("not a valid Flatbuffer buffer"), cannot allocate ("inconsistent model"), or
    crashes on; each is one line here."""
    from helpers.convert.isolated import ConverterCrashed, ConverterFailed, run_job
    from helpers.convert.jobs import ProbeJob

    fix = "give the complete .tflite file the converter wrote; check it runs on LiteRT"
    try:
        run_job(ProbeJob(model=str(path.resolve())), timeout_s=PROBE_TIMEOUT_S)
    except ConverterCrashed as exc:
        raise ModelError(f"LiteRT {exc} on the .tflite", fix, path) from None
    except ConverterFailed as exc:
        raise ModelError(f"LiteRT cannot run the .tflite ({_quoted(str(exc))})", fix, path) from None


def _quoted(text: str) -> str:
    """A child's error text as one short line: its first non-empty line, without the type name."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "unknown error")
    return line.split(": ", 1)[-1][:150] if line.split(": ", 1)[0].isidentifier() else line[:150]


def detect_quantization(info: TfliteInfo, graph: Graph, path: Path) -> Quantization:
    """What the file stores, named as -q names it."""
    kinds = {info.input.dtype, info.output.dtype}
    if kinds == {"int8"}:
        return Quantization.INT8
    if kinds == {"int16"}:
        return Quantization.INT16X8
    if kinds != {"float32"}:
        raise ModelError(f"a .tflite with {info.input.dtype} input and {info.output.dtype} output",
                         "give a model with float32, int8 or int16 input and output", path)
    activations = {t.dtype for t in graph.tensors if t.data is None and t.scales}
    constants = {t.dtype for t in graph.tensors if t.data is not None}
    if "int8" in activations:
        return Quantization.INTEGER_WITH_FLOAT_FALLBACK
    if "float16" in constants:
        return Quantization.FLOAT16
    if "int8" in constants:
        return Quantization.DYNAMIC_RANGE
    return Quantization.NONE


def refuse_source_flags(config: RunConfig, given: TfliteModel, path: Path) -> None:
    """Flags that need the Keras, ONNX or PyTorch model the file was converted from."""
    flags = [flag for flag, on in (("--prune", config.prune), ("--cluster", config.cluster), ("--QAT", config.qat),
                                   ("--keep_float", config.keep_float), ("--strip", config.strip)) if on]
    if flags:
        raise ConfigError(f"{', '.join(flags)} {'needs' if len(flags) == 1 else 'need'} the source model, and "
                          f"{path.name} is already a .tflite", "drop the flag, or give the model it was converted "
                          "from")
    asked = [q for q in config.quantizations if q is not Quantization.NONE]
    if asked and asked != [given.plan.quantization]:
        wanted = "-q " + ",".join(q.value for q in asked)
        raise ConfigError(f"{wanted} needs the source model: {path.name} is already {given.plan.quantization.value}",
                          f"drop -q, or use -q {given.plan.quantization.value}")


def given_row(given: TfliteModel, runner: VariantRunner) -> tuple[VariantReport, VariantResult]:
    """The reference row (the file on LiteRT, as the user's own tools run it) and the variant built
    from it (the same bytes through TFLM, the firmware files, the engines and the targets)."""
    result = runner.run(given.plan, model=None, optimized=None, prepared=given)  # type: ignore[arg-type]
    measured = result.measurement
    reference = VariantReport(name="tflite", path=None, format="litert", quantization=given.plan.quantization.value,
                              pruned=False, qat=False, metrics=dict(result.report.metrics),
                              size_bytes=given.size_bytes, evaluation=f"LiteRT (the given {given.plan.name} file)")
    if measured is not None and measured.outputs is not None and not np.all(np.isfinite(measured.outputs)):
        log.warning("warning: the given .tflite gives NaN or infinite outputs on LiteRT")
    return reference, result


def build_given(runner: VariantRunner, given: TfliteModel) -> list[VariantResult]:
    """The reference row and the one variant of a given .tflite."""
    log.info("the model is a .tflite (%s, %s B): no conversion; every check runs on the file as given",
             given.plan.quantization.value, f"{given.size_bytes:,}")
    reference, result = given_row(given, runner)
    return [VariantResult(report=reference), result]
