"""Each package checked against its format's documented rules, as far as they can be checked
without the build system: required keys and their types, name and version patterns, and that
every file a manifest or CMakeLists.txt names exists in the package. Pure functions of the
package's files (path -> text), so the export checks the folder in memory and a test the one on
disk. An empty tuple: no problem found."""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping

import yaml

# semver.org's regular expression (2.0.0)
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
                    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")
# Arduino library specification 1.5: library.properties
ARDUINO_REQUIRED = ("name", "version", "author", "maintainer", "sentence", "paragraph", "category", "url",
                    "architectures")
ARDUINO_OPTIONAL = ("depends", "dot_a_linkage", "includes", "precompiled", "ldflags", "license")
ARDUINO_CATEGORIES = ("Display", "Communication", "Signal Input/Output", "Sensors", "Device Control", "Timing",
                      "Data Storage", "Data Processing", "Other")
# The name: letters, digits, spaces, underscores, dots and dashes, starting with a letter or digit;
# arduino-lint refuses more than 63 characters.
ARDUINO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,62}$")
# PlatformIO library.json: the fields its schema documents (docs.platformio.org, library.json)
PLATFORMIO_KEYS = ("name", "version", "description", "keywords", "authors", "repository", "homepage", "license",
                   "frameworks", "platforms", "headers", "examples", "dependencies", "build", "export",
                   "downloadUrl", "scripts")
PLATFORMIO_BUILD_KEYS = ("flags", "unflags", "includeDir", "srcDir", "srcFilter", "extraScript", "libArchive",
                         "libLDFMode", "libCompatMode", "builder")
PLATFORMIO_LDF_MODES = ("off", "chain", "deep", "chain+", "deep+")
PLATFORMIO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
# Zephyr's module.yml (scripts/zephyr_module.py's schema): top-level and build keys
ZEPHYR_KEYS = ("name", "build", "samples", "tests", "boards", "blobs", "security", "package-managers", "runners")
ZEPHYR_BUILD_KEYS = ("cmake", "kconfig", "cmake-ext", "kconfig-ext", "sysbuild-cmake", "sysbuild-kconfig",
                     "sysbuild-cmake-ext", "sysbuild-kconfig-ext", "depends", "settings")
# ESP-IDF's idf_component.yml (the component manager's manifest format)
ESP_KEYS = ("version", "description", "url", "repository", "documentation", "issues", "discussion", "license",
            "maintainers", "tags", "targets", "dependencies", "files", "examples", "require", "repository_info")
ESP_TARGETS = ("esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32c61", "esp32h2",
               "esp32p4", "linux")
ESP_TAG = re.compile(r"^[A-Za-z0-9_\-]{3,32}$")
_CMAKE_PATH = re.compile(r"\$\{CMAKE_CURRENT_(?:SOURCE|LIST)_DIR\}/([\w./\-]+)")
_QUOTED = re.compile(r'"([^"$]+\.(?:c|h|cpp))"')
# `#include "x"` (searched beside the including file, then on the include path: src/); <x> is the toolchain's
# quoted in CMSIS-NN's arm_nn_compiler.h under another compiler's #if (MSVC's intrinsics)
_TOOLCHAIN_HEADERS = ("intrin.h",)
_QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

Files = Mapping[str, str]


def _exists(files: Files, path: str) -> bool:
    """A file, or a folder holding files."""
    path = path.rstrip("/")
    return path in ("", ".") or path in files or any(name.startswith(path + "/") for name in files)


def _named_paths(files: Files, cmake: str, where: str) -> list[str]:
    problems = []
    for path in _CMAKE_PATH.findall(files.get(cmake, "")):
        if not _exists(files, path):
            problems.append(f"{where} names {path}, which is not in the package")
    return problems


def _core(files: Files) -> list[str]:
    """Every package: the engine's sources are there, CMSIS-NN's with its licence, and every
    quoted #include of a source resolves inside src/ (the one include path)."""
    problems = []
    engines = [name for name in files if re.fullmatch(r"src/\w+_engine\.c", name)]
    if len(engines) != 1 or engines[0].replace(".c", ".h") not in files:
        problems.append("src/ does not hold exactly one <id>_engine.c with its header")
    cmsis = [name for name in files if name.startswith("src/cmsis_nn/Source/") and name.endswith(".c")]
    if cmsis and "src/cmsis_nn/LICENSE" not in files:
        problems.append("CMSIS-NN's sources are there without its LICENSE")
    for name, text in files.items():
        if not (name.startswith("src/") and name.endswith((".c", ".h"))):
            continue
        folder = name.rsplit("/", 1)[0]
        for included in _QUOTED_INCLUDE.findall(_without_comments(text)):
            if f"src/{included}" not in files and f"{folder}/{included}" not in files and \
                    included not in _TOOLCHAIN_HEADERS:
                problems.append(f"{name} includes \"{included}\", which is not in the package")
    return problems


