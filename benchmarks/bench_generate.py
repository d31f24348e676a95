"""`odwrap generate` wall time against a bare `import tensorflow`, measured in the same run.

Target: generate takes under a tenth of a TensorFlow import. Run with the project's venv:
    .venv/bin/python benchmarks/bench_generate.py [--repeat N]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "templates" / "specs" / "ssd_mobilenet_v2_fpnlite_320.yaml"
TARGET_RATIO = 0.1


def wall_time(argv) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        generate = [sys.executable, "-m", "odwrap", "generate", str(SPEC), "-o", out]
        import_tf = [sys.executable, "-c", "import tensorflow"]
        wall_time(generate), wall_time(import_tf)  # warm the file cache for both
        generate_s = [wall_time(generate) for _ in range(args.repeat)]
        import_s = [wall_time(import_tf) for _ in range(args.repeat)]
    result = {
        "generate_median_s": round(statistics.median(generate_s), 4),
        "import_tensorflow_median_s": round(statistics.median(import_s), 4),
    }
    result["ratio"] = round(result["generate_median_s"] / result["import_tensorflow_median_s"], 4)
    result["target_ratio"] = TARGET_RATIO
    result["meets_target"] = result["ratio"] < TARGET_RATIO
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
