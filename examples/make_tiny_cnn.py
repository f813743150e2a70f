"""Builds examples/tiny_cnn.onnx: a small seeded-random CNN (no download).

Conv+BatchNorm+Relu -> depthwise Conv+Relu6 -> pointwise Conv+Relu ->
MaxPool -> GlobalAveragePool -> Flatten -> Gemm -> Softmax, input 1x1x28x28.
Usage: python examples/make_tiny_cnn.py [OUTPUT.onnx]
"""

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build() -> onnx.ModelProto:
    rng = np.random.default_rng(2024)

    def w(name, *shape, scale=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    inits = [
        w("conv1_w", 8, 1, 3, 3), w("conv1_b", 8),
        w("bn_gamma", 8, scale=0.1), w("bn_beta", 8), w("bn_mean", 8),
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "bn_var"),
        w("dw_w", 8, 1, 3, 3), w("dw_b", 8),
        w("pw_w", 16, 8, 1, 1), w("pw_b", 16),
        w("fc_w", 10, 16), w("fc_b", 10),
        numpy_helper.from_array(np.array(0, np.float32), "zero"),
        numpy_helper.from_array(np.array(6, np.float32), "six"),
    ]
    for init in inits[2:3]:
        init.CopyFrom(numpy_helper.from_array(1 + numpy_helper.to_array(init), init.name))
    nodes = [
        helper.make_node("Conv", ["image", "conv1_w", "conv1_b"], ["c1"], name="conv1",
                         pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c1", "bn_gamma", "bn_beta", "bn_mean", "bn_var"],
                         ["b1"], name="bn1"),
        helper.make_node("Relu", ["b1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "dw_w", "dw_b"], ["c2"], name="dwconv", group=8,
                         auto_pad="SAME_UPPER"),
        helper.make_node("Clip", ["c2", "zero", "six"], ["r2"], name="relu6"),
        helper.make_node("Conv", ["r2", "pw_w", "pw_b"], ["c3"], name="pwconv"),
        helper.make_node("Relu", ["c3"], ["r3"], name="relu3"),
        helper.make_node("MaxPool", ["r3"], ["p1"], name="pool", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p1"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="aot-examples")
    onnx.checker.check_model(model, full_check=True)
    return model


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "examples/tiny_cnn.onnx"
    onnx.save(build(), out)
    print(f"wrote {out}")
