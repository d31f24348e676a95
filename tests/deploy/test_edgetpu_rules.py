"""The Edge TPU report's rules on hand-built op lists, and the compiler's log as it prints it."""

from odwrap.deploy.export.edgetpu_rules import (
    Op, Tensor, disagreements, parse_compiler_log, partition, runtime_needed,
    unexpected_cpu_ops)

ACT = Tensor("INT8", (1, 8, 8, 16))
WEIGHTS = Tensor("INT8", (16, 3, 3, 16), constant=True)
BIAS = Tensor("INT32", (16,), constant=True)


def conv(index, source, target):
    return Op(index, "CONV_2D", (source, 100, 101), (target,), version=3)


def graph(*ops, **extra):
    """Tensors 0..9 are int8 activations, 100/101 conv weights and bias; EXTRA overrides."""
    tensors = {i: ACT for i in range(10)}
    tensors.update({100: WEIGHTS, 101: BIAS})
    tensors.update({int(key[1:]): value for key, value in extra.items()})
    return list(ops), tensors


def where(verdicts):
    return ["tpu" if v.mapped else "cpu" for v in verdicts]


def test_integer_convolutions_map():
    verdicts = partition(*graph(conv(0, 0, 1), conv(1, 1, 2)))
    assert where(verdicts) == ["tpu", "tpu"]
    assert runtime_needed(verdicts) == 1


def test_an_unsupported_op_sends_what_depends_on_it_to_the_cpu_and_nothing_else():
    # The DEQUANTIZE comes first in execution order, but conv #2 does not depend on it.
    ops, tensors = graph(conv(0, 0, 1), Op(1, "FLOOR_MOD", (1,), (2,)), conv(2, 1, 3),
                         conv(3, 2, 4), Op(4, "ADD", (3, 4), (5,)))
    verdicts = partition(ops, tensors)
    assert where(verdicts) == ["tpu", "cpu", "tpu", "cpu", "cpu"]
    assert verdicts[1].reason == "not an Edge TPU operation"
    assert verdicts[3].after == 1 and verdicts[4].after == 3
    assert "compiler" in verdicts[3].source


def test_a_rank_5_tensor_is_refused():
    ops, tensors = graph(Op(0, "PACK", (0, 1), (2,), version=2),
                         Op(1, "RESHAPE", (2, 102), (3,)),
                         t2=Tensor("INT8", (1, 4, 4, 2, 16)),
                         t102=Tensor("INT32", (4,), constant=True))
    verdicts = partition(ops, tensors)
    assert where(verdicts) == ["cpu", "cpu"]
    assert "unsupported rank" in verdicts[0].reason and "#708" in verdicts[0].source
    assert "unsupported rank" in verdicts[1].reason  # its input is rank 5 too


def test_a_batch_above_one_is_refused_but_rank_4_weights_are_not():
    ops, tensors = graph(conv(0, 0, 1), t0=Tensor("INT8", (2, 8, 8, 16)))
    assert "3 innermost" in partition(ops, tensors)[0].reason
    assert where(partition(*graph(conv(0, 0, 1)))) == ["tpu"]  # WEIGHTS: [16, 3, 3, 16]


def test_float_tensors_are_refused_and_int32_only_as_constants():
    float_ops, float_tensors = graph(conv(0, 0, 1), t1=Tensor("FLOAT32", (1, 8, 8, 16)))
    assert "FLOAT32 tensor" in partition(float_ops, float_tensors)[0].reason
    int32_ops, int32_tensors = graph(conv(0, 0, 1), t1=Tensor("INT32", (1, 8, 8, 16)))
    assert "INT32 tensor" in partition(int32_ops, int32_tensors)[0].reason


def test_dynamic_shapes_are_refused():
    ops, tensors = graph(conv(0, 0, 1),
                         t0=Tensor("INT8", (1, 8, 8, 16), signature=(1, -1, -1, 16)))
    assert "dynamic shape" in partition(ops, tensors)[0].reason


def test_resize_versions_with_half_pixel_centers_are_refused():
    plain = partition(*graph(Op(0, "RESIZE_NEAREST_NEIGHBOR", (0, 102), (1,), version=2),
                             t102=Tensor("INT32", (2,), constant=True)))
    half_pixel = partition(*graph(Op(0, "RESIZE_NEAREST_NEIGHBOR", (0, 102), (1,), version=3),
                                  t102=Tensor("INT32", (2,), constant=True)))
    assert where(plain) == ["tpu"] and where(half_pixel) == ["cpu"]
    assert "Operation version not supported" in half_pixel[0].reason


def test_runtime_version_follows_the_mapped_ops():
    verdicts = partition(*graph(Op(0, "QUANTIZE", (0,), (1,)), Op(1, "TRANSPOSE", (1, 102), (2,)),
                                t0=Tensor("UINT8", (1, 8, 8, 16)),
                                t102=Tensor("INT32", (4,), constant=True)))
    assert where(verdicts) == ["tpu", "tpu"] and runtime_needed(verdicts) == 14


