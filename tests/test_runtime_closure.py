# SPDX-License-Identifier: Apache-2.0
"""The emitter ships a kernel with exactly the runtime functions it calls.

`aot.emit._runtime_closure` finds a kernel's dependencies in its source text; a
kernel named in a comment ("bit-exact with aot_add_s8(...)") is not a call and
must not be copied into a model's aot_runtime/.
"""

from __future__ import annotations

from aot.emit import _runtime_closure


def _kernels(files):
    return {f[:-2] for f in files if f.endswith(".c")}


def test_comment_mentions_are_not_calls():
    # aot_add_dsp_s8.c and aot_depthwise_conv2d_inplace_s8.c name those kernels in
    # comments only.
    assert _kernels(_runtime_closure({"aot_add_dsp_s8"})) == {"aot_add_dsp_s8"}
    assert "aot_conv2d_s8" not in _kernels(_runtime_closure({"aot_depthwise_conv2d_inplace_s8"}))


def test_calls_are_followed():
    # aot_pad_s8 copies rows with aot_memcpy and fills borders with aot_memset.
    assert {"aot_memcpy", "aot_memset"} <= _kernels(_runtime_closure({"aot_pad_s8"}))
