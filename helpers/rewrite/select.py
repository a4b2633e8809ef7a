"""select_to_select_v2: TFLM has SELECT_V2 but no SELECT, the op the converter writes for
`tf.where` of equal shapes (Keras' `selu` becomes GREATER, EXP, ... SELECT). With the condition and
both branches of the output's shape, SELECT_V2 (which only adds broadcasting) computes the same
thing element for element: the operator code and its empty options change, nothing else."""
from __future__ import annotations

from ai_edge_litert import schema_py_generated as schema

from helpers.rewrite.edit import drop_orphans, name_of, opcode_index

NAME = "select_to_select_v2"


def rewrite_selects(model: schema.ModelT) -> int:
    """Turn every same-shape SELECT into SELECT_V2; how many. Edits `model` in place."""
    count = 0
    for graph in model.subgraphs:
        for op in graph.operators or []:
            if name_of(model, op) != "SELECT":
                continue
            shapes = {tuple(int(d) for d in graph.tensors[i].shape) for i in list(op.inputs) + list(op.outputs)}
            if len(shapes) != 1:  # SELECT's rank-1 condition over the batch: not an element-wise select
                continue
            op.opcodeIndex = opcode_index(model, schema.BuiltinOperator.SELECT_V2, 1)
            op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.SelectV2Options, schema.SelectV2OptionsT()
            count += 1
        if count:
            drop_orphans(model, graph, set())  # the SELECT operator code, now unused
    return count
