"""C emitter: (Program, Plan) -> the files of a compiled model, as bytes.

Pure function of its inputs: no timestamps, no absolute paths, no dict-order
or set-order dependence, so identical inputs give byte-identical files. The
emitter never mutates what it prints from; it builds strings and returns them.

Output (for name `kws`): kws.h (API and size macros), kws.c (the schedule: one
kernel call per layer, each under a comment naming the ONNX node), kws_weights.c
(const data), aot_runtime/ (only the kernels used, plus what they call), and
kws.mk / CMakeLists.txt for firmware builds.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Mapping

import numpy as np

from aot.program import Call, ConstArray, Null, Program, Ref, Scratch
from aot.version import __version__
from aot.passes.memory_plan import Plan, scratch_name
from aot.weights_blob import blob_constants, blob_files

SPDX = "/* SPDX-License-Identifier: Apache-2.0 */\n"
RUNTIME_HEADERS = ("aot_types.h", "aot_kernels.h", "aot_math.h")

C_TYPES = {
    np.dtype(np.float32): "float", np.dtype(np.float64): "double",
    np.dtype(np.int8): "int8_t", np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t", np.dtype(np.uint16): "uint16_t",
    np.dtype(np.int32): "int32_t", np.dtype(np.uint32): "uint32_t",
    np.dtype(np.int64): "int64_t", np.dtype(np.uint64): "uint64_t",
    np.dtype(np.bool_): "uint8_t",
}

C_KEYWORDS = set("""auto break case char const continue default do double else enum extern
float for goto if inline int long register restrict return short signed sizeof static struct
switch typedef union unsigned void volatile while _Bool _Complex _Imaginary bool true false
alignas alignof asm class delete new operator private protected public template this throw
try typename virtual namespace using arena mem int8_t uint8_t int16_t uint16_t int32_t
uint32_t int64_t uint64_t intptr_t uintptr_t size_t ptrdiff_t NULL executor tasks""".split())
# <name>_<x> symbols the model itself defines: no constant may be named <name>_<x>.
MODEL_SYMBOLS = {"run", "input_ptr", "output_ptr", "static_arena", "no_weights", "run_ex",
                 "tasks"}
RESERVED = C_KEYWORDS | MODEL_SYMBOLS


def c_type(dtype) -> str:
    try:
        return C_TYPES[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f"no C type for {dtype}") from None


def sanitize(text: str, fallback: str = "t") -> str:
    """A C identifier made from arbitrary text (lowercase, ASCII, no leading digit)."""
    ident = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:48].strip("_")
    if not ident:
        ident = fallback
    if ident[0].isdigit():
        ident = f"{fallback}_{ident}"
    if ident in C_KEYWORDS:
        ident += "_"
    return ident


def short_name(text: str) -> str:
    """A readable stem for a C identifier from an exporter's long node or tensor
    name: the first of ';'/'+'-joined names, its last two path components
    ("functional_1/conv2d/Conv2D;..." -> "conv2d/Conv2D")."""
    first = text.split(";")[0].split("+")[0]
    parts = [p for p in first.split("/") if p]
    return "/".join(parts[-2:]) if parts else text


def comment(text: str) -> str:
    """Text that is safe inside /* ... */ on one line: printable ASCII, no '*/'."""
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return text.replace("*/", "* /").replace("/*", "/ *")


def c_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


class Names:
    """Unique C identifiers, assigned in call order so output is deterministic."""

    def __init__(self, reserved=()):
        self.used: set[str] = set(reserved)
        self.by_key: dict[tuple[str, str], str] = {}

    def get(self, kind: str, key: str, fallback: str = "t", text: str | None = None,
            suffixes: tuple[str, ...] = ("",), avoid: tuple[str, ...] = ()) -> str:
        """The identifier for `key` of `kind`, made from `text` (default: the key).
        Every symbol ident + suffix is kept unique (e.g. "_params" and its arrays);
        a base starting with one of `avoid` (a prefix others own) gets `fallback_`."""
        text = key if text is None else text
        key = (kind, key)
        if key not in self.by_key:
            base = sanitize(text, fallback)
            if base.startswith(avoid):
                base = f"{fallback}_{base}"
            ident, i = base, 2
            while any(ident + s in self.used for s in suffixes):
                ident, i = f"{base}_{i}", i + 1
            self.used.update(ident + s for s in suffixes)
            self.by_key[key] = ident
        return self.by_key[key]


def c_float(v) -> str:
    v = np.float32(v)
    if np.isnan(v):
        return "AOT_NAN"
    if np.isinf(v):
        return "AOT_INFINITY" if v > 0 else "(-AOT_INFINITY)"
    text = str(v)
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def c_int(v, dtype) -> str:
    v = int(v)
    dtype = np.dtype(dtype)
    if dtype == np.int64:
        return "INT64_C(%d)" % v if v != -2**63 else "(-INT64_C(9223372036854775807) - 1)"
    if dtype == np.uint64:
        return "UINT64_C(%d)" % v
    if dtype == np.uint32:
        return "%du" % v
    if dtype == np.int32 and v == -2**31:
        return "(-2147483647 - 1)"
    return str(v)


def c_literals(data: np.ndarray) -> list[str]:
    flat = data.reshape(-1)
    if flat.dtype in (np.float32, np.float64):
        return [c_float(v) for v in flat.tolist()]
    if flat.dtype == np.bool_:
        return ["1" if v else "0" for v in flat.tolist()]
    return [c_int(v, flat.dtype) for v in flat.tolist()]


def wrap(items: list[str], indent: str = "    ", width: int = 96) -> str:
    lines, line = [], indent
    for item in items:
        piece = item + ", "
        if len(line) + len(piece) > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += piece
    if line.strip():
        lines.append(line.rstrip().rstrip(","))
    return "\n".join(lines)


def _assign_io_names(program: Program, name: str, names: Names) -> dict[str, str]:
    result = {}
    for t in [*program.inputs, *program.outputs]:
        ident = sanitize(t, "io")
        if ident.startswith(("aot_", f"{name}_")):
            ident = "io_" + ident   # never shadow a kernel or a model symbol
        result[t] = names.get("io", t, "io", text=ident)
    return result


def io_c_names(program: Program, name: str) -> dict[str, str]:
    """The C parameter name of each graph input and output (as `emit` assigns them)."""
    return _assign_io_names(program, name, Names(reserved=RESERVED))


def emit(program: Program, plan: Plan, name: str, provenance: Mapping[str, str], *,
         selftest: bool = False) -> dict[str, bytes]:
    """All files of the compiled model, keyed by path relative to the output directory.
    `selftest`: the build files also name `<name>_selftest.c` (written by aot.selftest)."""
    up = name.upper()
    names = Names(reserved=RESERVED)
    io_names = _assign_io_names(program, name, names)
    const_names = {t: f"{name}_{names.get('const', t, 'w', short_name(t))}"
                   for t in program.constants()}
    prov = " ".join(f"{k}={v}" for k, v in provenance.items() if k != "options")
    options = f"\n * options: {comment(provenance['options'])}" if "options" in provenance else ""
    banner = (SPDX + f"/* Generated by aot {__version__}. Do not edit.\n"
              f" * {comment(prov)}{options} */\n")

    files: dict[str, str] = {}
    files[f"{name}.h"] = banner + _header(program, plan, name, up, io_names)
    files[f"{name}.c"] = banner + _source(program, plan, name, up, io_names, const_names, names)
    blob = blob_constants(program)   # large weights: binary, not C text (aot.weights_blob)
    files[f"{name}_weights.c"] = banner + _weights(program, name, up, const_names, skip=blob)
    binary = blob_files(program, name, up, const_names, blob, banner) if blob else {}
    kernels = {c.kernel for c in program.calls}
    if plan.io_in_arena:
        kernels.add("aot_memcpy")     # caller-supplied I/O pointers are copied in/out
    if any(c.split is not None for c in program.calls):
        kernels.add("aot_memcpy")     # a part's copy of its layer's parameter block
    runtime = _runtime_closure(kernels)
    if not program.meta.get("executor"):   # no <name>_run_ex: firmware gets no thread code
        runtime = {f: t for f, t in runtime.items() if not f.startswith("aot_executor")}
    for fname, text in runtime.items():
        files[f"aot_runtime/{fname}"] = text
    sources = [f"{name}.c", f"{name}_weights.c", *sorted(f for f in binary if f.endswith(".S"))]
    kernel_files = [f for f in runtime if f.endswith(".c")]
    files[f"{name}.mk"] = _makefile(name, up, sources, kernel_files, selftest)
    files["CMakeLists.txt"] = _cmake(name, sources, kernel_files, selftest)
    return {**{path: text.encode("utf-8") for path, text in files.items()}, **binary}


def _io_signature(program: Program, io_names) -> str:
    args = [f"const {c_type(program.tensors[t].dtype)} *{io_names[t]}" for t in program.inputs]
    args += [f"{c_type(program.tensors[t].dtype)} *{io_names[t]}" for t in program.outputs]
    return ", ".join(args + ["void *arena"])


def _header(program: Program, plan: Plan, name: str, up: str, io_names) -> str:
    out = [f"#ifndef {up}_H", f"#define {up}_H", "", "#include <stdint.h>", "",
           '#include "aot_runtime/aot_types.h"',
           *(['#include "aot_runtime/aot_executor.h"'] if program.meta.get("executor") else []),
           "",
           "#if AOT_RUNTIME_VERSION != 1",
           f'#error "{name} was generated for aot runtime version 1"', "#endif", "",
           "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
           f"/* Bytes of working memory {name}_run needs, and their alignment. */",
           f"#define {up}_ARENA_SIZE {plan.arena_bytes}u",
           f"#define {up}_ARENA_ALIGN {plan.alignment}u", "",
           f"#define {up}_NUM_INPUTS {len(program.inputs)}",
           f"#define {up}_NUM_OUTPUTS {len(program.outputs)}",
           f"/* Kernel calls (layers) in {name}_run; see AOT_PROFILE_HOOK in {name}.c. */",
           f"#define {up}_NUM_LAYERS {len(program.calls)}"]
    for kind, names in (("INPUT", program.inputs), ("OUTPUT", program.outputs)):
        for i, t in enumerate(names):
            tensor = program.tensors[t]
            p = f"{up}_{kind}{i}"
            scale, zp = (tensor.quant.scale[0], tensor.quant.zero_point[0]) if tensor.quant \
                else (1.0, 0)
            out += ["",
                    f"/* {kind.lower()} {i}: '{comment(t)}', {c_type(tensor.dtype)} "
                    f"[{','.join(map(str, tensor.shape))}] */",
                    f"#define {p}_NAME {c_string(t)}",
                    f"#define {p}_NDIM {len(tensor.shape)}",
                    f"#define {p}_DIMS {{{', '.join(map(str, tensor.shape)) or '1'}}}",
                    f"#define {p}_SIZE {tensor.size}u /* elements */",
                    f"#define {p}_BYTES {tensor.nbytes}u",
                    f"#define {p}_SCALE {c_float(scale)}",
                    f"#define {p}_ZERO_POINT {int(zp)}"]
    out += ["", "/*",
            " * Placement (optional; define these when compiling the generated .c files):",
            f" *   {up}_WEIGHTS_ATTR  attribute of every constant array in {name}_weights.c,",
            f" *       e.g. -D'{up}_WEIGHTS_ATTR=__attribute__((section(\".rodata.{name}\")))'",
            f" *   {up}_STATIC_ARENA  gives {name}.c a static arena of {up}_ARENA_SIZE bytes;",
            f" *       {name}_run then accepts NULL for arena and uses it (the one",
            " *       global object aot generates, and only on request)",
            f" *   {up}_ARENA_ATTR    attribute of that static arena, e.g.",
            f" *       -D'{up}_ARENA_ATTR=__attribute__((section(\".bss.{name}\")))'",
            " */"]
    if plan.io_in_arena:
        out += ["", "/*",
                " * Zero-copy I/O (compiled with --io-in-arena): the inputs and outputs live in",
                f" * the arena at these byte offsets. Write each input to {name}_input_ptr(arena, i),",
                f" * call {name}_run with NULL for every input and output, then read each output",
                f" * from {name}_output_ptr(arena, i). The run overwrites the inputs. Non-NULL",
                " * pointers still work: inputs are copied in, outputs copied out.",
                " */",
                f"#define {up}_IO_IN_ARENA 1"]
        for kind, names in (("INPUT", program.inputs), ("OUTPUT", program.outputs)):
            for i, t in enumerate(names):
                out.append(f"#define {up}_{kind}{i}_OFFSET {plan.offsets[program.root(t)[0]]}u")
        out += ["",
                "/* Input/output i inside the arena (the static one when arena is NULL and",
                f" * {up}_STATIC_ARENA is defined), or NULL for an out-of-range i. */",
                f"void *{name}_input_ptr(void *arena, int32_t index);",
                f"void *{name}_output_ptr(void *arena, int32_t index);"]
    io_rule = [" * Pass NULL for an input or output to use its place in the arena",
               f" * ({name}_input_ptr / {name}_output_ptr)."] if plan.io_in_arena else []
    out += ["", "/**",
            f" * Runs {name} once. Inputs and outputs are dense, row-major, in the shapes above.",
            *io_rule,
            f" * arena: {up}_ARENA_SIZE bytes aligned to {up}_ARENA_ALIGN, owned by the",
            " * caller; its contents need not survive between calls.",
            " * Returns AOT_OK (0), AOT_E_NULL for a NULL pointer or AOT_E_ALIGN for a",
            " * misaligned arena.",
            *([" * AOT_E_RANGE: an index input holds a value out of its range (nothing",
               " * after that layer ran; the outputs are not valid)."]
              if any(c.status for c in program.calls) else []),
            " */",
            f"int {name}_run({_io_signature(program, io_names)});", ""]
    if program.meta.get("executor"):
        out += _run_ex_declaration(program, name, up, io_names)
    out += ["#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {up}_H */", ""]
    return "\n".join(out)


def _struct_init(fields: Mapping, arrays: list[str], base: str) -> str:
    parts = []
    for key, value in fields.items():
        if isinstance(value, dict):
            inner = _struct_init(value, arrays, f"{base}_{key}")
            parts.append(f".{key} = {{{inner}}}")
        elif isinstance(value, ConstArray):
            arr = f"{base}_{key}"
            data = value.data.reshape(-1)
            arrays.append(f"static const {c_type(data.dtype)} {arr}[{data.size}] = {{\n"
                          f"{wrap(c_literals(data))}\n}};")
            parts.append(f".{key} = {arr}")
        elif value is None:
            parts.append(f".{key} = NULL")
        elif isinstance(value, tuple):
            parts.append(f".{key} = {{{', '.join(_scalar(v) for v in value)}}}")
        else:
            parts.append(f".{key} = {_scalar(value)}")
    return ", ".join(parts)


def _array_names(fields: Mapping, base: str = "") -> list[str]:
    """The suffixes _struct_init gives the ConstArrays of a parameter block."""
    out = []
    for key, value in fields.items():
        if isinstance(value, dict):
            out += _array_names(value, f"{base}{key}_")
        elif isinstance(value, ConstArray):
            out.append(f"{base}{key}")
    return out


def _scalar(v) -> str:
    if isinstance(v, str):   # an enumerator of the runtime, e.g. AOT_ACT_RELU
        return v
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return c_int(v, np.int32)
    return c_float(v)


def _source(program: Program, plan: Plan, name: str, up: str, io_names, const_names,
            names: Names) -> str:
    consts = program.constants()
    out = [f'#include "{name}.h"', "", '#include "aot_runtime/aot_kernels.h"', ""]
    if plan.io_in_arena or any(c.split is not None for c in program.calls):
        out[-1:] = ['#include "aot_runtime/aot_math.h" /* aot_memcpy */', ""]
    out += _profile_hook(name, up)
    if consts:
        out.append("/* Constant data, defined in " + f"{name}_weights.c. */")
        for t in consts:
            tensor = program.tensors[t]
            out.append(f"extern const {c_type(tensor.dtype)} {const_names[t]}"
                       f"[{max(tensor.size, 1)}];")
        out.append("")
    if plan.offsets:
        out.append("/* Arena layout: byte offsets of the intermediate buffers. */")
        for buf in sorted(plan.buffers, key=lambda b: (plan.offsets[b], b)):
            macro = f"{up}_OFF_{names.get('off', buf).upper()}"
            out.append(f"#define {macro} {plan.offsets[buf]}u")
            for t in plan.buffers[buf].tensors[1:]:   # written in place over the one before
                out.append(f"#define {up}_OFF_{names.get('off', t).upper()} {macro} "
                           f"/* in place */")
        out.append("")
    if plan.arena_bytes:
        out += _static_arena(plan, name, up)
    body, arrays, structs, tasks = [], [], [], []
    for index, call in enumerate(program.calls):
        pname = None
        if call.params is not None:
            # file-scope statics: unique with their arrays, never a kernel's, model's or
            # I/O parameter's name (a parameter would shadow them)
            arrays_of = tuple(f"_params_{a}" for a in _array_names(call.params.fields))
            pname = names.get("params", str(index), "layer", short_name(call.layer),
                              suffixes=("_params", *arrays_of),
                              avoid=("aot_", f"{name}_")) + "_params"
            init = _struct_init(call.params.fields, arrays, pname)
            items = [f"{item}" for item in _split_top_level(init)]
            structs.append(f"static const {call.params.ctype} {pname} = {{\n{wrap(items)}\n}};")
        args = ([f"&{pname}"] if pname else []) + [
            _operand(op, program, plan, up, io_names, const_names, names, index)
            for op in call.operands]
        shape = program.tensors[call.writes[0]].shape
        body.append(f"    /* {index}: {comment(call.op)} '{comment(call.layer)}' -> "
                    f"[{','.join(map(str, shape))}] */")
        body.append(f"    AOT_PROFILE_HOOK({index}, {c_string(short_name(call.layer)[:120])});")
        if call.split is not None:
            task = names.get("task", str(index), "layer", short_name(call.layer),
                             suffixes=("_task",), avoid=("aot_", f"{name}_")) + "_task"
            task_io = {t: f"tasks->{n}" for t, n in io_names.items()}
            task_args = [_operand(op, program, plan, up, task_io, const_names, names, index)
                         for op in call.operands]
            tasks.append(_task_function(call, index, task, pname, task_args, name,
                                        uses_mem=any("(mem + " in a for a in task_args)))
            parts = "tasks.parts" if not call.split.scratch_parts else \
                f"(tasks.parts < {call.split.scratch_parts} ? tasks.parts : " \
                f"{call.split.scratch_parts})"
            body += ["    if (tasks.parts > 1) {",
                     f"        executor->parallel_for(executor, {task}, &tasks,",
                     f"                               {parts});",
                     "    } else {", _indent(_call_text(call.kernel, args)), "    }"]
        elif call.status:   # a kernel that can fail (a run-time index): pass its code on
            lines = _indent(_call_text(call.kernel, args)).split("\n")
            lines[0] = lines[0].replace(f"{call.kernel}(", f"const int rc = {call.kernel}(", 1)
            body += ["    {", *lines, "        if (rc != AOT_OK) {", "            return rc;",
                     "        }", "    }"]
        else:
            body.append(_call_text(call.kernel, args))
    body.append(f'    AOT_PROFILE_HOOK({len(program.calls)}, "end");')
    if arrays:
        out += arrays + [""]
    if structs:
        out += ["\n\n".join(structs), ""]
    io_args = [io_names[t] for t in [*program.inputs, *program.outputs]]
    if plan.io_in_arena:
        out += _io_ptr_functions(program, name, up, static=plan.arena_bytes > 0)
    executor = bool(program.meta.get("executor"))
    if tasks:
        out += _tasks_struct(program, plan, name, io_names) + tasks
        out += [f"int {name}_run_ex({_io_signature(program, io_names)}, "
                f"const aot_executor *executor)", "{"]
        out.append(f"    {name}_tasks tasks;")
    else:
        out += [f"int {name}_run({_io_signature(program, io_names)})", "{"]
    if plan.offsets:
        out.append("    uint8_t *mem;")
    if plan.offsets or tasks:
        out.append("")
    if plan.arena_bytes:
        out += [f"#ifdef {up}_STATIC_ARENA", "    if (arena == NULL) {",
                f"        arena = {name}_static_arena.bytes;", "    }", "#endif"]
    checks = " || ".join(f"{a} == NULL" for a in io_args) if not plan.io_in_arena else ""
    if checks:
        out += [f"    if ({checks}) {{", "        return AOT_E_NULL;", "    }"]
    if plan.arena_bytes:
        out += ["    if (arena == NULL) {", "        return AOT_E_NULL;", "    }",
                f"    if (((uintptr_t)arena & ({up}_ARENA_ALIGN - 1u)) != 0u) {{",
                "        return AOT_E_ALIGN;", "    }"]
    else:
        out.append("    (void)arena;")
    if plan.offsets:
        out.append("    mem = (uint8_t *)arena;")
    if tasks:
        out += [*(["    tasks.mem = mem;"] if plan.offsets else []),
                *(f"    tasks.{a} = {a};" for a in io_args),
                "    tasks.parts = (executor != NULL && executor->workers > 1) ? "
                "executor->workers : 1;"]
    copy_in, copy_out = [], []
    if plan.io_in_arena:
        for kind, tensors, dst in (("INPUT", program.inputs, copy_in),
                                   ("OUTPUT", program.outputs, copy_out)):
            for i, t in enumerate(tensors):
                arg, place = io_names[t], f"(mem + {up}_{kind}{i}_OFFSET)"
                cv = "const " if kind == "INPUT" else ""
                copy = (f"aot_memcpy({place}, {arg}, {up}_{kind}{i}_BYTES);" if kind == "INPUT"
                        else f"aot_memcpy({arg}, {place}, {up}_{kind}{i}_BYTES);")
                dst += [f"    if ({arg} != NULL && ({cv}void *){arg} != ({cv}void *){place}) {{",
                        f"        {copy}", "    }"]
    out += [""] + copy_in + ([""] if copy_in else []) + body
    out += ([""] + copy_out if copy_out else []) + ["", "    return AOT_OK;", "}", ""]
    if executor:
        out += _run_wrapper(program, name, io_args, io_names, serial_first=not tasks)
    return "\n".join(out)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


def _run_ex_declaration(program: Program, name: str, up: str, io_names) -> list[str]:
    return ["/**",
            f" * {name}_run with the heavy layers cut into executor->workers parts that",
            " * executor->parallel_for runs (your thread pool, an RTOS, or",
            " * aot_runtime/aot_executor_pthreads.h). Results are bit-for-bit those of",
            f" * {name}_run for every number of workers; NULL runs serially. See",
            " * aot_runtime/aot_executor.h.",
            " */",
            f"int {name}_run_ex({_io_signature(program, io_names)}, "
            f"const aot_executor *executor);", ""]


def _run_wrapper(program: Program, name: str, io_args, io_names,
                 serial_first: bool) -> list[str]:
    """The entry point that forwards to the other: `_run_ex` when no layer is split
    (then `_run` stays exactly the serial schedule), else `_run`."""
    args = ", ".join([*io_args, "arena"])
    if serial_first:
        return [f"int {name}_run_ex({_io_signature(program, io_names)}, "
                f"const aot_executor *executor)", "{",
                "    (void)executor; /* no layer is heavy enough to split */",
                f"    return {name}_run({args});", "}", ""]
    return [f"int {name}_run({_io_signature(program, io_names)})", "{",
            f"    return {name}_run_ex({args}, NULL);", "}", ""]


def _tasks_struct(program: Program, plan: Plan, name: str, io_names) -> list[str]:
    """What the parts of a split layer read: the arena, the I/O pointers, the part count."""
    fields = ["    uint8_t *mem;"] if plan.offsets else []
    fields += [f"    const {c_type(program.tensors[t].dtype)} *{io_names[t]};"
               for t in program.inputs]
    fields += [f"    {c_type(program.tensors[t].dtype)} *{io_names[t]};"
               for t in program.outputs]
    return [f"/* What the parts of a split layer need ({name}_run_ex). */", "typedef struct {",
            *fields, "    int32_t parts;", f"}} {name}_tasks;", ""]


def _task_function(call: Call, index: int, task: str, pname: str | None, args: list[str],
                   name: str, uses_mem: bool) -> str:
    """Part `part` of `tasks->parts` of a split call: the same kernel on its slice
    (see aot.program.Split)."""
    sp = call.split
    lines = [f"/* {index}: {comment(call.op)} '{comment(short_name(call.layer))}', cut by {sp.axis} "
             f"({sp.units} in blocks of {sp.grain}). */",
             f"static void {task}(void *context, int32_t part)", "{",
             f"    const {name}_tasks *tasks = (const {name}_tasks *)context;"]
    if uses_mem:
        lines.append("    uint8_t *mem = tasks->mem;")
    if pname is not None:
        lines.append(f"    {call.params.ctype} prm;")
    lines.append("    int32_t first, count;")
    parts = "tasks->parts"
    if sp.scratch_parts:   # a slice of scratch per part: at most scratch_parts parts
        lines.append(f"    const int32_t parts = tasks->parts < {sp.scratch_parts} ? "
                     f"tasks->parts : {sp.scratch_parts};")
        parts = "parts"
    lines += ["", f"    aot_split_range({sp.units}, {sp.grain}, part, {parts}, &first, &count);",
              "    if (count == 0) {", "        return;", "    }"]
    if pname is not None:
        lines.append(f"    aot_memcpy(&prm, &{pname}, sizeof prm);")
        for path, k in sp.fields:
            lines.append(f"    prm.{path} = count{f' * {k}' if k != 1 else ''};")
        for path, k in sp.pointer_fields:
            lines.append(f"    prm.{path} += first{f' * {k}' if k != 1 else ''};")
    shifted = list(args)
    for i, k in sp.operands:
        shifted[i] = f"{args[i]} + first" if k == 1 else f"{args[i]} + (ptrdiff_t)first * {k}"
    if sp.scratch_parts:
        for i, op in enumerate(call.operands):
            if isinstance(op, Scratch):
                shifted[i] = f"{args[i]} + (ptrdiff_t)part * {sp.scratch_stride}"
    lines.append(_call_text(call.kernel, (["&prm"] if pname is not None else []) + shifted))
    return "\n".join(lines + ["}", ""])


def _profile_hook(name: str, up: str) -> list[str]:
    """The per-layer profiling hook: empty unless the user defines it."""
    return ["/*",
            f" * Per-layer profiling. {name}_run calls AOT_PROFILE_HOOK(layer_index, layer_name)",
            f" * before each layer (index 0 .. {up}_NUM_LAYERS - 1; name: a string literal, the",
            " * short form of the ONNX node named in the comment above the call) and once after",
            f" * the last one (index {up}_NUM_LAYERS, name \"end\"): layer i takes the time",
            f" * between hooks i and i + 1. Empty unless defined when compiling {name}.c, e.g.",
            " * by -include my_profile.h holding",
            " *   #define AOT_PROFILE_HOOK(i, name) (stamps[i] = DWT->CYCCNT)",
            " */",
            "#ifndef AOT_PROFILE_HOOK",
            "#define AOT_PROFILE_HOOK(layer_index, layer_name) ((void)0)",
            "#endif", ""]


def _static_arena(plan: Plan, name: str, up: str) -> list[str]:
    """The opt-in static arena (<NAME>_STATIC_ARENA), aligned and placeable."""
    return [f"#ifdef {up}_STATIC_ARENA",
            f"#ifndef {up}_ARENA_ATTR", f"#define {up}_ARENA_ATTR", "#endif",
            "#if defined(__GNUC__) || defined(__clang__)",
            f"#define {up}_ARENA_ALIGNED_ __attribute__((aligned({plan.alignment})))",
            "#else", f"#define {up}_ARENA_ALIGNED_", "#endif",
            f"/* The arena {name}_run uses when passed NULL ({up}_STATIC_ARENA). */",
            "static union {", f"    uint8_t bytes[{up}_ARENA_SIZE];",
            "    uint64_t word; /* at least 8-byte alignment without compiler extensions */",
            f"}} {name}_static_arena {up}_ARENA_ALIGNED_ {up}_ARENA_ATTR;", "#endif", ""]


def _io_ptr_functions(program: Program, name: str, up: str, static: bool) -> list[str]:
    """<name>_input_ptr / <name>_output_ptr (with --io-in-arena)."""
    out = []
    use_static = [f"#ifdef {up}_STATIC_ARENA", "    if (arena == NULL) {",
                  f"        arena = {name}_static_arena.bytes;", "    }", "#endif"]
    for kind, fn, count in (("INPUT", "input", len(program.inputs)),
                            ("OUTPUT", "output", len(program.outputs))):
        offsets = ", ".join(f"{up}_{kind}{i}_OFFSET" for i in range(count))
        out += [f"void *{name}_{fn}_ptr(void *arena, int32_t index)", "{",
                f"    static const uint32_t offsets[{max(count, 1)}] = {{{offsets or '0u'}}};",
                "", *(use_static if static else []),
                f"    if (arena == NULL || index < 0 || index >= {up}_NUM_{kind}S) {{",
                "        return NULL;", "    }",
                "    return (uint8_t *)arena + offsets[index];", "}", ""]
    return out


def _split_top_level(text: str) -> list[str]:
    """Split 'a, b = {c, d}, e' at top-level commas only."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return [i for i in items if i]


