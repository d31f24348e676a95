"""Stage 1, configuration: YAML spec -> validated spec -> template context -> rendered text ->
parsed TrainEvalPipelineConfig -> checks -> written pipeline.config. `loader.load_config` is the
one way any command reads a spec or a pipeline.config.
"""
