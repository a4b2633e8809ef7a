"""Targets: the generated self-test built against TensorFlow Lite Micro's C++ library and run where
firmware runs (natively for `host`, under qemu-system-arm for the Cortex-M targets). TF-free."""
