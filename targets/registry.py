"""The one place where lowering rules are registered.

Read this file to see every op aot accepts and which rule lowers it on which
target. Platform rules (key = target name or family) are added here beside
the generic portable-C rules and win over them.
"""

from aot.targets import rules_generic as g
from aot.targets.lowering import REMOVED_BY_PASSES, register

GENERIC = {
    "Conv": g.lower_conv,
    "Gemm": g.lower_gemm,
    "MatMul": g.lower_matmul,
    "Add": g.lower_binary,
    "Sub": g.lower_binary,
    "Mul": g.lower_binary,
    "Div": g.lower_binary,
    "Relu": g.lower_activation,
    "Clip": g.lower_activation,
    "LeakyRelu": g.lower_activation,
    "HardSigmoid": g.lower_activation,
    "HardSwish": g.lower_activation,
    "Sigmoid": g.lower_unary_math,
    "Tanh": g.lower_unary_math,
    "Softmax": g.lower_softmax,
    "MaxPool": g.lower_pool,
    "AveragePool": g.lower_pool,
    "GlobalAveragePool": g.lower_global_pool,
    "GlobalMaxPool": g.lower_global_pool,
    "ReduceMean": g.lower_reduce_mean,
    "BatchNormalization": g.lower_batchnorm,
    "Transpose": g.lower_transpose,
    "Concat": g.lower_concat,
    "Pad": g.lower_pad,
    "Reshape": g.lower_reshape,
    "Identity": g.lower_identity,
    "Dropout": g.lower_dropout,
    "Cast": g.lower_cast,
}

for _op, _rule in GENERIC.items():
    register(_op, "generic", _rule)

REMOVED_BY_PASSES.update({
    "Constant": "constants are folded at import",
    "Flatten": "becomes Reshape (pass 'simplify')",
    "Squeeze": "becomes Reshape (pass 'simplify')",
    "Unsqueeze": "becomes Reshape (pass 'simplify')",
    "Shape": "folded to a constant (pass 'fold'); shapes are static",
    "Size": "folded to a constant (pass 'fold'); shapes are static",
    "Gather": "supported only when it folds to a constant (constant data and indices)",
})