def _call_text(kernel: str, args: list[str]) -> str:
    one = f"    {kernel}({', '.join(args)});"
    if len(one) <= 100:
        return one
    pad = " " * (len(kernel) + 5)
    return f"    {kernel}(" + (",\n" + pad).join(args) + ");"


def _operand(op, program: Program, plan: Plan, up: str, io_names, const_names,
             names: Names, index: int) -> str:
    if isinstance(op, Null):
        return "NULL"
    if isinstance(op, Scratch):
        return f"(mem + {up}_OFF_{names.get('off', scratch_name(index)).upper()})"
    assert isinstance(op, Ref)
    tensor = program.tensors[op.tensor]
    ctype = c_type(tensor.dtype)
    root, byte_offset = program.root(op.tensor)
    byte_offset += op.offset * tensor.dtype.itemsize
    if root in io_names and root not in plan.offsets:
        base = io_names[root]
        root_type = c_type(program.tensors[root].dtype)
        const = "const " if root in program.inputs else ""
        if root_type != ctype:
            base = f"({const}{ctype} *){base}"
    elif program.tensors[root].is_const:
        base = const_names[root]
        if c_type(program.tensors[root].dtype) != ctype:
            base = f"(const {ctype} *){base}"
    else:
        offset = f"{up}_OFF_{names.get('off', root).upper()}"
        if byte_offset % tensor.dtype.itemsize == 0 and byte_offset:
            return f"(({ctype} *)(mem + {offset}) + {byte_offset // tensor.dtype.itemsize})"
        if byte_offset:
            offset += f" + {byte_offset}u"
        return f"({ctype} *)(mem + {offset})"
    if byte_offset:
        return f"({base} + {byte_offset // tensor.dtype.itemsize})"
    return base


