"""Issue 31: a CI-sized share of the OD API's own unit tests, as the package ships them, run in
the venv by benchmarks/odapi_tests.py (the venv's import hook applies odwrap's fixes; the plugin
adapts the tests' NumPy 1 habits). The whole measure is that script's run of all 104 files
(README, The OD API in odwrap's venv); these are the files of what odwrap itself drives."""

import json

import pytest

from tests.conftest import ROOT, run_python

pytestmark = [pytest.mark.tf, pytest.mark.slow]

# About 50 s of the 17 minutes all 104 take (tf221, 2 cores): the exporters odwrap drives, the
# decoder that reads odwrap's records, and the evaluation utilities.
FILES = ("export_tflite_graph_lib_tf2_test.py", "exporter_lib_tf2_test.py",
         "data_decoders/tf_example_decoder_test.py", "eval_util_test.py")


def test_the_odapi_export_tests_pass_in_the_venv(tmp_path):
    report = tmp_path / "upstream.json"
    ran = run_python([str(ROOT / "benchmarks" / "odapi_tests.py"), "-n", "1", "-o", str(report),
                      *FILES], timeout=900)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    files = json.loads(report.read_text())["files"]
    assert set(files) == set(FILES)
    for name, result in files.items():
        assert result["imports"] and result["passed"] > 0, (name, result)
        assert result["green"], (name, result["failures"])
