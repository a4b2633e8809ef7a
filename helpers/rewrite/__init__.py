"""Rewrites of a converted flatbuffer where TFLM lacks a kernel, or only its reference kernel takes
the case (TF-free: the ai-edge-litert schema's object API). The passes on the traced function,
before conversion, are in frontend/graph_rewrites.py."""
