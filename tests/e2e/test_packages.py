"""--package: the C engine as a package for the user's build system. The shared export of the digits
CNN (tests/e2e/conftest.py's digits_targets, run with --package all) holds every package:

- the CMake package, taken with FetchContent by a firmware of its own (package_harness/) and built
  with cmake and a Cortex-M4 toolchain file, runs its self-test under QEMU (add_subdirectory:
  configured);
- the Arduino library, built as the Arduino library specification says (everything under src/
  compiled recursively with src/ the include path, the example sketch preprocessed into C++ with
  `#include <Arduino.h>` and prototypes, the sketch folder's sources beside it) with
  arm-none-eabi-gcc/g++ for a Cortex-M4 and a shim for Serial/setup/loop, runs under QEMU;
- both print the same outputs digest as the engine's own self-test on the Cortex-M4 (and TFLM's);
- the manifests of the others pass their formats' rules (helpers/packages/validate.py), checked
  again on disk here; the CMSIS-NN sources are exactly the ones the engine's calls reach, unchanged,
  with their licence;
- report.json and report.md say what was written and that the run built none of them;
- a bad --package is one line and exit 2."""
from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, TFLM_DIR, require_tool, run_main

pytestmark = pytest.mark.xdist_group("targets")
HARNESS = ROOT / "helpers" / "targets" / "harness"
PACKAGE_HARNESS = Path(__file__).parent / "package_harness"
CMSIS_NN = TFLM_DIR / "tensorflow/lite/micro/tools/make/downloads/cmsis_nn"
M4 = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "-Os", "-ffunction-sections", "-fdata-sections")
LINK = ("--specs=rdimon.specs", f"-T{HARNESS}/mps2_an386.ld", "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments")
FOLDERS = {"cmake": "cmake", "arduino": "arduino", "platformio": "platformio", "zephyr": "zephyr",
           "esp-idf": "esp-idf/digits_cnn_engine"}


@pytest.fixture(scope="session")
def packages_export(digits_targets) -> Path:
    """The shared digits export (tests/e2e/conftest.py: every quantization, the self-test on host,
    Cortex-M4 and Cortex-M0+), which --package all packages; cmake is needed here only."""
    require_tool("cmake")
    return digits_targets


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(root.rglob("*")) if p.is_file()}


def _run(command: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command[:3])}...: {(result.stdout + result.stderr)[-3000:]}"
    return result.stdout


def _qemu(elf: Path) -> str:
    from helpers.targets.runner import run_program
    from helpers.targets.target import TARGETS

    run = run_program(TARGETS["cortex-m4"], elf)
    assert run.returncode == 0 and not run.timed_out, run.output[-2000:]
    return run.output


def _build_cmake(package: Path, work: Path, fetch: bool) -> Path:
    """The package in a firmware of its own: cmake, the Cortex-M4 toolchain file, FetchContent or
    add_subdirectory (built only with `fetch`: the other is configured, which defines its targets)."""
    build = work / f"cmake-build-{'fetch' if fetch else 'subdirectory'}"
    _run(["cmake", "-S", str(PACKAGE_HARNESS), "-B", str(build), f"-DFETCH={'ON' if fetch else 'OFF'}",
          f"-DCMAKE_TOOLCHAIN_FILE={PACKAGE_HARNESS / 'cortex_m4.cmake'}", "-DCMAKE_BUILD_TYPE=MinSizeRel",
          f"-DPACKAGE={package}", "-DENGINE=digits_cnn_engine", f"-DHARNESS={HARNESS}", "-DDIGITS_CNN_CORE=cortex-m4"])
    if fetch:
        _run(["cmake", "--build", str(build), "-j", "2"])
    return build / "firmware.elf"