def _without_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def check_cmake(files: Files) -> list[str]:
    text = files.get("CMakeLists.txt")
    if text is None:
        return ["no CMakeLists.txt"]
    problems = _named_paths(files, "CMakeLists.txt", "CMakeLists.txt")
    if not re.search(r"^cmake_minimum_required\(VERSION \d+\.\d+", text, re.M):
        problems.append("CMakeLists.txt does not start with cmake_minimum_required")
    if not re.search(r"^add_library\(\w+_engine STATIC", text, re.M):
        problems.append("CMakeLists.txt defines no <id>_engine library")
    return problems


def _properties(text: str) -> tuple[dict[str, str], list[str]]:
    values, problems = {}, []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "=" not in line:
            problems.append(f"library.properties line {number} is not key=value")
            continue
        key, value = line.split("=", 1)
        if key in values:
            problems.append(f"library.properties sets {key} twice")
        values[key] = value
    return values, problems


def check_arduino(files: Files) -> list[str]:
    text = files.get("library.properties")
    if text is None:
        return ["no library.properties"]
    values, problems = _properties(text)
    problems += [f"library.properties lacks {key}" for key in ARDUINO_REQUIRED if not values.get(key, "").strip()]
    problems += [f"library.properties has an unknown field {key}" for key in values
                 if key not in ARDUINO_REQUIRED + ARDUINO_OPTIONAL]
    if "name" in values and not ARDUINO_NAME.match(values["name"]):
        problems.append(f"library.properties name {values['name']!r} breaks the name rules")
    if "version" in values and not SEMVER.match(values["version"]):
        problems.append(f"library.properties version {values['version']!r} is not semver")
    if "category" in values and values["category"] not in ARDUINO_CATEGORIES:
        problems.append(f"library.properties category {values['category']!r} is not one of the spec's")
    if "url" in values and not re.match(r"^https?://", values["url"]):
        problems.append("library.properties url is not a URL")
    architectures = [a.strip() for a in values.get("architectures", "").split(",")]
    if not all(re.fullmatch(r"\*|[a-z0-9_]+", a) for a in architectures):
        problems.append("library.properties architectures is not a comma-separated list")
    for header in filter(None, (h.strip() for h in values.get("includes", "").split(","))):
        if f"src/{header}" not in files:
            problems.append(f"library.properties includes {header}, which is not in src/")
    if not any(name.startswith("src/") for name in files):
        problems.append("no src/ folder (the 1.5 format)")
    if any(name.endswith(".ino") and not name.startswith("examples/") for name in files):
        problems.append("a sketch outside examples/")
    sketches = [name for name in files if name.startswith("examples/") and name.endswith(".ino")]
    if not sketches:
        problems.append("no example sketch")
    for sketch in sketches:
        parts = sketch.split("/")
        if len(parts) != 3 or parts[2] != f"{parts[1]}.ino":
            problems.append(f"{sketch}: a sketch's folder must be named as the sketch")
    return problems


