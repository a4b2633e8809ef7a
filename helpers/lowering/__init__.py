"""The model lowered once for every engine, TensorFlow-free: the flatbuffer read as a typed graph
(graph), TFLM's Prepare-step arithmetic (arith), each op turned into a typed kernel step with its
constants (lower, ops_*, lstm; the steps in steps), and a static buffer plan (builder). The
emitters (the MicroPython engine today) turn the resulting Program into text."""