def ssd_tail():
    """Box and class heads, DEQUANTIZE x2 into the post-processing op, and one stray DEQUANTIZE."""
    floats = {f"t{i}": Tensor("FLOAT32", (1, 24, 4)) for i in (3, 4, 6)}
    return graph(conv(0, 0, 1), conv(1, 0, 2), Op(2, "DEQUANTIZE", (1,), (3,)),
                 Op(3, "DEQUANTIZE", (2,), (4,)),
                 Op(4, "TFLite_Detection_PostProcess", (3, 4, 105), (7, 8, 9, 5), custom=True),
                 Op(5, "DEQUANTIZE", (0,), (6,)),
                 t105=Tensor("FLOAT32", (24, 4), constant=True), **floats)


def test_only_the_post_processing_and_the_dequantize_ops_feeding_it_are_expected_on_the_cpu():
    ops, tensors = ssd_tail()
    verdicts = partition(ops, tensors)
    assert where(verdicts) == ["tpu", "tpu", "cpu", "cpu", "cpu", "cpu"]
    assert "always on the CPU" in verdicts[4].reason
    assert [v.index for v in unexpected_cpu_ops(ops, verdicts)] == [5]


# The layout of `edgetpu_compiler -s` output as coral.ai/docs/edgetpu/compiler and the
# google-coral/edgetpu issues show it (version 16), for the two-conv graph of ssd_tail().
COMPILER_OUTPUT = """\
Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 412 ms.

Input model: model_int8.tflite
Input size: 0.97MiB
Output model: model_int8_edgetpu.tflite
Output size: 1.21MiB
On-chip memory used for caching model parameters: 912.00KiB
On-chip memory remaining for caching model parameters: 6.97MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 6
Operation log: model_int8_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage \
of the model will instead run on the CPU, which is slower. If possible, consider updating your \
model to use only operations supported by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 1
Number of operations that will run on CPU: 5

Operator                       Count      Status

CONV_2D                        1          Mapped to Edge TPU
CONV_2D                        1          Operation is otherwise supported, but not mapped due \
to some unspecified limitation
DEQUANTIZE                     3          Operation is working on an unsupported data type
CUSTOM                         1          Operation is working on an unsupported data type
Compilation child process completed within timeout period.
Compilation succeeded!
"""


def test_the_compiler_log_is_read():
    log = parse_compiler_log(COMPILER_OUTPUT)
    assert (log.version, log.on_tpu, log.on_cpu, log.subgraphs) == ("16.0.384591198", 1, 5, 1)
    assert log.rows[0] == ("CONV_2D", 1, "Mapped to Edge TPU")
    assert len(log.rows) == 4 and log.rows[-1][0] == "CUSTOM"
    assert log.mapped() == {"CONV_2D": 1}


def test_disagreements_name_the_totals_and_the_op_with_the_compilers_reason():
    ops, tensors = ssd_tail()
    differ = disagreements(partition(ops, tensors), parse_compiler_log(COMPILER_OUTPUT))
    assert differ[0] == ("ops on the Edge TPU / CPU: the report says 2 / 4, the compiler 1 / 5")
    assert differ[1].startswith("CONV_2D on the Edge TPU: the report says 2, the compiler 1")
    assert "unspecified limitation" in differ[1] and len(differ) == 2


def test_a_compiler_that_agrees_gives_no_disagreement():
    ops, tensors = ssd_tail()
    agreeing = (COMPILER_OUTPUT.replace("Edge TPU: 1", "Edge TPU: 2").replace("CPU: 5", "CPU: 4")
                .replace("CONV_2D                        1          Operation",
                         "CONV_2D                        1          Mapped to Edge TPU\nX 0 "))
    assert disagreements(partition(ops, tensors), parse_compiler_log(agreeing)) == []
    assert disagreements(partition(ops, tensors), parse_compiler_log("Compilation failed!")) \
        == ["the compiler's output has no op counts to compare with"]


def test_a_segment_search_log_is_read_from_its_last_try():
    failed_try = ("Edge TPU Compiler version 16.0.384591198\nSearching for valid delegate with "
                  "step 1\nTry to compile segment with 7 ops\n"
                  "Number of operations that will run on Edge TPU: 0\n"
                  "Number of operations that will run on CPU: 7\n\n"
                  "Operator                       Count      Status\n\n"
                  "CONV_2D                        2          Operation is working on an "
                  "unsupported data type\nTry to compile segment with 6 ops\n")
    log = parse_compiler_log(failed_try + COMPILER_OUTPUT.split("\n", 1)[1])
    assert (log.on_tpu, log.on_cpu) == (1, 5) and log.mapped() == {"CONV_2D": 1}
    assert [row[0] for row in log.rows] == ["CONV_2D", "CONV_2D", "DEQUANTIZE", "CUSTOM"]