def check_platformio(files: Files) -> list[str]:
    text = files.get("library.json")
    if text is None:
        return ["no library.json"]
    try:
        data = json.loads(text)
    except ValueError as error:
        return [f"library.json is not JSON: {error}"]
    if not isinstance(data, dict):
        return ["library.json is not an object"]
    problems = [f"library.json lacks {key}" for key in ("name", "version") if key not in data]
    problems += [f"library.json has an unknown field {key}" for key in data if key not in PLATFORMIO_KEYS]
    if not (isinstance(data.get("name"), str) and PLATFORMIO_NAME.match(data["name"])):
        problems.append("library.json name is not a name")
    if not (isinstance(data.get("version"), str) and SEMVER.match(data["version"])):
        problems.append("library.json version is not semver")
    for key in ("description",):
        if key in data and not isinstance(data[key], str):
            problems.append(f"library.json {key} is not a string")
    for key in ("keywords", "frameworks", "platforms", "headers"):
        value = data.get(key)
        if value is not None and not (isinstance(value, str) or
                                      (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            problems.append(f"library.json {key} is neither a string nor a list of strings")
    authors = data.get("authors", [])
    if not (isinstance(authors, (dict, list)) and
            all(isinstance(a, dict) and isinstance(a.get("name"), str) for a in
                (authors if isinstance(authors, list) else [authors]))):
        problems.append("library.json authors are not objects with a name")
    build = data.get("build", {})
    if not isinstance(build, dict):
        problems.append("library.json build is not an object")
        build = {}
    problems += [f"library.json build has an unknown field {key}" for key in build if key not in PLATFORMIO_BUILD_KEYS]
    for key in ("srcDir", "includeDir"):
        if key in build and not _exists(files, build[key]):
            problems.append(f"library.json build.{key} {build[key]} is not in the package")
    if "libLDFMode" in build and build["libLDFMode"] not in PLATFORMIO_LDF_MODES:
        problems.append(f"library.json build.libLDFMode {build['libLDFMode']!r} is not a mode")
    headers = data.get("headers")
    for header in [headers] if isinstance(headers, str) else headers or []:
        if f"{build.get('includeDir', 'include')}/{header}" not in files:
            problems.append(f"library.json headers names {header}, which is not in the include folder")
    for path in data.get("export", {}).get("include", []):
        if not _exists(files, path):
            problems.append(f"library.json export.include names {path}, which is not in the package")
    return problems


def _yaml(files: Files, name: str) -> tuple[Any, list[str]]:
    if name not in files:
        return None, [f"no {name}"]
    try:
        return yaml.safe_load(files[name]), []
    except yaml.YAMLError as error:
        return None, [f"{name} is not YAML: {str(error).splitlines()[0]}"]


def check_zephyr(files: Files) -> list[str]:
    data, problems = _yaml(files, "zephyr/module.yml")
    if problems:
        return problems
    if not isinstance(data, dict):
        return ["zephyr/module.yml is not a mapping"]
    problems += [f"zephyr/module.yml has an unknown key {key}" for key in data if key not in ZEPHYR_KEYS]
    if not (isinstance(data.get("name"), str) and re.fullmatch(r"[A-Za-z0-9_\-]+", data["name"])):
        problems.append("zephyr/module.yml name is not a module name")
    build = data.get("build")
    if not isinstance(build, dict):
        return problems + ["zephyr/module.yml has no build mapping"]
    problems += [f"zephyr/module.yml build has an unknown key {key}" for key in build if key not in ZEPHYR_BUILD_KEYS]
    cmake, kconfig = build.get("cmake"), build.get("kconfig")
    folder = cmake.strip("./") if isinstance(cmake, str) else None
    if folder is None or (f"{folder}/CMakeLists.txt" if folder else "CMakeLists.txt") not in files:
        problems.append("zephyr/module.yml build.cmake does not name a folder with a CMakeLists.txt")
    if not isinstance(kconfig, str) or kconfig not in files:
        problems.append("zephyr/module.yml build.kconfig does not name a file of the package")
        return problems
    symbols = re.findall(r"^(?:menu)?config\s+([A-Z0-9_]+)\s*$", files[kconfig], re.M)
    if not symbols:
        problems.append(f"{kconfig} defines no symbol")
    for line in files[kconfig].splitlines():
        if line.startswith("config") and not re.fullmatch(r"config [A-Z0-9_]+", line):
            problems.append(f"{kconfig}: {line!r} is not an upper-case symbol")
    text = files.get("CMakeLists.txt", "")
    used = set(re.findall(r"CONFIG_([A-Z0-9_]+)", text))
    problems += [f"CMakeLists.txt reads CONFIG_{s}, which {kconfig} does not define" for s in used - set(symbols)]
    if "zephyr_library" not in text:
        problems.append("CMakeLists.txt makes no zephyr_library")
    return problems + _named_paths(files, "CMakeLists.txt", "CMakeLists.txt")


def check_esp_idf(files: Files) -> list[str]:
    data, problems = _yaml(files, "idf_component.yml")
    if problems:
        return problems
    if not isinstance(data, dict):
        return ["idf_component.yml is not a mapping"]
    problems += [f"idf_component.yml has an unknown key {key}" for key in data if key not in ESP_KEYS]
    if not (isinstance(data.get("version"), str) and SEMVER.match(data["version"])):
        problems.append("idf_component.yml version is not semver")
    for key in ("description", "url"):
        if key in data and not isinstance(data[key], str):
            problems.append(f"idf_component.yml {key} is not a string")
    for target in data.get("targets", []):
        if target not in ESP_TARGETS:
            problems.append(f"idf_component.yml targets names {target!r}, not an ESP-IDF target")
    for tag in data.get("tags", []):
        if not (isinstance(tag, str) and ESP_TAG.match(tag)):
            problems.append(f"idf_component.yml tag {tag!r} breaks the tag rules")
    dependencies = data.get("dependencies", {})
    if not isinstance(dependencies, dict) or not all(isinstance(v, (str, dict)) for v in dependencies.values()):
        problems.append("idf_component.yml dependencies is not a mapping of versions")
    text = files.get("CMakeLists.txt")
    if text is None:
        return problems + ["no CMakeLists.txt"]
    register = re.search(r"idf_component_register\((.*?)\)", text, re.S)
    if register is None:
        return problems + ["CMakeLists.txt does not call idf_component_register"]
    body = register.group(1)
    for path in _QUOTED.findall(body):
        if path not in files:
            problems.append(f"idf_component_register names {path}, which is not in the component")
    for folder in re.findall(r"INCLUDE_DIRS\s+((?:\"[^\"]+\"\s*)+)", body):
        for path in re.findall(r'"([^"]+)"', folder):
            if not _exists(files, path):
                problems.append(f"INCLUDE_DIRS names {path}, which is not in the component")
    if not re.search(r"SRCS\s+\"", body):
        problems.append("idf_component_register has no SRCS")
    return problems


CHECKS: dict[str, Callable[[Files], list[str]]] = {
    "cmake": check_cmake, "arduino": check_arduino, "platformio": check_platformio, "zephyr": check_zephyr,
    "esp-idf": check_esp_idf}


def validate(system: str, files: Files) -> tuple[str, ...]:
    """The problems found in one package of `system` (files: path inside the package -> text)."""
    return tuple(_core(files) + CHECKS[system](files))
