"""Train a small CNN on scikit-learn's 8x8 handwritten digits and export it to ONNX.

Writes, next to this script:
  digits_cnn.onnx     float model, opset 13, input `input` [1,1,8,8] (pixels / 16,
                      so in [0, 1]), output `probs` [1,10] (softmax)
  digits_test.npz     the fixed test split: `input` [N,1,1,8,8] float32, `labels` [N] int64
  digits_calib.npz    a calibration split from the training images: `input` [200,1,1,8,8]

Network: Conv 3x3 (16) + Relu -> MaxPool 2 -> Conv 3x3 (32) + Relu -> MaxPool 2 ->
Flatten -> Gemm (10) -> Softmax. Training is plain numpy (im2col convolutions,
hand-written backprop, Adam), seeded, about half a minute on one core; the tests
only load the committed files. The data ship with scikit-learn (`load_digits`, no
download): `pip install scikit-learn`, then `python examples/digits/train_digits.py`.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 7
TEST_FRACTION = 0.3
CALIB_SAMPLES = 200
EPOCHS = 40
BATCH = 32
LR = 3e-3
C1, C2 = 16, 32          # channels of the two convolutions


# -- layers (NCHW, 3x3 'same' convolutions) --------------------------------------------

def im2col(x: np.ndarray) -> np.ndarray:
    """[B,C,H,W] -> [B,H,W,C*9] patches of the zero-padded input."""
    b, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((b, h, w, c, 3, 3), x.dtype)
    for i in range(3):
        for j in range(3):
            cols[..., i, j] = xp[:, :, i:i + h, j:j + w].transpose(0, 2, 3, 1)
    return cols.reshape(b, h, w, c * 9)


def col2im(dcols: np.ndarray, shape) -> np.ndarray:
    b, c, h, w = shape
    dcols = dcols.reshape(b, h, w, c, 3, 3)
    dxp = np.zeros((b, c, h + 2, w + 2), dcols.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + w] += dcols[..., i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1]


def conv_forward(x, w, b):
    cols = im2col(x)
    y = cols @ w.reshape(len(w), -1).T + b
    return y.transpose(0, 3, 1, 2), cols


def conv_backward(dy, x_shape, cols, w):
    d = dy.transpose(0, 2, 3, 1)                       # [B,H,W,O]
    dw = np.tensordot(d, cols, axes=([0, 1, 2], [0, 1, 2])).reshape(w.shape)
    db = d.sum(axis=(0, 1, 2))
    dcols = d @ w.reshape(len(w), -1)
    return col2im(dcols, x_shape), dw, db


def pool_forward(x):
    b, c, h, w = x.shape
    r = x.reshape(b, c, h // 2, 2, w // 2, 2)
    y = r.max(axis=(3, 5))
    mask = r == y[:, :, :, None, :, None]
    return y, mask


def pool_backward(dy, mask):
    # Ties share the gradient's target; with float data they are (nearly) never exact.
    d = mask * dy[:, :, :, None, :, None]
    b, c, h2, _, w2, _ = d.shape
    return d.reshape(b, c, h2 * 2, w2 * 2)


# -- the network -----------------------------------------------------------------------

def init_params(rng):
    def he(*shape):
        fan_in = int(np.prod(shape[1:]))
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return {"conv1_w": he(C1, 1, 3, 3), "conv1_b": np.zeros(C1, np.float32),
            "conv2_w": he(C2, C1, 3, 3), "conv2_b": np.zeros(C2, np.float32),
            "fc_w": he(10, C2 * 4).T.copy(), "fc_b": np.zeros(10, np.float32)}


def forward(p, x):
    c1, cols1 = conv_forward(x, p["conv1_w"], p["conv1_b"])
    r1 = np.maximum(c1, 0)
    m1, mask1 = pool_forward(r1)
    c2, cols2 = conv_forward(m1, p["conv2_w"], p["conv2_b"])
    r2 = np.maximum(c2, 0)
    m2, mask2 = pool_forward(r2)
    flat = m2.reshape(len(x), -1)
    logits = flat @ p["fc_w"] + p["fc_b"]
    cache = (x, c1, cols1, mask1, m1, c2, cols2, mask2, m2, flat)
    return logits, cache


def backward(p, dlogits, cache):
    x, c1, cols1, mask1, m1, c2, cols2, mask2, m2, flat = cache
    g = {"fc_w": flat.T @ dlogits, "fc_b": dlogits.sum(0)}
    dm2 = (dlogits @ p["fc_w"].T).reshape(m2.shape)
    dc2 = pool_backward(dm2, mask2) * (c2 > 0)
    dm1, g["conv2_w"], g["conv2_b"] = conv_backward(dc2, m1.shape, cols2, p["conv2_w"])
    dc1 = pool_backward(dm1, mask1) * (c1 > 0)
    _, g["conv1_w"], g["conv1_b"] = conv_backward(dc1, x.shape, cols1, p["conv1_w"])
    return g


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train(x, y, rng):
    p = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    step = 0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x))
        lr = LR * (0.5 ** (epoch // 15))
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            logits, cache = forward(p, x[idx])
            dlogits = softmax(logits)
            dlogits[np.arange(len(idx)), y[idx]] -= 1
            grads = backward(p, dlogits / len(idx), cache)
            step += 1
            for k in p:   # Adam
                m[k] = 0.9 * m[k] + 0.1 * grads[k]
                v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
                mh, vh = m[k] / (1 - 0.9 ** step), v[k] / (1 - 0.999 ** step)
                p[k] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return p


def accuracy(p, x, y) -> float:
    logits, _ = forward(p, x)
    return float(np.mean(logits.argmax(1) == y))


# -- ONNX export -----------------------------------------------------------------------

def export(p) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in p.items()]
    inits.append(numpy_helper.from_array(np.array([1, C2 * 4], np.int64), "flat_shape"))
    nodes = [
        helper.make_node("Conv", ["input", "conv1_w", "conv1_b"], ["conv1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
        helper.make_node("MaxPool", ["relu1"], ["pool1"], name="pool1",
                         kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool1", "conv2_w", "conv2_b"], ["conv2"], name="conv2",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv2"], ["relu2"], name="relu2"),
        helper.make_node("MaxPool", ["relu2"], ["pool2"], name="pool2",
                         kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["pool2", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="aot examples/digits/train_digits.py")
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    return model


def main(out_dir: str = HERE) -> int:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None]      # [N,1,8,8] in [0, 1]
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(x))
    n_test = int(round(TEST_FRACTION * len(x)))
    test, trainset = order[:n_test], order[n_test:]
    p = train(x[trainset], y[trainset], rng)
    train_acc, test_acc = accuracy(p, x[trainset], y[trainset]), accuracy(p, x[test], y[test])
    print(f"train accuracy {train_acc:.4f}, test accuracy {test_acc:.4f} "
          f"({len(trainset)} train, {len(test)} test images)")

    model = export(p)
    onnx.save(model, os.path.join(out_dir, "digits_cnn.onnx"))
    # A leading sample axis, then the model's input shape [1,1,8,8] (DESIGN.md).
    np.savez_compressed(os.path.join(out_dir, "digits_test.npz"),
                        input=x[test][:, None], labels=y[test])
    calib = rng.choice(trainset, CALIB_SAMPLES, replace=False)
    np.savez_compressed(os.path.join(out_dir, "digits_calib.npz"), input=x[calib][:, None])
    print(f"wrote digits_cnn.onnx, digits_test.npz, digits_calib.npz in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