def _weights(program: Program, name: str, up: str, const_names, skip=()) -> str:
    out = ["#include <stdint.h>", "",
           f"/* Define {up}_WEIGHTS_ATTR, e.g. as __attribute__((section(\".rodata.{name}\"))),",
           " * to place the constant data in a chosen linker section. */",
           f"#ifndef {up}_WEIGHTS_ATTR", f"#define {up}_WEIGHTS_ATTR", "#endif", ""]
    needs_special = False
    body = []
    for t in program.constants():
        tensor = program.tensors[t]
        if t in skip:
            body.append(f"/* '{comment(t)}' [{','.join(map(str, tensor.shape))}]: "
                        f"{const_names[t]}, in {name}_weights.bin ({name}_weights.S) */\n")
            continue
        lits = c_literals(tensor.data) if tensor.size else ["0"]
        needs_special |= any(lit.startswith(("AOT_", "(-AOT")) for lit in lits)
        body.append(f"/* '{comment(t)}' [{','.join(map(str, tensor.shape))}] */")
        body.append(f"extern const {c_type(tensor.dtype)} {const_names[t]}[{max(tensor.size, 1)}];")
        body.append(f"const {c_type(tensor.dtype)} {const_names[t]}[{max(tensor.size, 1)}] "
                    f"{up}_WEIGHTS_ATTR = {{\n{wrap(lits)}\n}};\n")
    if needs_special:
        out[:2] = ["#include <stdint.h>", "", '#include "aot_runtime/aot_types.h"', ""]
    if not any(line.startswith("const ") for line in body):   # ISO C: no empty file
        body.append(f"/* {name} has no constant data in C. */")
        body.append(f"extern const int {name}_no_weights;")
        body.append(f"const int {name}_no_weights = 0;\n")
    return "\n".join(out + body)


