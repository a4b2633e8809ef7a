"""End-to-end tests call the converter in this process too (test_evaluate, the debugger tests):
its children fork from a zygote that must start before the fixtures run any TensorFlow op."""
from __future__ import annotations

from helpers.convert import zygote
from helpers.frontend.tf_runtime import tf  # noqa: F401  (TensorFlow imported, no op run yet)

zygote.start()
