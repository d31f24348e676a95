"""Which runner predicts: the local run (odwrap.deploy.predict) or an Apache Beam pipeline
(odwrap.deploy.beam_predict), chosen above both, since the Beam driver reuses the local run's
pieces (deploy/predict.py cannot import it back). odwrap.api.predict is `predict` here."""

from odwrap.deploy.predict import PredictResult
from odwrap.deploy.predict import predict as local_predict


def predict(model, images, output="predictions", *, runner: str = "local",
            beam_options: str = "", **options) -> PredictResult:
    """Run an exported model over IMAGES into OUTPUT: odwrap.deploy.predict.predict, whose
    parameters are the OPTIONS (threshold, jsonl, annotate, ...) with their defaults. RUNNER
    'beam': the same files from an Apache Beam pipeline (odwrap.deploy.beam_predict) on the
    runner that BEAM_OPTIONS (PipelineOptions arguments) names, the DirectRunner by default;
    IMAGES may then be URLs (gs://...)."""
    if runner != "local" or beam_options:
        from odwrap.deploy import beam_predict

        return beam_predict.predict(model, images, output, runner=runner,
                                    beam_options=beam_options, **options)
    return local_predict(model, images, output, **options)
