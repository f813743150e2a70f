"""Large constant data as a binary blob, so big models build in seconds.

A 23 MB const array written as C text costs gcc about 40 s and 3 GB; the same
bytes in `<name>_weights.bin`, pulled in by a small `<name>_weights.S` with
`.incbin`, assemble in well under a second. Contract: `blob_constants` picks
the constants that go in the blob (none unless the model's large constants
together pass BLOB_MIN_TOTAL_BYTES, so small models keep pure C);
`blob_files` returns the two files. Each blob tensor becomes a global symbol
of the same name and alignment its C declaration (`extern const T name[N];`,
already in `<name>.c`) expects. The data is little-endian, as on every aot
target; the output depends only on the program (byte-reproducible). The .S is
preprocessed (capital S), so `<NAME>_WEIGHTS_SECTION` may name another section.
"""

from __future__ import annotations

import numpy as np

from aot.program import Program

# A tensor of at least BLOB_MIN_BYTES goes in the blob when such tensors add up
# to BLOB_MIN_TOTAL_BYTES; below that, C text compiles fast enough and stays
# the simplest thing to read and to build.
BLOB_MIN_BYTES = 4096
BLOB_MIN_TOTAL_BYTES = 2 << 20
BLOB_ALIGN = 64   # a cache line; covers every vector load the kernels make


def blob_constants(program: Program) -> list[str]:
    large = [t for t in program.constants() if program.tensors[t].nbytes >= BLOB_MIN_BYTES]
    if sum(program.tensors[t].nbytes for t in large) < BLOB_MIN_TOTAL_BYTES:
        return []
    return large


def blob_files(program: Program, name: str, up: str, const_names: dict[str, str],
               tensors: list[str], banner: str) -> dict[str, bytes]:
    """`<name>_weights.bin` and `<name>_weights.S` for `tensors` (in that order)."""
    chunks, offset = [], 0
    asm = [banner.rstrip("\n"), "",
           f"#ifndef {up}_WEIGHTS_SECTION",
           f"#define {up}_WEIGHTS_SECTION .rodata.{name}_weights",
           "#endif", "",
           f'    .section {up}_WEIGHTS_SECTION, "a"']
    for t in tensors:
        tensor = program.tensors[t]
        data = np.ascontiguousarray(tensor.data).astype(tensor.dtype.newbyteorder("<"),
                                                         copy=False).tobytes()
        sym = const_names[t]
        asm += ["", f"/* '{_comment(t)}' {np.dtype(tensor.dtype).name} "
                    f"[{','.join(map(str, tensor.shape))}] */",
                f"    .balign {BLOB_ALIGN}", f"    .global {sym}", f"    .type {sym}, %object",
                f"{sym}:", f'    .incbin "{name}_weights.bin", {offset}, {len(data)}',
                f"    .size {sym}, {len(data)}"]
        chunks.append(data)
        offset += len(data)
    asm += ["", "#if defined(__ELF__) && defined(__linux__)",
            "/* no executable stack for a host library */",
            '    .section .note.GNU-stack, "", %progbits', "#endif", ""]
    return {f"{name}_weights.bin": b"".join(chunks),
            f"{name}_weights.S": "\n".join(asm).encode("utf-8")}


def _comment(text: str) -> str:
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return text.replace("*/", "* /").replace("/*", "/ *")
