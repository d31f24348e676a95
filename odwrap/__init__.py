"""odwrap: the TensorFlow 2 Object Detection API, end to end, from small YAML specs.

    import odwrap

    odwrap.demo_data("shapes")                                   # Pascal VOC
    odwrap.convert("voc", "shapes", "data", split="train=0.9,val=0.1")
    odwrap.generate("spec.yaml", "config")                       # config/pipeline.config
    result = odwrap.train("config/pipeline.config", "model", steps=1500)
    metrics = odwrap.evaluate("model").metrics
    exported = odwrap.export("model", "tflite", quantize="int8")
    odwrap.predict(exported.path, ["image.jpg"], "predictions")
    odwrap.zoo_checkpoint("ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8")  # TF2 Detection Zoo

Each function returns a typed result and raises an odwrap.errors.OdwrapError (InputError for
bad input) with a one-line message. Install an odwrap.report.Reporter with
`odwrap.report.use(...)` to hear progress. Importing odwrap loads neither numpy nor TensorFlow: each name is imported on first use, so
that odwrap's venv can load `odwrap.odapi.hook` at every interpreter start for nothing.
"""

import importlib
import importlib.util

__version__ = "0.1.0"

__all__ = ["batch_size", "benchmark", "check", "convert", "demo_data", "diagnose", "evaluate",
           "evaluate_export", "export", "generate", "merge", "plot", "predict", "profile",
           "record_golden", "stats", "train", "trim", "verify", "watch", "write_label_map",
           "zoo_cached", "zoo_checkpoint", "zoo_models", "zoo_pull", "OdwrapError", "InputError",
           "RunError", "__version__"]

_ERRORS = ("OdwrapError", "InputError", "RunError")


def __getattr__(name: str):
    """The public functions (odwrap.api) and errors on first use, and odwrap's submodules
    (odwrap.report, odwrap.errors...) as an eager import would have left them."""
    if name in __all__:
        module = importlib.import_module("odwrap.errors" if name in _ERRORS else "odwrap.api")
    elif importlib.util.find_spec(f"odwrap.{name}") is not None:
        return importlib.import_module(f"odwrap.{name}")
    else:
        raise AttributeError(f"module 'odwrap' has no attribute '{name}'")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
