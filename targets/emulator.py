"""Run a compiled model on an emulated target CPU, in-process, with unicorn.

Contract: `EmulatorRunner(out_dir, manifest, target=None, toolchain=None)` builds
the model into a bare-metal ELF (aot.targets.cross), loads it into one unicorn
instance and keeps it for every later call.

- `run(feeds) -> {name: array}` (the HostRunner interface): writes the inputs into
  the harness buffers, calls `aot_entry` with no hooks (full emulator speed) and
  bounded by a wall-clock budget (`timeout=`, never `count=`: unicorn implements
  `count` with a per-instruction hook), and reads the outputs back.
- `run_with_stats(feeds) -> (outputs, stats)`: the first call also does one
  counting run (block hook summing per-block instruction counts; the harness
  call only, no setup; stack painted first) and caches its figures; stats has
  integer `instructions`, `stack_bytes` (peak, painted), `stack_static_bytes`
  (gcc's call graph, else None), `flash_bytes` (text + rodata + exidx + the .data
  image: what a device keeps in flash), `ram_bytes` (.data + .bss: arena, I/O
  buffers and any static data), `arena_bytes`.
- Threads: for a model with `<name>_run_ex` (manifest `executor`), the harness
  calls `_run_ex` with an executor that runs the parts of each split layer one
  after another. `run(feeds, threads=N)` cuts the layers into N parts that
  way (the outputs must not change with N: the split is verified serially);
  `run_with_stats(feeds, threads=N)` adds `workers`: the instructions each of
  the N workers would run (a code hook on the harness's `aot_harness_worker`,
  called before each part), and `serial_instructions`, the rest.
- Per layer: `EmulatorRunner(..., layer_marks=True)` runs an image whose
  AOT_PROFILE_HOOK leaves only a label (aot.targets.cross LAYER_MARKS: no
  instruction added); `layer_instructions(feeds, threads)` counts one run
  with a code hook on each label and returns the instructions of each layer
  (the block hook's count split exactly at the labels), those outside any
  layer, and the total, which they sum to.
- `EmulatorRunner(..., selftest=True).selftest() -> (code, max_diff)`: runs
  `<name>_selftest` (a model compiled with emit_selftest) in its own image
  (aot.targets.cross: `...-selftest.elf`).
- A fault in the emulated code (unmapped or read-only access, stack overflow past
  `stack_bytes`, an undefined instruction / CPU exception, a wall-clock or
  instruction budget exceeded) raises ToolchainError (exit 3) with one line
  naming the model, the target, the address and the function.

CPU models: Cortex-M targets run in UC_MODE_THUMB *without* UC_MODE_MCLASS (with
MCLASS unicorn silently ignores the model and runs an M33), with the target's
UC_CPU_ARM_CORTEX_M* model (cortex-m0plus runs as Cortex-M0: unicorn has no M0+;
both are Armv6-M). AArch64 targets run with their model (Cortex-A72, or 'max'
for DotProd) and FP/SIMD enabled in CPACR_EL1.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from aot.errors import ToolchainError, UsageError
from aot.targets.cross import CrossBuild, Layout, build_elf, static_stack_bytes
from aot.targets.target import Target, resolve

DEFAULT_STACK_BYTES = 64 * 1024
DEFAULT_TIME_BUDGET_S = 120.0
DEFAULT_INSTRUCTION_BUDGET = 20_000_000_000
PAGE = 0x1000
STACK_PAINT = 0xA5
POISON = 0xFF        # arena and output bytes before each run: a float32 NaN, int8 -1
GUARD = 0xA5         # the harness's bytes just outside the arena, checked after each run
# Accesses this far below the stack's lowest address count as stack overflow.
STACK_GUARD = 1 << 20


def _import_unicorn():
    try:
        import unicorn
    except ImportError:
        raise ToolchainError("the unicorn package is not installed (pip install unicorn)") \
            from None
    return unicorn


def default_toolchain(manifest: dict) -> str:
    """The manifest's toolchain when it names a cross toolchain, else zig."""
    chosen = manifest.get("toolchain")
    return chosen if chosen in ("zig", "gcc") else "zig"


