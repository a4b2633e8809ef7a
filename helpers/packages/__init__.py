"""The C engine as a package for the user's build system (--package): a CMake library, an Arduino
library, a PlatformIO library, a Zephyr module and an ESP-IDF component, each self-contained (the
engine, exactly the CMSIS-NN sources it calls with their licence, the self-test as an example).
cmsis_copy reads those sources from the TFLM tree, layout renders every package's files in memory
(templates/packages/), validate checks each one against its format's documented rules."""
from __future__ import annotations

from helpers.errors import ConfigError

SYSTEMS = ("cmake", "arduino", "platformio", "zephyr", "esp-idf")


def parse_packages(text: str) -> tuple[str, ...]:
    """`cmake,arduino` or `all` -> the build systems, in SYSTEMS' order; ConfigError for anything else."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return SYSTEMS
    unknown = [name for name in names if name not in SYSTEMS]
    if unknown or not names:
        raise ConfigError(f"unknown --package {', '.join(unknown) or repr(text)}",
                          f"choose from {', '.join(SYSTEMS)}, comma-separated, or all")
    return tuple(system for system in SYSTEMS if system in names)
