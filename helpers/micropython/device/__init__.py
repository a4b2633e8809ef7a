"""Code that runs on the board. Each file is valid MicroPython and CPython; emit.py pastes the
files a model needs into its generated module, so what is tested here is what the board runs."""
