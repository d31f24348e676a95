"""Stage 4, deployment: exports (SavedModel, TFLite, Edge TPU), the runtimes that run them,
prediction on images, and the evaluation of an exported model.
"""

# The TFLite runtimes odwrap can run a model with, preferred first; here so that the CLI can
# offer them without importing numpy (odwrap.deploy.runtime uses them).
RUNTIMES = ("ai-edge-litert", "tflite-runtime", "tensorflow")
