"""Stage 2, data: annotation formats -> samples -> splits and shards -> TFRecords, plus dataset
statistics and the built-in demo dataset. Never imports TensorFlow.
"""
