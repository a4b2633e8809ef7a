"""The TensorFlow-free spine: the values the run is planned and reported with.

quantization (the `-q` choices and their traits), specs, dataset, flatbuffer reading, variant
(plan, lineage, naming), checks (one Status vocabulary, the targets' and MicroPython's verdicts),
details (the typed blocks of a report row) and results (the report rows, RunReport). Values that
belong to one stage live with it (lowering.Program, measure.Measurement, render.FolderContent).
Importing this package never imports TensorFlow or matplotlib (tests/unit/test_import_boundaries.py).
"""
