"""Every package's files, in memory: one writer per file. The engine, its CMSIS-NN sources and the
self-test are laid out the same way in every package, so that `src/` alone is the include path:

    src/<id>_engine.c, src/<id>_engine.h       the engine
    src/arm_*.h, src/Internal/                  CMSIS-NN's Include/ headers the engine reaches
    src/cmsis_nn/Source/<family>/*.c            exactly the CMSIS-NN sources its calls reach
    src/cmsis_nn/LICENSE, README.md             their licence (Apache-2.0) and revision

(Arduino adds only src/ to the include path and compiles it recursively). Around it, each build
system's manifests (templates/packages/) and the self-test: `selftest/` (main.c calling
<id>_engine_selftest()) or, for Arduino, `examples/<id>_selftest/<id>_selftest.ino`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helpers.emit.codegen import Rendered, render
from helpers.emit.identifiers import identifier
from helpers.packages.cmsis_copy import CmsisCopy

# The packages' own version: the engine is regenerated, not patched, so one version says the
# layout and the API; a user who publishes a package sets their own.
PACKAGE_VERSION = "1.0.0"
# 32-bit Arduino cores (CMSIS-NN and the engine assume a 32-bit int; AVR is not among them).
ARDUINO_ARCHITECTURES = ("samd", "sam", "mbed", "mbed_nano", "mbed_rp2040", "rp2040", "renesas_uno",
                         "renesas_portenta", "nrf52", "stm32", "esp32")
ESP_TARGETS = ("esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6", "esp32h2", "esp32p4")


@dataclass(frozen=True)
class PackageInputs:
    """What every package is made of: the rendered engine, its self-test and test data, and CMSIS-NN."""

    context: dict[str, Any]        # the engine's template values (id, upper, variant, display_name, ...)
    engine_h: Rendered
    engine_c: Rendered
    selftest_c: Rendered           # <id>_engine_selftest() (c_engine.render_engine_selftest_function)
    test_data_h: Rendered
    model_data_h: Rendered
    model_data_c: Rendered         # the normalisation arrays the self-test reads (and the flatbuffer)
    cmsis: CmsisCopy


@dataclass(frozen=True)
class Package:
    """One build system's package: its folder inside the variant's and its files, relative to it."""

    system: str
    folder: str                    # packages/<system> (ESP-IDF: packages/esp-idf/<id>_engine)
    files: tuple[Rendered, ...]

    def rendered(self) -> tuple[Rendered, ...]:
        """The files with their paths inside the variant's folder."""
        return tuple(Rendered(f"{self.folder}/{f.filename}", f.text) for f in self.files)

    def text(self, path: str) -> str | None:
        return next((f.text for f in self.files if f.filename == path), None)


def _package_name(context: dict[str, Any]) -> str:
    return f"{context['id']}_engine_{identifier(context['variant'])}"


def _core(inputs: PackageInputs) -> list[Rendered]:
    """src/: the engine and CMSIS-NN, the same in every package."""
    model_id = inputs.context["id"]
    files = [Rendered(f"src/{model_id}_engine.h", inputs.engine_h.text),
             Rendered(f"src/{model_id}_engine.c", inputs.engine_c.text)]
    cmsis = inputs.cmsis
    if cmsis.sources:
        files += [Rendered(f"src/{path.removeprefix('Include/')}", text) for path, text in cmsis.headers]
        files += [Rendered(f"src/cmsis_nn/{path}", text) for path, text in cmsis.sources]
        files += [Rendered("src/cmsis_nn/LICENSE", cmsis.licence),
                  render("packages/cmsis_nn_readme.md.j2", "src/cmsis_nn/README.md", _values(inputs))]
    return files


def _selftest(inputs: PackageInputs, folder: str) -> list[Rendered]:
    """The self-test's sources (and the test vectors) in `folder`."""
    return [Rendered(f"{folder}/{r.filename}", r.text)
            for r in (inputs.selftest_c, inputs.test_data_h, inputs.model_data_h, inputs.model_data_c)]


