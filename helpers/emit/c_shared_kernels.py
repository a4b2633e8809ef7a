"""One copy of an own kernel per layer shape (issue 36: the engine's code flash). The own kernels
are always inlined, so each call is compiled for its layer's constants; layers of the same shape
(MobileNetV1's five 6x6x128 blocks) would each carry a copy. Each own call is first written as a
call of a wrapper named for its kernel and shape; once every step is formatted, a shape called
more than once gets the wrapper (not inlined: one copy, its shapes still literals, its layers'
offsets and clamps passed as arguments, since every layer has its own), and a shape called once
gets its direct call back, every argument a literal."""
from __future__ import annotations

from dataclasses import dataclass, field

# Each own kernel's leading pointer parameters, typed as its C signature has them; the literal
# arguments (shapes, offsets, clamp, flags) follow them.
POINTER_PARAMETERS = {
    "mcu_pointwise_s8": ("const int8_t *", "int8_t *", "const uint32_t *", "const int32_t *", "const int32_t *",
                         "const int32_t *", "uint32_t *"),
    "mcu_conv_s8": ("const int8_t *", "int8_t *", "const uint32_t *", "const int32_t *", "const int32_t *",
                    "const int32_t *", "uint32_t *"),
    "mcu_depthwise_3x3_s8": ("const int8_t *", "int8_t *", "const uint32_t *", "const int32_t *", "const int32_t *",
                             "const int32_t *"),
    "mcu_fully_connected_s8": ("const int8_t *", "int8_t *", "const int8_t *", "const int32_t *", "const int32_t *",
                               "const int32_t *", "uint32_t *"),
    "mcu_v6m_rows_s8": ("const int8_t *", "int8_t *", "const uint8_t *", "const int32_t *", "const int32_t *",
                        "const int32_t *"),
    "mcu_v6m_conv_s8": ("const int8_t *", "int8_t *", "const uint8_t *", "const int32_t *", "const int32_t *",
                        "const int32_t *", "int8_t *"),
    "mcu_v6m_depthwise_s8": ("const int8_t *", "int8_t *", "const int8_t *", "const int32_t *", "const int32_t *",
                             "const int32_t *", "const int32_t *"),
}


# Which of those literal arguments are the layer's quantization (offsets, clamp), not its shape:
# arguments of a shared copy. Positions among the literal arguments, as the C signatures order them.
PER_LAYER = {
    "mcu_pointwise_s8": (3, 4, 5),               # output_offset, act_min, act_max
    "mcu_conv_s8": (12, 14, 15, 16),             # input_offset, output_offset, act_min, act_max
    "mcu_depthwise_3x3_s8": (8, 9, 10, 11),      # input_offset, output_offset, act_min, act_max
    "mcu_fully_connected_s8": (3, 4, 5),         # output_offset, act_min, act_max
    "mcu_v6m_rows_s8": (4, 5, 6),                # output_offset, act_min, act_max
    "mcu_v6m_conv_s8": (12, 14, 15, 16),         # input_offset, output_offset, act_min, act_max
    "mcu_v6m_depthwise_s8": (11, 12, 13, 14),    # input_offset, output_offset, act_min, act_max
}


@dataclass
class Shape:
    """A kernel called with the same literal arguments by one or more steps."""

    wrapper: str
    guard: str                 # the #if the kernel compiles under
    function: str
    literals: tuple[str | None, ...]   # the shape's literal arguments; None where each layer passes its own
    direct_calls: list[tuple[str, str]] = field(default_factory=list)  # (wrapper call, direct call) per use


@dataclass
class SharedKernels:
    """The shapes the steps' own calls used, by kernel and literal arguments."""

    shapes: dict[tuple[str, tuple[str, ...]], Shape] = field(default_factory=dict)

    def call(self, function: str, args: list[str], guard: str) -> str:
        """The statement for one own call: a wrapper call, made direct again by `finish` if the shape
        is used once."""
        count = len(POINTER_PARAMETERS[function])
        pointers, literals = args[:count], args[count:]
        per_layer = [literals[i] for i in PER_LAYER[function]]
        key = tuple(None if i in PER_LAYER[function] else value for i, value in enumerate(literals))
        shape = self.shapes.setdefault((function, key), Shape(
            wrapper=f"mcu_shape{len(self.shapes)}", guard=guard, function=function, literals=key))
        wrapper_call = f"{shape.wrapper}({', '.join(pointers + per_layer)});"
        shape.direct_calls.append((wrapper_call, f"{function}({', '.join(args)});"))
        return wrapper_call

    def finish(self, steps: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
        """The steps with single-use shapes called directly, and the shared shapes' definitions."""
        definitions = []
        for shape in self.shapes.values():
            if len(shape.direct_calls) > 1:
                types = POINTER_PARAMETERS[shape.function]
                per_layer = PER_LAYER[shape.function]
                params = ", ".join([f"{ctype}p{i}" for i, ctype in enumerate(types)]
                                   + [f"const int32_t v{i}" for i in per_layer])
                args = ", ".join([f"p{i}" for i in range(len(types))]
                                 + [f"v{i}" if value is None else value for i, value in enumerate(shape.literals)])
                definitions.append(f"#if {shape.guard}\n/* {len(shape.direct_calls)} layers of this shape */\n"
                                   f"static __attribute__((noinline)) void {shape.wrapper}({params}) {{\n"
                                   f"  {shape.function}({args});\n}}\n#endif")
                continue
            ((wrapper_call, direct_call),) = shape.direct_calls
            steps = [(op, line.replace(wrapper_call, direct_call)) for op, line in steps]
        return steps, definitions
