"""The flow: plan the variants, build each, measure each, render each; the sweep; the staged export.

`run.py` is the facade main.py calls. Importing this package imports numpy and pandas; TensorFlow
only once the inputs check out (pipeline/run.py imports the TensorFlow stages late)."""
