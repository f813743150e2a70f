"""The one place where lowering rules are registered.

Read this file to see every op aot accepts and which rule lowers it on which
target. Platform rules (key = target name or family) are added here beside
the generic portable-C rules and win over them.
"""

import numpy as np

from aot.targets import rules_generic as g
from aot.targets import rules_int8 as q
from aot.targets import rules_transformer as tf
from aot.targets import rules_mask as mask
from aot.targets import rules_elementwise as ew
from aot.targets import rules_neon as neon
from aot.targets import rules_dsp as dsp
from aot.targets import rules_upsample as up
from aot.targets import rules_x86 as x86
from aot.targets.lowering import REMOVED_BY_PASSES, register


def by_dtype(f32_rule, s8_rule):
    """One rule per (op, target) that picks the float32 or int8 lowering by the
    dtype of the op's first input."""
    def rule(node, ctx):
        int8 = ctx.tensor(node.inputs[0]).dtype == np.int8
        return (s8_rule if int8 else f32_rule)(node, ctx)
    rule.__name__ = f"{f32_rule.__name__}|{s8_rule.__name__}"
    return rule


GENERIC = {
    "Conv": by_dtype(g.lower_conv, q.lower_conv_s8),
    "Gemm": by_dtype(g.lower_gemm, q.lower_gemm_s8),
    "MatMul": g.lower_matmul,
    "Add": by_dtype(g.lower_binary, q.lower_add_s8),
    "Sub": g.lower_binary,
    "Mul": by_dtype(g.lower_binary, q.lower_mul_s8),
    "Div": g.lower_binary,
    "Relu": by_dtype(g.lower_activation, q.lower_clamp_s8),
    "Clip": by_dtype(g.lower_activation, q.lower_clamp_s8),
    "LeakyRelu": by_dtype(g.lower_activation, q.lower_lut_s8),
    "HardSigmoid": by_dtype(g.lower_activation, q.lower_lut_s8),
    "HardSwish": by_dtype(g.lower_activation, q.lower_lut_s8),
    "Sigmoid": by_dtype(g.lower_unary_math, q.lower_lut_s8),
    "Tanh": by_dtype(g.lower_unary_math, q.lower_lut_s8),
    "Softmax": by_dtype(g.lower_softmax, q.lower_softmax_s8),
    "MaxPool": by_dtype(g.lower_pool, q.lower_pool_s8),
    "AveragePool": by_dtype(g.lower_pool, q.lower_pool_s8),
    "GlobalAveragePool": by_dtype(g.lower_global_pool, q.lower_pool_s8),
    "GlobalMaxPool": g.lower_global_pool,
    "ReduceMean": by_dtype(g.lower_reduce_mean, q.lower_reduce_mean_s8),
    "BatchNormalization": g.lower_batchnorm,
    "Transpose": by_dtype(g.lower_transpose, q.lower_transpose_s8),
    "Concat": by_dtype(g.lower_concat, q.lower_concat_s8),
    "Pad": by_dtype(g.lower_pad, q.lower_pad_s8),
    "Reshape": by_dtype(g.lower_reshape, q.lower_reshape_s8),
    "Identity": g.lower_identity,
    "Dropout": g.lower_dropout,
    "Cast": tf.lower_cast_any,
    "QuantizeLinear": q.lower_quantize,
    "DequantizeLinear": q.lower_dequantize,
    "ConvInteger": q.lower_conv_integer,
    "MatMulInteger": q.lower_matmul_integer,
    "Resize": by_dtype(up.lower_resize, up.lower_resize_s8),
    "ConvTranspose": by_dtype(up.lower_conv_transpose, up.lower_conv_transpose_s8),
    # internal ops made by passes (never accepted from a model)
    "_U8ToS8": q.lower_sign_convert,
    "_S8ToU8": q.lower_sign_convert,
}

for _op, _rule in GENERIC.items():
    register(_op, "generic", _rule)
for _op, _rule in tf.RULES.items():
    register(_op, "generic", _rule)
for (_op, _variant), _rule in tf.VARIANT_RULES.items():
    register(_op, _variant, _rule)
# Mask construction and run-time shape ops (Expand, Slice, compares, Max/Min, ...).
for _op, _rule in mask.RULES.items():
    register(_op, "generic", _rule)
# Element-wise functions, reductions, Split / Tile, normalizations (float32).
for _op, _rule in ew.RULES.items():
    register(_op, "generic", _rule)

# Cortex-M DSP extension (cortex-m4/m7/m33): int8 SMLAD kernels, Fallback to generic.
for _op, _rule in dsp.RULES.items():
    register(_op, "dsp", _rule)

# AArch64 NEON / DotProd kernel variants, Fallback to generic.
for (_op, _variant), _rule in neon.RULES.items():
    register(_op, _variant, _rule)

# x86-64 AVX2 / AVX-512 VNNI kernel variants, Fallback to generic.
for (_op, _variant), _rule in x86.RULES.items():
    register(_op, _variant, _rule)

REMOVED_BY_PASSES.update({
    "Constant": "constants are folded at import",
    "Flatten": "becomes Reshape (pass 'simplify')",
    "Squeeze": "becomes Reshape (pass 'simplify')",
    "Unsqueeze": "becomes Reshape (pass 'simplify')",
    "Shape": "folded to a constant (pass 'fold'); shapes are static",
    "Size": "folded to a constant (pass 'fold'); shapes are static",
    "DepthToSpace": "becomes Reshape-Transpose-Reshape (pass 'simplify')",
    "SpaceToDepth": "becomes Reshape-Transpose-Reshape (pass 'simplify')",
})
