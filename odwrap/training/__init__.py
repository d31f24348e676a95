"""Stage 3, training: the model directory, the OD API's training step run for exactly N steps,
checkpoint evaluation, and plots of the summaries.
"""
