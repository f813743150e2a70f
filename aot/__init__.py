"""aot: an ahead-of-time compiler from ONNX to standalone C.

    import aot
    model = aot.compile("kws.onnx", target="x86-64", out_dir="out/kws")
    outputs = model.run({"input_1": x})
"""

from aot.api import CompiledModel, compile
from aot.errors import AotError, CheckFailed, ModelError, ToolchainError, UsageError
from aot.options import Options
from aot.version import __version__

__all__ = ["compile", "CompiledModel", "Options", "AotError", "ModelError", "UsageError",
           "CheckFailed", "ToolchainError", "__version__"]
