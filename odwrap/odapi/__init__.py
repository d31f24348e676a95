"""The thin layer over the OD API and its file formats: generated protos, pipeline.config text,
label maps, tf.Example and TFRecord, facts read from a config, compat fixes, log silencing.

Everything above this package reaches the OD API through it; nothing here knows about specs,
datasets, training runs or exports.
"""
