from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def requirements(name):
    lines = (HERE / "requirements" / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


setup(
    name="odwrap",
    version="0.1.0",
    description="The TensorFlow 2 Object Detection API, end to end, from small YAML specs",
    python_requires=">=3.10,<3.14",  # the stacks: tf221 on 3.10-3.13, tf215 on 3.11
    packages=find_packages(include=["odwrap", "odwrap.*"]) + ["odwrap.templates",
                                                            "odwrap.label_maps"],
    package_dir={"odwrap.templates": "templates", "odwrap.label_maps": "label_maps"},
    package_data={
        "odwrap.config": ["*.yaml"],
        "odwrap.templates": ["*.j2", "specs/*.yaml"],
        "odwrap.label_maps": ["*.pbtxt"],
    },
    # TensorFlow comes as an extra so that the GPU build never lands beside the CPU one;
    # the OD API packages of requirements/nodeps.txt are installed by scripts/setup.sh.
    install_requires=requirements("base.txt"),
    extras_require={
        "cpu": requirements("tensorflow-cpu.txt"),
        "gpu": requirements("tensorflow-gpu.txt"),
        "dev": requirements("dev.txt"),
        "beam": requirements("beam.txt"),  # in a venv of its own (scripts/setup-beam.sh)
    },
    entry_points={"console_scripts": ["odwrap = odwrap.cli:entrypoint"]},
)