def preprocess_sketch(sketch: Path) -> str:
    """An .ino as Arduino's builder makes it C++: `#include <Arduino.h>` first, a prototype for each
    function the sketch defines (before its first definition), `#line` so errors name the .ino."""
    text = sketch.read_text(encoding="utf-8")
    definition = re.compile(r"^(?!extern\b)([A-Za-z_][\w\s\*&:<>]*?[\s\*&])(\w+)\s*\(([^;{)]*)\)\s*\{", re.M)
    linkage = re.compile(r'^extern\s+"C"[^;{]*\([^;{]*\)\s*\{', re.M)  # declared by its linkage: no prototype
    found = list(definition.finditer(text))
    prototypes = "".join(f"{m.group(1).strip()} {m.group(2)}({m.group(3).strip()});\n" for m in found)
    first = min([m.start() for m in [*found, *linkage.finditer(text)]] or [len(text)])
    line = text[:first].count("\n") + 1
    return (f'#include <Arduino.h>\n#line 1 "{sketch.name}"\n{text[:first]}{prototypes}'
            f'#line {line} "{sketch.name}"\n{text[first:]}')


def _build_arduino(library: Path, work: Path) -> Path:
    """Arduino's rules for a 1.5-format library and a sketch, with arm-none-eabi-gcc/g++ for a Cortex-M4."""
    out = work / "arduino-build"
    out.mkdir()
    sketch_dir = next((library / "examples").iterdir())
    sketch_cpp = out / f"{sketch_dir.name}.ino.cpp"
    sketch_cpp.write_text(preprocess_sketch(sketch_dir / f"{sketch_dir.name}.ino"))
    includes = [f"-I{PACKAGE_HARNESS}", f"-I{library / 'src'}", f"-I{sketch_dir}"]
    library_sources = sorted(p for p in (library / "src").rglob("*") if p.suffix in (".c", ".cpp", ".S"))
    sketch_sources = sorted(p for p in sketch_dir.iterdir() if p.suffix in (".c", ".cpp"))
    objects = []
    sources = [*library_sources, *sketch_sources, sketch_cpp, PACKAGE_HARNESS / "arduino_main.cpp",
               HARNESS / "startup_cortex_m.c"]
    for index, source in enumerate(sources):
        obj = out / f"{index}_{source.stem}.o"
        if source.suffix == ".cpp":
            command = ["arm-none-eabi-g++", *M4, "-std=gnu++17", "-fno-exceptions", "-fno-rtti",
                       "-fno-threadsafe-statics"]
        else:
            command = ["arm-none-eabi-gcc", *M4, "-std=gnu11"]
        _run([*command, *includes, "-c", str(source), "-o", str(obj)])
        objects.append(str(obj))
    elf = out / "sketch.elf"
    _run(["arm-none-eabi-g++", *M4, *objects, *LINK, "-lm", "-o", str(elf)])
    return elf


def _self_test(output: str) -> tuple[str, int]:
    found = re.search(r"outputs digest: ([0-9a-f]{8}) over (\d+) vectors", output)
    assert found and re.search(rf"PASS: {found.group(2)} of {found.group(2)} vectors match", output), output[-2000:]
    return found.group(1), int(found.group(2))