_CALL = re.compile(r"\b(aot_[a-z0-9_]+)\s*\(")
# A kernel's comments may name other kernels ("like aot_add_s8(...)"): not calls.
_C_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_INCLUDE = re.compile(r'^#include "(aot_[a-z0-9_]+\.h)"', re.M)


def _runtime_closure(kernels: set[str]) -> dict[str, str]:
    """Source text of the kernels used and every runtime function they call."""
    pkg = resources.files("aot.runtime_c")
    available = {p.name[:-2] for p in pkg.iterdir() if p.name.endswith(".c")}
    todo, seen = sorted(kernels), set()
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        if k not in available:
            raise ValueError(f"runtime kernel {k} has no source file {k}.c")
        seen.add(k)
        text = (pkg / f"{k}.c").read_text()
        # A shared loop body in a private header calls on the kernel's behalf.
        text += "".join((pkg / h).read_text() for h in _INCLUDE.findall(text)
                        if h not in RUNTIME_HEADERS)
        calls = _CALL.findall(_C_COMMENT.sub(" ", text))
        todo.extend(sorted({m for m in calls if m in available} - seen))
    sources = {f"{k}.c": (pkg / f"{k}.c").read_text() for k in sorted(seen)}
    # The public headers, the executor's (kept only when a model has _run_ex), and
    # every private header (e.g. aot_binary_impl.h) these files include, transitively.
    headers, todo = {}, [*RUNTIME_HEADERS, "aot_executor.h", *(
        h for text in sources.values() for h in _INCLUDE.findall(text))]
    while todo:
        h = todo.pop()
        if h not in headers:
            headers[h] = (pkg / h).read_text()
            todo.extend(_INCLUDE.findall(headers[h]))
    return {**{h: headers[h] for h in sorted(headers)}, **sources}


