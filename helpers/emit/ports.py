"""The names the firmware gives each input and output of a model with several: specs.json's names
made identifiers (`identifier`: lower case, no keyword, distinct for distinct names), else
`input0`, `output1`, ...; the C engine's parameters, which share one scope, also never collide with
each other or with the names the engine's body uses."""
from __future__ import annotations

from typing import Any, Sequence

from helpers.emit.identifiers import camel_case, identifier

# Names the body of <id>_engine_invoke calls or reads besides its parameters.
_ENGINE_NAMES = ("memcpy", "memset", "sizeof")
_ENGINE_PREFIXES = ("mcu_", "arm_")


def tensor_names(given: Sequence[str], count: int, role: str) -> list[str]:
    """Each tensor's name in the firmware, in order; `role` is "input" or "output"."""
    names = [identifier(name) for name in given][:count]
    names += [f"{role}{number}" for number in range(len(names), count)]
    return names


def engine_parameters(inputs: Sequence[str], outputs: Sequence[str]) -> tuple[list[str], list[str]]:
    """The C engine's parameter names: an input and an output of the same name become `<name>_in` and
    `<name>_out`, and a name the engine's body uses gets `_tensor` appended."""
    shared = set(inputs) & set(outputs)

    def safe(name: str, suffix: str) -> str:
        name = name + suffix if name in shared else name
        return name + "_tensor" if name in _ENGINE_NAMES or name.startswith(_ENGINE_PREFIXES) else name

    return [safe(name, "_in") for name in inputs], [safe(name, "_out") for name in outputs]


def port_names(context: dict[str, Any], inputs: int, outputs: int) -> tuple[list[str], list[str]]:
    """The tensors' names from the template context (template_context puts them there)."""
    return (tensor_names(context.get("input_names", ()), inputs, "input"),
            tensor_names(context.get("output_names", ()), outputs, "output"))


def name_fields(name: str) -> dict[str, str]:
    """A tensor name in the forms the templates use: as is, CamelCase and UPPER."""
    return {"name": name, "camel": camel_case(name), "upper": name.upper()}
