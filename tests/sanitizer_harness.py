"""A standalone C test harness for compiled models, built with sanitizers.

ASan cannot be loaded into a Python process through ctypes, so the generated
C is linked into a program of its own:

- per model, `aot_check_<name>(in_path, out_path)` reads the inputs (raw bytes,
  in `<name>_run`'s argument order, concatenated) from a file, copies each
  into a heap block of exactly `<NAME>_INPUT<i>_BYTES`, allocates each output
  and the arena with exactly their sizes (`posix_memalign` for the arena's
  alignment, so the redzone starts right after `<NAME>_ARENA_SIZE`), fills the
  arena and the outputs with 0xFF (a float NaN), calls `<name>_run` and writes
  the outputs (concatenated) to the out file; a model built with --io-in-arena
  runs zero-copy instead (inputs through `<name>_input_ptr`, NULL for every
  input and output, outputs read through `<name>_output_ptr`);
- `main(argc, argv)` runs every model linked in on `argv[1]/<name>.in`, so one
  build and one process cover many models.

Every model's data and code is separately instrumented: an access one byte
past an input, an output, the arena or a weights array is an ASan report;
signed overflow, misaligned access, bad shifts, etc. are UBSan reports. With
`-fno-sanitize-recover=all` the first report aborts the program with a
non-zero exit code.

The kernels in each model's aot_runtime/ are identical for one aot version
(the product guarantees it so that models link together); the build compiles
their union once and checks that the copies agree.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from aot.emit import C_TYPES

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer"]
# The same strictness as every host build, so the harness cannot hide a warning.
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-O1", "-g0"]
ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86",
       "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}

_C_TYPES = {str(dtype): c for dtype, c in C_TYPES.items()}   # manifest dtype -> C type


def harness_source(manifest: dict) -> str:
    """`aot_check_<name>` for one compiled model (see the module docstring)."""
    name = manifest["name"]
    up = name.upper()
    n_in, n_out = len(manifest["inputs"]), len(manifest["outputs"])
    lines = ["/* SPDX-License-Identifier: Apache-2.0 */",
             f"/* Sanitizer harness for {name} (tests/sanitizer_harness.py). */",
             "#define _POSIX_C_SOURCE 200112L",
             "#include <stdint.h>", "#include <stdio.h>", "#include <stdlib.h>",
             "#include <string.h>", "", f'#include "../{name}.h"', "",
             f"int aot_check_{name}(const char *in_path, const char *out_path);", "",
             f"int aot_check_{name}(const char *in_path, const char *out_path)", "{",
             f"    static const size_t in_bytes[{max(n_in, 1)}] = "
             f"{{{', '.join(f'{up}_INPUT{i}_BYTES' for i in range(n_in)) or '0u'}}};",
             f"    static const size_t out_bytes[{max(n_out, 1)}] = "
             f"{{{', '.join(f'{up}_OUTPUT{i}_BYTES' for i in range(n_out)) or '0u'}}};",
             f"    void *in[{max(n_in, 1)}] = {{0}};",
             f"    void *out[{max(n_out, 1)}] = {{0}};",
             "    void *arena = NULL;",
             "    int rc = 0, i;",
             '    FILE *f = fopen(in_path, "rb");',
             "    if (f == NULL) {",
             '        fprintf(stderr, "%s: cannot open\\n", in_path);',
             "        return 90;", "    }",
             f"    for (i = 0; i < {n_in}; ++i) {{",
             "        in[i] = malloc(in_bytes[i]);",
             "        if (in[i] == NULL || fread(in[i], 1, in_bytes[i], f) != in_bytes[i]) {",
             '            fprintf(stderr, "%s: short input %d\\n", in_path, i);',
             "            rc = 91;", "        }", "    }",
             "    fclose(f);",
             f"    for (i = 0; i < {n_out}; ++i) {{",
             "        out[i] = malloc(out_bytes[i]);",
             "        if (out[i] == NULL) {", "            rc = 92;", "        } else {",
             "            memset(out[i], 0xFF, out_bytes[i]);", "        }", "    }",
             f"    if (posix_memalign(&arena, {up}_ARENA_ALIGN < sizeof(void *) ? sizeof(void *)"
             f" : {up}_ARENA_ALIGN, {up}_ARENA_SIZE) != 0) {{",
             "        rc = 93;", "    }"]
    if manifest["arena"]["bytes"]:
        lines += [f"    if (arena != NULL) {{", f"        memset(arena, 0xFF, {up}_ARENA_SIZE);",
                  "    }"]
    args = [f"({'const ' if k < n_in else ''}{_C_TYPES[s['dtype']]} *)"
            f"{'in' if k < n_in else 'out'}[{k if k < n_in else k - n_in}]"
            for k, s in enumerate(manifest["inputs"] + manifest["outputs"])]
    if manifest["arena"].get("io_in_arena"):
        # zero-copy: inputs go to <name>_input_ptr, _run gets NULL for every
        # input and output, outputs come from <name>_output_ptr
        args = ["NULL"] * (n_in + n_out)
        lines += ["    if (rc == 0) {",
                  f"        for (i = 0; i < {n_in}; ++i) {{",
                  f"            memcpy({name}_input_ptr(arena, i), in[i], in_bytes[i]);",
                  "        }", "    }"]
    lines += ["    if (rc == 0) {",
              f"        rc = {name}_run({', '.join(args + ['arena'])});",
              "        if (rc != 0) {",
              f'            fprintf(stderr, "{name}_run returned %d\\n", rc);',
              "        }", "    }",
              *([f"    for (i = 0; rc == 0 && i < {n_out}; ++i) {{",
                 f"        memcpy(out[i], {name}_output_ptr(arena, i), out_bytes[i]);",
                 "    }"] if manifest["arena"].get("io_in_arena") else []),
              "    if (rc == 0) {",
              '        f = fopen(out_path, "wb");',
              "        if (f == NULL) {", "            rc = 94;", "        } else {",
              f"            for (i = 0; i < {n_out}; ++i) {{",
              "                if (fwrite(out[i], 1, out_bytes[i], f) != out_bytes[i]) {",
              "                    rc = 95;", "                }", "            }",
              "            fclose(f);", "        }", "    }",
              f"    for (i = 0; i < {n_in}; ++i) {{", "        free(in[i]);", "    }",
              f"    for (i = 0; i < {n_out}; ++i) {{", "        free(out[i]);", "    }",
              "    free(arena);", "    return rc;", "}", ""]
    return "\n".join(lines)


def main_source(names: list[str]) -> str:
    lines = ["/* SPDX-License-Identifier: Apache-2.0 */",
             "/* Runs every linked-in model on DIR/<name>.in -> DIR/<name>.out. */",
             "#include <stdio.h>", ""]
    lines += [f"int aot_check_{n}(const char *in_path, const char *out_path);" for n in names]
    lines += ["", "typedef int (*check_fn)(const char *, const char *);",
              "static const struct { const char *name; check_fn fn; } models[] = {"]
    lines += [f'    {{"{n}", aot_check_{n}}},' for n in names]
    lines += ["};", "", "int main(int argc, char **argv)", "{",
              "    char in_path[4096], out_path[4096];",
              "    size_t i;", "    int failed = 0;",
              "    if (argc != 2) {", '        fprintf(stderr, "usage: %s DIR\\n", argv[0]);',
              "        return 2;", "    }",
              "    for (i = 0; i < sizeof models / sizeof models[0]; ++i) {",
              '        snprintf(in_path, sizeof in_path, "%s/%s.in", argv[1], models[i].name);',
              '        snprintf(out_path, sizeof out_path, "%s/%s.out", argv[1], models[i].name);',
              "        if (models[i].fn(in_path, out_path) != 0) {",
              '            fprintf(stderr, "FAILED %s\\n", models[i].name);',
              "            failed = 1;", "        }", "    }",
              "    return failed;", "}", ""]
    return "\n".join(lines)


@dataclass
class Harness:
    exe: str
    manifests: list[dict]

    def run(self, feeds: dict[str, dict[str, np.ndarray]], work_dir: str,
            timeout: float = 120) -> tuple[subprocess.CompletedProcess, dict]:
        """Run every model; feeds[model name][input name]. Returns the process and
        {model name: {output name: array}} for the models that wrote outputs."""
        os.makedirs(work_dir, exist_ok=True)
        for m in self.manifests:
            with open(os.path.join(work_dir, f"{m['name']}.in"), "wb") as f:
                for spec in m["inputs"]:
                    value = np.asarray(feeds[m["name"]][spec["name"]], order="C",
                                       dtype=np.dtype(spec["dtype"]))
                    assert list(value.shape) == spec["shape"], (m["name"], spec["name"])
                    f.write(value.tobytes())
        proc = subprocess.run([self.exe, work_dir], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **ENV})
        results = {}
        for m in self.manifests:
            path = os.path.join(work_dir, f"{m['name']}.out")
            if not os.path.exists(path):
                continue
            data = open(path, "rb").read()
            outs, pos = {}, 0
            for spec in m["outputs"]:
                dtype = np.dtype(spec["dtype"])
                n = int(np.prod(spec["shape"])) * dtype.itemsize
                outs[spec["name"]] = np.frombuffer(data[pos:pos + n], dtype).reshape(spec["shape"])
                pos += n
            results[m["name"]] = outs
        return proc, results


def build(out_dirs: list[str], build_dir: str, cc: str = "gcc", jobs: int = 2,
          extra_sources: list[str] = ()) -> Harness:
    """Compile the models written in `out_dirs` (distinct names) plus the harness
    into one sanitized executable `build_dir/aot_check`."""
    import json

    os.makedirs(build_dir, exist_ok=True)
    runtime = os.path.join(build_dir, "aot_runtime")
    os.makedirs(runtime, exist_ok=True)
    manifests, sources = [], []
    for out in out_dirs:
        manifest = next(json.load(open(os.path.join(out, f)))
                        for f in sorted(os.listdir(out)) if f.endswith(".json"))
        manifests.append(manifest)
        name = manifest["name"]
        for rel in manifest["files"]:
            src = os.path.join(out, rel)
            if rel.startswith("aot_runtime/"):
                dst = os.path.join(runtime, os.path.basename(rel))
                if os.path.exists(dst):
                    assert filecmp.cmp(src, dst, shallow=False), f"{rel} differs between models"
                else:
                    shutil.copyfile(src, dst)
            elif rel.endswith(".c"):
                sources.append(src)
        hdir = os.path.join(out, ".build")
        os.makedirs(hdir, exist_ok=True)
        hsrc = os.path.join(hdir, f"aot_check_{name}.c")
        with open(hsrc, "w") as f:
            f.write(harness_source(manifest))
        sources.append(hsrc)
    names = [m["name"] for m in manifests]
    assert len(set(names)) == len(names), "model names must be distinct"
    main = os.path.join(build_dir, "aot_check_main.c")
    with open(main, "w") as f:
        f.write(main_source(names))
    sources += sorted(os.path.join(runtime, f) for f in os.listdir(runtime) if f.endswith(".c"))
    sources += [main, *extra_sources]

    objects = [os.path.join(build_dir, f"o{i}.o") for i in range(len(sources))]

    def compile_one(i: int) -> subprocess.CompletedProcess:
        return subprocess.run([cc, *CFLAGS, *SANITIZE, "-c", sources[i], "-o", objects[i]],
                              capture_output=True, text=True)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for src, proc in zip(sources, pool.map(compile_one, range(len(sources)))):
            if proc.returncode != 0:
                raise AssertionError(f"compiling {src} failed:\n{proc.stderr}")
    exe = os.path.join(build_dir, "aot_check")
    proc = subprocess.run([cc, *SANITIZE, "-o", exe, *objects], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"linking failed:\n{proc.stderr}")
    return Harness(exe, manifests)