def _makefile(name: str, up: str, sources: list[str], kernels: list[str],
              selftest: bool) -> str:
    """GNU make fragment. The runtime kernels go to AOT_RUNTIME_SRCS, which every
    model's .mk extends with the kernels not yet in it (by file name: for one aot
    version a kernel file is the same in every model), so a firmware that includes
    several models' .mk files compiles and links each kernel once."""
    lines = [f"# {name}: sources of the compiled model, for `include {name}.mk` in a Makefile.",
             f"# Add $({up}_SRCS) and $(AOT_RUNTIME_SRCS) to your sources and $({up}_CFLAGS)",
             "# to your CFLAGS. With several models, include each model's .mk first:",
             "# AOT_RUNTIME_SRCS then holds every kernel they use, each file once.",
             f"{up}_DIR := $(dir $(lastword $(MAKEFILE_LIST)))",
             f"{up}_SRCS := " + " \\\n    ".join(f"$({up}_DIR){s}" for s in sources),
             f"{up}_RUNTIME := " + " \\\n    ".join(kernels),
             f"AOT_RUNTIME_SRCS := $(AOT_RUNTIME_SRCS) $(foreach f,$({up}_RUNTIME),"
             f"$(if $(filter %/$(f),$(AOT_RUNTIME_SRCS)),,$({up}_DIR)aot_runtime/$(f)))"]
    if selftest:
        lines.append(f"{up}_SELFTEST_SRCS := $({up}_DIR){name}_selftest.c")
    lines += ["# -ffp-contract=off keeps float results identical across compilers.",
              f"{up}_CFLAGS := -I$({up}_DIR) -ffp-contract=off",
              *([f"# {name}_weights.S (.incbin) finds {name}_weights.bin through this -I;",
                 "# make's built-in .S rule reads ASFLAGS.",
                 f"{up}_ASFLAGS := -I$({up}_DIR)"]
                if any(s.endswith(".S") for s in sources) else []), ""]
    return "\n".join(lines)