class EmulatorRunner:
    def __init__(self, out_dir: str, manifest: dict, target: Target | str | None = None,
                 toolchain: str | None = None, *, stack_bytes: int = DEFAULT_STACK_BYTES,
                 time_budget_s: float = DEFAULT_TIME_BUDGET_S,
                 instruction_budget: int = DEFAULT_INSTRUCTION_BUDGET, selftest: bool = False,
                 layer_marks: bool = False):
        self.manifest = manifest
        self.target = resolve(target if target is not None else manifest["target"]["name"])
        self.name = manifest["name"]
        self.where = f"{self.name} on {self.target.name}"
        if self.target.runner != "unicorn":
            raise ToolchainError(f"{self.where}: target {self.target.name} is build-only "
                                 f"(no emulator can run it here); build it with `aot compile`")
        if stack_bytes <= 0 or stack_bytes % 16:
            raise UsageError(f"stack_bytes must be a positive multiple of 16, not {stack_bytes}")
        self.stack_bytes = stack_bytes
        self.time_budget_s = time_budget_s
        self.instruction_budget = instruction_budget
        self.toolchain = toolchain or default_toolchain(manifest)
        self._layer_marks = layer_marks
        self.build: CrossBuild = build_elf(out_dir, manifest, self.target, self.toolchain,
                                           selftest=selftest, layer_marks=layer_marks)
        self._stats: dict[int, dict] = {}
        self._fault: tuple[str, int] | None = None
        self._load()

    # -- setup -----------------------------------------------------------------------------

    def _load(self) -> None:
        uc_mod = _import_unicorn()
        self._uc_mod = uc_mod
        arm64 = self.target.family == "aarch64"
        if arm64:
            from unicorn import arm64_const as C
            uc = uc_mod.Uc(uc_mod.UC_ARCH_ARM64, uc_mod.UC_MODE_ARM)
        else:
            from unicorn import arm_const as C
            # THUMB only: adding UC_MODE_MCLASS makes unicorn ignore the CPU model.
            uc = uc_mod.Uc(uc_mod.UC_ARCH_ARM, uc_mod.UC_MODE_THUMB)
        uc.ctl_set_cpu_model(getattr(C, self.target.uc_cpu))
        self._C, self._arm64, self.uc = C, arm64, uc

        layout = self.build.layout
        image = read_elf(self.build.elf, layout)
        # The arena guards are the harness's, not the model's: leave them out of RAM.
        self.flash_bytes = image.flash_bytes
        self.ram_bytes = image.ram_bytes - 2 * self.build.guard
        self._funcs = image.functions
        self._func_starts = [f[0] for f in image.functions]
        # Initialised static data, restored before each call (.bss holds the I/O buffers).
        self._writable = [(addr, data) for addr, data, _, flags in image.segments
                          if flags & 2 and data]
        pages: dict[int, int] = {}
        for addr, _data, memsz, flags in image.segments:
            perms = ((uc_mod.UC_PROT_READ if flags & 4 else 0)
                     | (uc_mod.UC_PROT_WRITE if flags & 2 else 0)
                     | (uc_mod.UC_PROT_EXEC if flags & 1 else 0))
            for page in range(addr // PAGE, -(-(addr + memsz) // PAGE)):
                pages[page] = pages.get(page, 0) | perms
        _map_pages(uc, pages)
        for addr, data, _memsz, _flags in image.segments:
            if data:
                uc.mem_write(addr, data)   # fresh mappings are zero: that is the fill

        # The stack: its own region, nothing mapped below it (overflow -> fault).
        self.stack_base = layout.stack
        self.stack_top = layout.stack + self.stack_bytes
        uc.mem_map(self.stack_base, -(-self.stack_bytes // PAGE) * PAGE,
                   uc_mod.UC_PROT_READ | uc_mod.UC_PROT_WRITE)
        # The return address page: mapped so stopping there never depends on a fetch fault.
        uc.mem_map(layout.magic_return, PAGE, uc_mod.UC_PROT_READ | uc_mod.UC_PROT_EXEC)
        if arm64:
            uc.mem_write(layout.magic_return, bytes.fromhex("00000014"))   # b .
            # FP/SIMD on: CPACR_EL1.FPEN (bits 20-21) = 0b11, else FP traps at EL1.
            uc.reg_write(C.UC_ARM64_REG_CPACR_EL1,
                         uc.reg_read(C.UC_ARM64_REG_CPACR_EL1) | (3 << 20))
        else:
            uc.mem_write(layout.magic_return, bytes.fromhex("fee7"))      # b .
            # No FPU enable needed: unicorn's M4/M7/M33 reset with the FPU accessible
            # (checked: VADD.F32 runs without writing CPACR), and M0/M3 have none.

        # Record the address of a bad access, for the error message. Invalid-access
        # hooks run only on the fault path, so correctness runs keep full speed.
        uc.hook_add(uc_mod.UC_HOOK_MEM_INVALID, self._on_bad_access)

        def need(sym: str) -> int:
            if sym not in image.symbols:
                raise ToolchainError(f"{self.where}: {sym} missing from {self.build.elf}")
            return image.symbols[sym]

        self.entry = need(self.build.entry) & ~1   # a Thumb symbol's value has bit 0 set
        self._result = need(self.build.result)
        self._arena = need(self.build.arena_block) + self.build.guard
        self._arena_bytes = self.manifest["arena"]["bytes"]
        if self.build.selftest:   # no I/O: the self-test's outputs follow the arena
            self._arena_bytes = self.manifest["selftest"]["arena_bytes"]
            self._in_addrs, self._out_addrs = [], []
            self._max_diff = need(self.build.max_diff)
        elif self.manifest["arena"].get("io_in_arena"):
            self._in_addrs = [self._arena + s["arena_offset"] for s in self.manifest["inputs"]]
            self._out_addrs = [self._arena + s["arena_offset"] for s in self.manifest["outputs"]]
        else:
            self._in_addrs = [need(s) for s in self.build.inputs]
            self._out_addrs = [need(s) for s in self.build.outputs]
        # The serial executor of a model with <name>_run_ex (see aot.targets.cross): the
        # worker count goes to aot_entry in its first argument register.
        self._executor = bool(self.manifest.get("executor")) and not self.build.selftest
        self._workers = 1
        worker_fn = image.symbols.get("aot_harness_worker")
        self._worker_fn = worker_fn & ~1 if worker_fn is not None else None
        self._marks = read_layer_marks(self.build.elf) if self._layer_marks else []

    def _on_bad_access(self, uc, access, address, size, value, _data) -> bool:
        um = self._uc_mod
        kind = {um.UC_MEM_WRITE_UNMAPPED: "write to unmapped", um.UC_MEM_READ_UNMAPPED:
                "read from unmapped", um.UC_MEM_FETCH_UNMAPPED: "fetch from unmapped",
                um.UC_MEM_WRITE_PROT: "write to read-only", um.UC_MEM_READ_PROT:
                "read from unreadable", um.UC_MEM_FETCH_PROT: "fetch from non-executable"
                }.get(access, "invalid access to")
        self._fault = (kind, address)
        return False

    # -- running -----------------------------------------------------------------------------

    def _pc(self) -> int:
        return self.uc.reg_read(self._C.UC_ARM64_REG_PC if self._arm64 else self._C.UC_ARM_REG_PC)

    def where_is(self, pc: int) -> str:
        i = bisect.bisect_right(self._func_starts, pc) - 1
        if i >= 0:
            start, size, name = self._funcs[i]
            if pc < start + max(size, 1):
                return f"{name}+{pc - start:#x}"
        return "?"

    def _call(self, *, timeout_s: float) -> None:
        """One call of aot_entry from a fresh register state; raises on any fault."""
        uc, C, magic = self.uc, self._C, self.build.layout.magic_return
        if self._arm64:
            for i in range(31):
                uc.reg_write(C.UC_ARM64_REG_X0 + i, 0)
            uc.reg_write(C.UC_ARM64_REG_X0, self._workers)
            uc.reg_write(C.UC_ARM64_REG_SP, self.stack_top)
            uc.reg_write(C.UC_ARM64_REG_X30, magic)
            begin = self.entry
        else:
            for i in range(13):
                uc.reg_write(C.UC_ARM_REG_R0 + i, 0)
            uc.reg_write(C.UC_ARM_REG_R0, self._workers)
            uc.reg_write(C.UC_ARM_REG_SP, self.stack_top)
            uc.reg_write(C.UC_ARM_REG_LR, magic | 1)    # Thumb return
            begin = self.entry | 1
        self._fault = None
        try:
            uc.emu_start(begin, magic, timeout=max(1, int(timeout_s * 1e6)))
        except self._uc_mod.UcError as e:
            raise ToolchainError(self._describe_fault(e)) from None
        pc = self._pc()
        if pc != magic:
            raise ToolchainError(f"{self.where}: stopped after the time budget of "
                                 f"{timeout_s:g} s (runaway loop?) at pc {pc:#x} "
                                 f"in {self.where_is(pc)}")

    def _describe_fault(self, e) -> str:
        um = self._uc_mod
        pc = self._pc()
        at = f"pc {pc:#x} in {self.where_is(pc)}"
        if self._fault is not None:
            kind, addr = self._fault
            if self.stack_base - STACK_GUARD <= addr < self.stack_base:
                return (f"{self.where}: stack overflow: needs more than the {self.stack_bytes} B "
                        f"stack ({kind} address {addr:#x} at {at})")
            return f"{self.where}: emulated fault: {kind} address {addr:#x} at {at}"
        if e.errno in (um.UC_ERR_INSN_INVALID, um.UC_ERR_EXCEPTION):
            try:
                word = self.uc.mem_read(pc, 4).hex()
            except um.UcError:
                word = "?"
            cpu = self.target.uc_cpu.rsplit("_", 1)[-1]
            return (f"{self.where}: emulated CPU exception ({e}) at {at}, bytes {word}: an "
                    f"instruction this CPU ({cpu}) lacks, or an unaligned or disabled-unit access")
        return f"{self.where}: emulator error ({e}) at {at}"

    def _write_inputs(self, feeds: dict[str, np.ndarray]) -> None:
        """Static data back to its initial values, arena and outputs poisoned, guards set,
        then the inputs into their buffers."""
        self._workers = 1
        for addr, data in self._writable:
            self.uc.mem_write(addr, data)
        guard = self.build.guard
        self.uc.mem_write(self._arena - guard, bytes([GUARD]) * guard
                          + bytes([POISON]) * self._arena_bytes + bytes([GUARD]) * guard)
        for spec, addr in zip(self.manifest["outputs"], self._out_addrs):
            self.uc.mem_write(addr, bytes([POISON]) * _nbytes(spec))
        specs = self.manifest["inputs"]
        unknown = set(feeds) - {s["name"] for s in specs}
        if unknown:
            raise UsageError(f"unknown input(s): {', '.join(sorted(unknown))}")
        for spec, addr in zip(specs, self._in_addrs):
            if spec["name"] not in feeds:
                raise UsageError(f"missing input '{spec['name']}' "
                                 f"(inputs: {', '.join(s['name'] for s in specs)})")
            # asarray, not ascontiguousarray: that one turns a 0-d (scalar) input into 1-d.
            value = np.asarray(feeds[spec["name"]], dtype=np.dtype(spec["dtype"]), order="C")
            if list(value.shape) != spec["shape"]:
                raise UsageError(f"input '{spec['name']}' has shape {list(value.shape)}, "
                                 f"the model takes {spec['shape']}")
            self.uc.mem_write(addr, value.astype(value.dtype.newbyteorder("<")).tobytes())

    def _check_guards(self, fn: str) -> None:
        guard = self.build.guard
        after = self._arena + self._arena_bytes
        for side, addr in (("before", self._arena - guard), ("after", after)):
            changed = sum(b != GUARD for b in bytes(self.uc.mem_read(addr, guard)))
            if changed:
                raise ToolchainError(f"{self.where}: {fn} wrote outside its arena "
                                     f"({changed} guard bytes {side} it changed)")

    def selftest(self) -> tuple[int, float]:
        """Run `<name>_selftest` (a runner made with selftest=True): its return code and
        the largest difference it reported."""
        if not self.build.selftest:
            raise UsageError(f"{self.where}: make the runner with selftest=True")
        self._write_inputs({})
        self._call(timeout_s=self.time_budget_s)
        self._check_guards(f"{self.name}_selftest")
        code = int.from_bytes(self.uc.mem_read(self._result, 4), "little", signed=True)
        max_diff = np.frombuffer(bytes(self.uc.mem_read(self._max_diff, 4)), "<f4")[0]
        return code, float(max_diff)

    def _read_outputs(self) -> dict[str, np.ndarray]:
        self._check_guards(f"{self.name}_run")
        code = int.from_bytes(self.uc.mem_read(self._result, 4), "little", signed=True)
        if code != 0:
            raise ToolchainError(f"{self.where}: {self.name}_run returned error {code}")
        outs = {}
        for spec, addr in zip(self.manifest["outputs"], self._out_addrs):
            dtype = np.dtype(spec["dtype"]).newbyteorder("<")
            raw = self.uc.mem_read(addr, _nbytes(spec))
            outs[spec["name"]] = np.frombuffer(bytes(raw), dtype).astype(
                np.dtype(spec["dtype"])).reshape(spec["shape"])
        return outs

    def _set_workers(self, threads: int) -> None:
        if not isinstance(threads, int) or threads < 1:
            raise UsageError(f"threads must be a positive integer, not {threads!r}")
        if not self._executor and threads > 1:
            raise UsageError(f"{self.where}: {self.name} has no {self.name}_run_ex (target "
                             f"{self.target.name} runs one thread)")
        self._workers = threads

    def run(self, feeds: dict[str, np.ndarray], threads: int = 1) -> dict[str, np.ndarray]:
        self._write_inputs(feeds)
        self._set_workers(threads)
        self._call(timeout_s=self.time_budget_s)
        return self._read_outputs()

    def run_with_stats(self, feeds: dict[str, np.ndarray],
                       threads: int = 1) -> tuple[dict[str, np.ndarray], dict]:
        if threads not in self._stats:
            self._write_inputs(feeds)
            self._set_workers(threads)
            self._stats[threads] = self._measure(per_worker=threads > 1)
            outputs = self._read_outputs()
        else:
            outputs = self.run(feeds, threads)
        return outputs, dict(self._stats[threads])

    def layer_instructions(self, feeds: dict[str, np.ndarray], threads: int = 1) -> dict:
        """One counted run of the per-layer image: {"layers": [instructions of layer i],
        "outside": instructions before the first and after the last layer (entry,
        checks, return), "instructions": the total, "workers": per worker or None}."""
        if not self._marks:
            raise UsageError(f"{self.where}: make the runner with layer_marks=True")
        self._write_inputs(feeds)
        self._set_workers(threads)
        stats = self._measure(per_worker=threads > 1, layers=True)
        self._read_outputs()
        return {k: stats[k] for k in ("layers", "outside", "instructions", "workers")}

    # -- measuring ---------------------------------------------------------------------------

    def _measure(self, per_worker: bool = False, layers: bool = False) -> dict:
        """One counted, stack-painted call (inputs already written). `per_worker` /
        `layers`: also split the count by worker / by layer (see the module doc)."""
        uc, um = self.uc, self._uc_mod
        uc.mem_write(self.stack_base, bytes([STACK_PAINT]) * self.stack_bytes)
        sizes: dict[tuple[int, int], int] = {}    # instructions per translated block
        total = [0]
        budget = self.instruction_budget
        count_insns = self._count_block
        magic = self.build.layout.magic_return
        # Attribution: instructions per (layer, worker); layer -1 before the first hook
        # and after the last, worker -1 outside any part.
        split = per_worker or layers
        where = [-1, -1]
        counts: dict[tuple[int, int], int] = {}
        block = [0, 0]

        def on_block(uc_, address, size, _data):
            key = (address, size)
            n = sizes.get(key)
            if n is None:   # decoded once per block; the stop at the return address is no work
                n = sizes[key] = 0 if address == magic else count_insns(address, size)
            total[0] += n
            if split:
                k = (where[0], where[1])
                counts[k] = counts.get(k, 0) + n
                block[0], block[1] = address, size
            if total[0] > budget:
                uc_.emu_stop()

        def move_to(address: int, layer: int, worker: int) -> None:
            """From `address` on, the current block's instructions are the new owner's."""
            rest = count_insns(address, block[0] + block[1] - address)
            old, new = (where[0], where[1]), (layer, worker)
            counts[old] = counts.get(old, 0) - rest
            counts[new] = counts.get(new, 0) + rest
            where[0], where[1] = layer, worker

        handles = [uc.hook_add(um.UC_HOOK_BLOCK, on_block)]
        if per_worker and self._worker_fn is not None:
            reg = self._C.UC_ARM64_REG_X0 if self._arm64 else self._C.UC_ARM_REG_R0

            def on_worker(uc_, address, size, _data):
                w = uc_.reg_read(reg) & 0xFFFFFFFF
                move_to(address, where[0], w - (1 << 32) if w >> 31 else w)

            handles.append(uc.hook_add(um.UC_HOOK_CODE, on_worker, begin=self._worker_fn,
                                       end=self._worker_fn))
        if layers:
            last = len(self.manifest.get("layers") or ())
            for index, address in self._marks:
                def on_mark(uc_, address_, size, _data, index=index):
                    move_to(address_, -1 if index >= last else index, where[1])
                handles.append(uc.hook_add(um.UC_HOOK_CODE, on_mark, begin=address,
                                           end=address))
        # Hooks are compiled into translated blocks: drop the blocks translated without it
        # (and below, those translated with it, so plain runs stay hook-free).
        uc.ctl_flush_tb()
        try:
            # A Python block hook makes the run ~20x slower: scale its time budget.
            self._call(timeout_s=self.time_budget_s * 20)
        except ToolchainError:
            if total[0] > budget:
                raise ToolchainError(f"{self.where}: stopped after the instruction budget of "
                                     f"{budget} instructions (runaway loop?)") from None
            raise
        finally:
            for h in handles:
                uc.hook_del(h)
            uc.ctl_flush_tb()
        instructions = total[0]
        extra: dict = {}
        if per_worker:
            threads = self._workers
            workers = [0] * threads
            for (_, w), n in counts.items():
                if 0 <= w < threads:
                    workers[w] += n
            extra["workers"] = workers
            extra["serial_instructions"] = instructions - sum(workers)
        if layers:
            per_layer = [0] * len(self.manifest.get("layers") or ())
            for (layer, _), n in counts.items():
                if layer >= 0:
                    per_layer[layer] += n
            extra["layers"] = per_layer
            extra["outside"] = instructions - sum(per_layer)
            extra.setdefault("workers", None)
        painted = bytes(uc.mem_read(self.stack_base, self.stack_bytes))
        untouched = len(painted) - len(painted.lstrip(bytes([STACK_PAINT])))
        static, unknown = static_stack_bytes(self.build)
        if unknown:
            static = None   # frames of runtime helpers (e.g. libgcc) unknown: no bound
        return {
            "instructions": int(instructions),
            "stack_bytes": self.stack_bytes - untouched,
            "stack_static_bytes": static,
            "flash_bytes": int(self.flash_bytes),
            "ram_bytes": int(self.ram_bytes),
            "arena_bytes": int(self.manifest["arena"]["bytes"]),
            **extra,
        }

    def _count_block(self, address: int, size: int) -> int:
        """Instructions in the translated block [address, address + size)."""
        if self._arm64:
            return size // 4
        code = bytes(self.uc.mem_read(address, size))
        count = i = 0
        while i < size:
            # A Thumb halfword whose top five bits are 0b11101/0b11110/0b11111 starts a
            # 32-bit instruction; any other starts a 16-bit one.
            first = code[i] | (code[i + 1] << 8) if i + 1 < size else 0
            i += 4 if (first >> 11) in (0b11101, 0b11110, 0b11111) else 2
            count += 1
        return count

    def count_with_code_hook(self, feeds: dict[str, np.ndarray]) -> int:
        """Instructions of one call counted one by one (slow; to check the block count)."""
        self._write_inputs(feeds)
        total = [0]
        magic = self.build.layout.magic_return

        def on_code(uc_, address, size, _data):
            if address != magic:
                total[0] += 1

        handle = self.uc.hook_add(self._uc_mod.UC_HOOK_CODE, on_code)
        self.uc.ctl_flush_tb()
        try:
            self._call(timeout_s=self.time_budget_s * 200)
        finally:
            self.uc.hook_del(handle)
            self.uc.ctl_flush_tb()
        return total[0]


@dataclass(frozen=True)
class ElfImage:
    # PT_LOAD: (address, file bytes, memory size (the rest is zero fill), flags)
    segments: list[tuple[int, bytes, int, int]]
    symbols: dict[str, int]
    functions: list[tuple[int, int, str]]     # sorted (start, size, name), Thumb bit cleared
    flash_bytes: int
    ram_bytes: int


def read_elf(path: str, layout: Layout) -> ElfImage:
    """Loadable segments, symbols and the flash/RAM figures of a linked image.

    flash = allocated sections outside RAM (text, rodata, exidx) + the .data image
    (a device keeps .data's initial values in flash); RAM = allocated sections in
    RAM (.data + .bss). The stack is not in the image.
    """
    try:
        from elftools.elf.constants import SH_FLAGS
        from elftools.elf.elffile import ELFFile
    except ImportError:
        raise ToolchainError("the pyelftools package is not installed (pip install pyelftools)") \
            from None
    with open(path, "rb") as f:
        elf = ELFFile(f)
        segments = []
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_memsz"]:
                segments.append((seg["p_vaddr"], seg.data(), seg["p_memsz"], seg["p_flags"]))
        symbols, functions = {}, []
        for sym in elf.get_section_by_name(".symtab").iter_symbols():
            if sym.name:
                symbols[sym.name] = sym["st_value"]
                if sym["st_info"]["type"] == "STT_FUNC":
                    functions.append((sym["st_value"] & ~1, sym["st_size"], sym.name))
        flash = ram = 0
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            in_ram = layout.ram <= sec["sh_addr"] < layout.ram + layout.ram_limit
            if in_ram:
                ram += sec["sh_size"]
            if not in_ram or sec["sh_type"] == "SHT_PROGBITS":
                flash += sec["sh_size"]
    return ElfImage(segments, symbols, sorted(functions), flash, ram)


def read_layer_marks(path: str) -> list[tuple[int, int]]:
    """(layer index, address) of every AOT_PROFILE_HOOK label in an image built with
    layer marks (aot.targets.cross LAYER_MARKS), Thumb bit cleared."""
    from elftools.elf.elffile import ELFFile

    from aot.targets.cross import LAYER_MARKS

    with open(path, "rb") as f:
        section = ELFFile(f).get_section_by_name(LAYER_MARKS)
        if section is None:
            raise ToolchainError(f"{path}: no {LAYER_MARKS} section (built without layer marks)")
        words = np.frombuffer(section.data(), "<u4").reshape(-1, 2)
    return sorted({(int(i), int(a) & ~1) for i, a in words})


def _map_pages(uc, pages: dict[int, int]) -> None:
    """Map each run of consecutive pages with equal permissions as one region."""
    run_start = prev = None
    for page in [*sorted(pages), None]:
        if run_start is not None and (page is None or page != prev + 1
                                      or pages[page] != pages[run_start]):
            uc.mem_map(run_start * PAGE, (prev + 1 - run_start) * PAGE, pages[run_start])
            run_start = None
        if page is not None and run_start is None:
            run_start = page
        prev = page


def _nbytes(spec: dict) -> int:
    return int(np.prod(spec["shape"], dtype=np.int64)) * np.dtype(spec["dtype"]).itemsize