def test_packages(packages_export, tmp_path):
    from helpers.packages import SYSTEMS
    from helpers.packages.validate import validate
    from helpers.targets.cmsis_sources import needed_sources

    export = packages_export
    report = json.loads((export / "report.json").read_text())
    variants = {v["name"]: v for v in report["variants"]}
    engine = variants["int8"]["firmware"]["c_engine"]
    m4 = engine["targets"]["cortex-m4"]
    assert engine["status"] == "pass" and m4["status"] == "pass", engine
    assert m4["outputs_digest"] == variants["int8"]["firmware"]["targets"]["cortex-m4"]["outputs_digest"]

    # report.json: every variant whose engine passed has every package, its manifests passed, none
    # built by the run (it says so); the others have none
    engines = {name: (v.get("firmware") or {}).get("c_engine") or {} for name, v in variants.items()}
    packaged = [name for name, engine_of in engines.items() if engine_of.get("packages")]
    assert {"int8", "float32"} <= set(packaged)
    for name in packaged:
        engine_of = variants[name]["firmware"]["c_engine"]
        packages = engine_of["packages"]
        assert engine_of["status"] != "fail" and list(packages) == list(SYSTEMS)
        for system, package in packages.items():
            assert package["folder"] == f"packages/{FOLDERS[system]}" and package["manifest"] == "pass", package
            assert package["build"] == "not_checked" and "tests/e2e/test_packages.py" in package["build_reason"]
            assert (export / name / package["folder"]).is_dir()
        uses_cmsis = engine_of["uses_cmsis_nn"]
        assert all((p["cmsis_nn_sources"] > 0) is uses_cmsis for p in packages.values())
    assert {p["cmsis_nn_sources"] for p in variants["int8"]["firmware"]["c_engine"]["packages"].values()} == {16}
    unpackaged = [name for name, engine_of in engines.items() if name not in packaged and engine_of]
    assert all(not (export / name / "packages").exists() for name in unpackaged)
    report_md = (export / "report.md").read_text()
    assert "### The engine's packages (--package)" in report_md
    assert report_md.count("| pass | not checked by this run |") == len(packaged) * len(SYSTEMS)

    # on disk: each package passes its format's rules; the CMSIS-NN sources are exactly the ones the
    # engine's calls reach, byte for byte the tree's, with the licence
    folder = export / "int8"
    engine_c = (folder / "digits_cnn_engine.c").read_text()
    wanted = needed_sources(TFLM_DIR, engine_c)
    for system, relative in FOLDERS.items():
        files = _files(folder / "packages" / relative)
        assert validate(system, files) == (), (system, validate(system, files))
        copied = sorted(name.removeprefix("src/cmsis_nn/") for name in files
                        if name.startswith("src/cmsis_nn/Source/") and name.endswith(".c"))
        assert tuple(copied) == wanted
        assert all(files[f"src/cmsis_nn/{path}"] == (CMSIS_NN / path).read_text() for path in wanted)
        assert files["src/cmsis_nn/LICENSE"] == (CMSIS_NN / "LICENSE").read_text()
        assert files["src/digits_cnn_engine.c"] == engine_c
    # the format's rules catch what they should: a manifest naming a missing file, a bad version
    broken = _files(folder / "packages" / "esp-idf" / "digits_cnn_engine")
    broken["idf_component.yml"] = broken["idf_component.yml"].replace('version: "1.0.0"', 'version: "1.0"')
    broken.pop("src/cmsis_nn/Source/SoftmaxFunctions/arm_softmax_s8.c")
    problems = validate("esp-idf", broken)
    assert any("semver" in p for p in problems) and any("arm_softmax_s8.c" in p for p in problems), problems
    properties = _files(folder / "packages" / "arduino")
    properties["library.properties"] = properties["library.properties"].replace("category=Data Processing\n", "")
    assert validate("arduino", properties) == ("library.properties lacks category",)

    # built and run: the CMake package and the Arduino library, each a Cortex-M4 firmware under QEMU
    started = time.monotonic()
    _build_cmake(folder / "packages" / "cmake", tmp_path, fetch=False)
    cmake_digest, vectors = _self_test(_qemu(_build_cmake(folder / "packages" / "cmake", tmp_path, fetch=True)))
    cmake_seconds = time.monotonic() - started
    started = time.monotonic()
    arduino_output = _qemu(_build_arduino(folder / "packages" / "arduino", tmp_path))
    arduino_seconds = time.monotonic() - started
    arduino_digest, arduino_vectors = _self_test(arduino_output)
    assert arduino_output.rstrip().endswith("self-test passed")
    assert cmake_digest == arduino_digest == m4["outputs_digest"]
    assert vectors == arduino_vectors == m4["vectors"]
    print(f"cmake package: built and run in {cmake_seconds:.1f} s; arduino library: {arduino_seconds:.1f} s")


def test_bad_package_values_are_one_line_and_exit_2(tmp_path):
    cases = {("--package", "cmake,make", "-e"): "unknown --package make",
             ("--package", "", "-e"): "unknown --package",
             ("--package", "all"): "--package writes the C engine's packages into the export"}
    for flags, message in cases.items():
        result = run_main("--input_dir", str(ROOT / "models/digits_cnn"), "--PTQ", "--export_dir",
                          str(tmp_path / "never"), *flags, timeout=120)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "never").exists()
