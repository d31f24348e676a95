"""`profile` and `batch-size` (issue 16) on the tiny model's spec: real TensorFlow, real runs."""

import re

import pytest

from odwrap.training.batch_size import largest_fitting
from tests.conftest import run_odwrap


def test_largest_fitting_doubles_then_bisects():
    tried = []

    def fits(batch):
        tried.append(batch)
        return batch <= 37

    assert largest_fitting(fits, 2) == 37
    assert tried == [2, 4, 8, 16, 32, 64, 48, 40, 36, 38, 37]
    assert largest_fitting(lambda batch: batch <= 1, 2) == 0
    assert largest_fitting(lambda batch: True, 3, limit=20) == 20


@pytest.mark.tf
@pytest.mark.slow
def test_profile_reports_the_three_rates_and_a_verdict(tiny_model, tmp_path):
    result = run_odwrap("profile", tiny_model.spec, "--steps", 3, "--warmup", 1,
                        "--trace", tmp_path / "trace", "--trace-steps", 2)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    rates = {name: float(value) for name, value in re.findall(
        r"^(input pipeline alone|training step alone|both together): +([0-9.]+)",
        result.stdout, re.M)}
    assert set(rates) == {"input pipeline alone", "training step alone", "both together"}
    assert all(rate > 0 for rate in rates.values())
    assert re.search(r"^(not )?input-bound: training runs at \d+% of what the step allows",
                     result.stdout, re.M), result.stdout
    # the tiny spec reads one TFRecord file: the advice names sharding
    assert "shard them (odwrap convert --shards N)" in result.stdout
    assert list((tmp_path / "trace").rglob("*.xplane.pb")), "no profiler trace written"


@pytest.mark.tf
@pytest.mark.slow
def test_batch_size_on_cpu_predicts_a_size_and_its_learning_rate(tiny_model):
    result = run_odwrap("batch-size", tiny_model.spec, "--start", 1, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert re.search(r"^batch 1: fits, peak \d+ MiB$", result.stdout, re.M)
    assert re.search(r"^batch 4: fits, peak \d+ MiB$", result.stdout, re.M)
    found = re.search(r"largest batch that fits the CPU: (\d+); use (\d+); learning rate "
                      r"([0-9.e-]+) \(the config's ([0-9.e-]+) at batch (\d+)\)", result.stdout)
    assert found, result.stdout
    largest, use, rate, configured, batch = found.groups()
    assert int(largest) >= int(use) >= 4 and int(use) % 8 in (0, int(use))
    assert float(rate) == pytest.approx(float(configured) * int(use) / int(batch), rel=1e-5)
    assert f"set: train.batch_size: {use}" in result.stdout