def _values(inputs: PackageInputs, system: str = "") -> dict[str, Any]:
    """The templates' values: the engine's, plus the package's names and its source list."""
    context = inputs.context
    cmsis = inputs.cmsis
    headers = [f"src/{path.removeprefix('Include/')}" for path, _ in cmsis.headers]
    from helpers.emit.c_engine import core_flags

    return {**context, "system": system, "core_flags": core_flags(), "package_name": _package_name(context),
            "version": PACKAGE_VERSION,
            "engine_sources": [f"src/{context['id']}_engine.c"] + [f"src/cmsis_nn/{p}" for p in cmsis.source_files],
            "cmsis_headers": headers, "cmsis_revision_copied": cmsis.revision, "has_cmsis": bool(cmsis.sources),
            "arduino_architectures": ",".join(ARDUINO_ARCHITECTURES), "esp_targets": ESP_TARGETS,
            "selftest_files": [f"selftest/{r.filename}" for r in
                               (inputs.selftest_c, inputs.model_data_c)] + ["selftest/main.c"],
            "description": f"The {context['display_name']} model ({context['variant']}) as C calling CMSIS-NN: "
                           f"no interpreter, no heap. Generated by mcu-deploy."}


def _with_selftest_main(inputs: PackageInputs, values: dict[str, Any]) -> list[Rendered]:
    return _selftest(inputs, "selftest") + [render("packages/selftest_main.c.j2", "selftest/main.c", values)]


def cmake_package(inputs: PackageInputs) -> Package:
    """A CMake library target, `add_subdirectory` or FetchContent, with the self-test as an object library."""
    values = _values(inputs, "cmake")
    files = _core(inputs) + _with_selftest_main(inputs, values) + [
        render("packages/cmake/CMakeLists.txt.j2", "CMakeLists.txt", values),
        render("packages/README.md.j2", "README.md", values)]
    return Package("cmake", "packages/cmake", tuple(files))


def arduino_package(inputs: PackageInputs) -> Package:
    """An Arduino library (1.5 format): library.properties, src/, the self-test as an example sketch."""
    values = _values(inputs, "arduino")
    sketch = f"{inputs.context['id']}_selftest"
    files = _core(inputs) + _selftest(inputs, f"examples/{sketch}") + [
        render("packages/arduino/sketch.ino.j2", f"examples/{sketch}/{sketch}.ino", values),
        render("packages/arduino/library.properties.j2", "library.properties", values),
        render("packages/README.md.j2", "README.md", values)]
    return Package("arduino", "packages/arduino", tuple(files))


def platformio_package(inputs: PackageInputs) -> Package:
    """A PlatformIO library: library.json over src/ (any framework), the self-test in selftest/."""
    values = _values(inputs, "platformio")
    files = _core(inputs) + _with_selftest_main(inputs, values) + [
        render("packages/platformio/library.json.j2", "library.json", values),
        render("packages/README.md.j2", "README.md", values)]
    return Package("platformio", "packages/platformio", tuple(files))


def zephyr_package(inputs: PackageInputs) -> Package:
    """A Zephyr module: zephyr/module.yml, a CMakeLists.txt behind a Kconfig option."""
    values = _values(inputs, "zephyr")
    files = _core(inputs) + _with_selftest_main(inputs, values) + [
        render("packages/zephyr/module.yml.j2", "zephyr/module.yml", values),
        render("packages/zephyr/CMakeLists.txt.j2", "CMakeLists.txt", values),
        render("packages/zephyr/Kconfig.j2", "Kconfig", values),
        render("packages/README.md.j2", "README.md", values)]
    return Package("zephyr", "packages/zephyr", tuple(files))


def esp_idf_package(inputs: PackageInputs) -> Package:
    """An ESP-IDF component: idf_component.yml and idf_component_register. Its folder is named as
    the component (ESP-IDF takes the component's name from it): packages/esp-idf/<id>_engine."""
    values = _values(inputs, "esp-idf")
    files = _core(inputs) + _with_selftest_main(inputs, values) + [
        render("packages/esp_idf/idf_component.yml.j2", "idf_component.yml", values),
        render("packages/esp_idf/CMakeLists.txt.j2", "CMakeLists.txt", values),
        render("packages/README.md.j2", "README.md", values)]
    return Package("esp-idf", f"packages/esp-idf/{inputs.context['id']}_engine", tuple(files))


WRITERS = {"cmake": cmake_package, "arduino": arduino_package, "platformio": platformio_package,
           "zephyr": zephyr_package, "esp-idf": esp_idf_package}


def render_packages(inputs: PackageInputs, systems: tuple[str, ...]) -> tuple[Package, ...]:
    """The packages for these build systems (helpers.packages.SYSTEMS names)."""
    return tuple(WRITERS[system](inputs) for system in systems)