def _cmake(name: str, sources: list[str], kernels: list[str], selftest: bool) -> str:
    """CMake: the model's library, linked to one shared `aot_runtime` library that
    each model extends with the kernels it is the first to need (by file name)."""
    lines = [
        f"# {name}: add_subdirectory() this folder and link the `{name}` library.",
        "# Several models: add_subdirectory() each; they share one `aot_runtime` library",
        "# holding every kernel they use, each file once.",
        "cmake_minimum_required(VERSION 3.13)",
        *(["enable_language(ASM)  # the weights blob's .incbin file"]
          if any(s.endswith(".S") for s in sources) else []),
        "if(NOT TARGET aot_runtime)",
        "    add_library(aot_runtime STATIC)",
        "    set_target_properties(aot_runtime PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)",
        "    target_compile_options(aot_runtime PRIVATE -ffp-contract=off)",
        "endif()",
        "get_property(aot_kernels_added GLOBAL PROPERTY AOT_RUNTIME_KERNELS)",
        "foreach(kernel",
        *(f"        {k}" for k in kernels),
        "    )",
        "    if(NOT kernel IN_LIST aot_kernels_added)",
        "        target_sources(aot_runtime PRIVATE "
        "${CMAKE_CURRENT_LIST_DIR}/aot_runtime/${kernel})",
        "        set_property(GLOBAL APPEND PROPERTY AOT_RUNTIME_KERNELS ${kernel})",
        "        list(APPEND aot_kernels_added ${kernel})",
        "    endif()",
        "endforeach()",
        f"add_library({name} STATIC",
        *(f"    ${{CMAKE_CURRENT_LIST_DIR}}/{s}" for s in sources), ")",
        f"target_include_directories({name} PUBLIC ${{CMAKE_CURRENT_LIST_DIR}})",
        f"target_link_libraries({name} PUBLIC aot_runtime)",
        f"set_target_properties({name} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)",
        f"target_compile_options({name} PRIVATE -ffp-contract=off)"]
    if selftest:
        lines += [f"add_library({name}_selftest STATIC ${{CMAKE_CURRENT_LIST_DIR}}/"
                  f"{name}_selftest.c)",
                  f"target_link_libraries({name}_selftest PUBLIC {name})",
                  f"set_target_properties({name}_selftest PROPERTIES C_STANDARD 99 "
                  f"C_STANDARD_REQUIRED ON)"]
    return "\n".join(lines + [""])
