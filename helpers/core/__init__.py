"""The TensorFlow-free spine: every value that crosses a package boundary is defined here.

quantization (the `-q` choices and their traits), specs, dataset, flatbuffer reading, variant
(plan, lineage, naming) and results (the typed report rows). Importing this package never
imports TensorFlow or matplotlib (tests/unit/test_import_boundaries.py checks it).
"""
