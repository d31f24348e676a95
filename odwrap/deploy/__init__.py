"""Stage 4, deployment: exports (SavedModel, TFLite, Edge TPU), the runtimes that run them,
prediction on images, and the evaluation of an exported model.
"""

# The TFLite runtimes odwrap can run a model with, preferred first; here so that the CLI can
# offer them without importing numpy (odwrap.deploy.runtime uses them).
RUNTIMES = ("ai-edge-litert", "tflite-runtime", "tensorflow")
# The module each runtime comes from (tflite-runtime is in the tf215 stack only).
RUNTIME_MODULES = {"ai-edge-litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime",
                   "tensorflow": "tensorflow"}


def installed_runtimes() -> tuple[str, ...]:
    """The RUNTIMES whose package is installed, found without importing them."""
    import importlib.util

    return tuple(name for name in RUNTIMES if importlib.util.find_spec(RUNTIME_MODULES[name]))
