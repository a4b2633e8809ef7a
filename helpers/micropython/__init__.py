"""The model as MicroPython code: the graph read from the flatbuffer (graph), lowered to kernel
calls with every constant precomputed (lower), written as a module (emit), and run on a real
MicroPython (runtime). `device/` holds the code that runs on the board; nothing in this package
imports TensorFlow."""
