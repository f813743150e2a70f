"""Estimated cycles of an emulated Cortex-M run, from a per-instruction-class cost table.

The emulator counts instructions; a core does not run one per cycle. This module
weights each executed instruction by its class's cost on the core, in the
spirit of the anchor figures in ../shared/anchors (TFLM on Cortex-M4, estimated
the same way): an **estimate** for zero-wait-state memory. A real board with
flash wait states, bus contention or caches takes more.

How: `profile_run(compiled, feeds, target)` adds a unicorn block hook to the
model's `EmulatorRunner`, runs one inference (the same call that counts
instructions in `run_with_stats`), and records how often each translated block
ran and how often control left it non-sequentially (a taken branch, a return, a
pop into pc). Each block is disassembled once (capstone) and costed statically;
`est_cycles = sum(block hits x block cost) + taken transitions x P`.

Cortex-M4 table (Arm Cortex-M4 TRM r0p1, "Processor instruction timings" and the
FPU's "FPU instruction set" table). P = pipeline refill after a taken branch,
1-3 cycles in the TRM depending on target alignment and width; we use 2.

| class | instructions | cycles |
|---|---|---|
| alu | data processing, shifts, moves, compares, extends, bitfield, saturate, parallel add/sub (SADD16, QADD8, SEL, ...), IT, NOP, barriers, MRS/MSR | 1 |
| mul | MUL, SMULxy, SMULWy, SMMUL, SMUAD/SMUSD, SMULL/UMULL, SMLAxy, SMLAWy, **SMLAD**/SMLSD, SMLAL/UMLAL, SMLALD, SMMLA, USADA8 | 1 |
| mla | MLA, MLS | 2 |
| div | SDIV, UDIV (2-12 by operand size; midpoint) | 7 |
| load | LDR, LDRB/H, LDRSB/H, LDREX | 2; 1 when it directly follows another single load/store (address/data phases pipeline) |
| store | STR, STRB/H, STREX | 1 with an immediate offset or after a single load/store; else 2 |
| load2 | LDRD, STRD | 3 |
| multi | LDM, STM, PUSH, POP | 1 + registers |
| branch | B, BL, BX, BLX, CBZ/CBNZ | 1 (+P when taken) |
| table | TBB, TBH | 2 (+P, always taken) |
| fp | VADD, VSUB, VMUL, VNMUL, VABS, VNEG, VCVT, VCMP, VMOV, VMRS/VMSR | 1 |
| fp_mac | VMLA/VMLS, VNMLA/VNMLS, VFMA/VFMS, VFNMA/VFNMS | 3 |
| fp_div | VDIV, VSQRT | 14 |
| fp_load | VLDR, VSTR | 2 |
| fp_multi | VLDM, VSTM, VPUSH, VPOP | 1 + registers |

Any instruction that leaves its block non-sequentially pays +P, whatever it is
(this covers POP {pc}, BX lr and LDR pc). IT instructions are costed 1 although
the M4 can fold some of them (0 cycles): conservative.

Cortex-M7 table: the M7 has a 6-stage dual-issue pipeline, 64-bit TCM
interfaces and a branch predictor, and Arm publishes no per-instruction table.
Ours is a **single-issue approximation** (loads/stores 1, LDRD/STRD 1, LDM/STM
1 + registers/2, MLA 1, VMLA/VFMA 1 issue slot, taken branches P = 1 for a
predicted branch): dual issue of ALU pairs makes a real M7 faster still. Cortex-M3
and Cortex-M33 use the M4 table (same 3-stage pipeline timings for the shared
instructions); Cortex-M0/M0+ have their own small table (loads/stores 2, P = 1
for the 2-stage pipeline, single-cycle multiplier).

Peak MACs per cycle: 2 with the DSP extension (`SMLAD`: two 16x16 multiply-
accumulates per cycle), else 1 (MLA/MUL at best one per cycle).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLASSES = ("alu", "mul", "mla", "div", "load", "store", "load2", "multi", "branch", "table",
           "fp", "fp_mac", "fp_div", "fp_load", "fp_multi")

_MUL = {"mul", "muls", "smulbb", "smulbt", "smultb", "smultt", "smulwb", "smulwt", "smmul",
        "smmulr", "smuad", "smuadx", "smusd", "smusdx", "smull", "umull", "smlabb", "smlabt",
        "smlatb", "smlatt", "smlawb", "smlawt", "smlad", "smladx", "smlsd", "smlsdx", "smlal",
        "umlal", "umaal", "smlalbb", "smlalbt", "smlaltb", "smlaltt", "smlald", "smlaldx",
        "smlsld", "smlsldx", "smmla", "smmlar", "smmls", "smmlsr", "usad8", "usada8"}
_MLA = {"mla", "mls"}
_DIV = {"sdiv", "udiv"}
_LOAD = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrex", "ldrexb", "ldrexh", "ldrt", "ldrbt",
         "ldrht", "ldrsbt", "ldrsht", "lda", "ldab", "ldah", "ldaex", "ldaexb", "ldaexh"}
_STORE = {"str", "strb", "strh", "strex", "strexb", "strexh", "strt", "strbt", "strht", "stl",
          "stlb", "stlh", "stlex", "stlexb", "stlexh"}
_LOAD2 = {"ldrd", "strd"}
_MULTI = {"ldm", "ldmia", "ldmdb", "ldmda", "ldmib", "stm", "stmia", "stmdb", "stmda", "stmib",
          "push", "pop"}
_BRANCH = {"b", "bl", "bx", "blx", "cbz", "cbnz"}
_TABLE = {"tbb", "tbh"}
_FP_MAC = {"vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"}
_FP_DIV = {"vdiv", "vsqrt"}
_FP_LOAD = {"vldr", "vstr"}
_FP_MULTI = {"vldmia", "vldmdb", "vstmia", "vstmdb", "vldm", "vstm", "vpush", "vpop"}


def classify(name: str) -> str:
    """The cost class of an instruction, from its capstone base name (no condition
    code, no .w suffix: e.g. 'ldrsb', 'smlad', 'vmla')."""
    n = name.lower()
    if n in _MUL:
        return "mul"
    if n in _MLA:
        return "mla"
    if n in _DIV:
        return "div"
    if n in _LOAD:
        return "load"
    if n in _STORE:
        return "store"
    if n in _LOAD2:
        return "load2"
    if n in _MULTI:
        return "multi"
    if n in _BRANCH:
        return "branch"
    if n in _TABLE:
        return "table"
    if n in _FP_MAC:
        return "fp_mac"
    if n in _FP_DIV:
        return "fp_div"
    if n in _FP_LOAD:
        return "fp_load"
    if n in _FP_MULTI:
        return "fp_multi"
    if n.startswith("v"):
        return "fp"
    return "alu"


@dataclass(frozen=True)
class CostTable:
    name: str
    cost: dict            # class -> cycles (multi classes: the fixed part)
    per_register: float   # multi / fp_multi: cycles per transferred register
    refill: float         # P: extra cycles when control leaves a block non-sequentially
    load_pipelined: float  # a single load right after a single load/store
    store_reg_offset: float  # a single store with a register offset, not pipelined
    peak_macs_per_cycle: int
    note: str = ""

    def instruction_cost(self, cls: str, regs: int, pipelined: bool, imm_offset: bool) -> float:
        if cls in ("multi", "fp_multi"):
            return self.cost[cls] + self.per_register * regs
        if cls == "load" and pipelined:
            return self.load_pipelined
        if cls == "store":
            return self.cost["store"] if (imm_offset or pipelined) else self.store_reg_offset
        return self.cost[cls]


CORTEX_M4 = CostTable(
    "cortex-m4",
    {"alu": 1, "mul": 1, "mla": 2, "div": 7, "load": 2, "store": 1, "load2": 3, "multi": 1,
     "branch": 1, "table": 2, "fp": 1, "fp_mac": 3, "fp_div": 14, "fp_load": 2,
     "fp_multi": 1},
    per_register=1, refill=2, load_pipelined=1, store_reg_offset=2, peak_macs_per_cycle=2,
    note="Cortex-M4 TRM instruction timings, zero-wait-state memory, P=2")
CORTEX_M7 = CostTable(
    "cortex-m7",
    {"alu": 1, "mul": 1, "mla": 1, "div": 7, "load": 1, "store": 1, "load2": 1, "multi": 1,
     "branch": 1, "table": 2, "fp": 1, "fp_mac": 1, "fp_div": 14, "fp_load": 1,
     "fp_multi": 1},
    per_register=0.5, refill=1, load_pipelined=1, store_reg_offset=1, peak_macs_per_cycle=2,
    note="single-issue approximation of the dual-issue Cortex-M7, TCM, predicted branches (P=1)")
CORTEX_M0 = CostTable(
    "cortex-m0plus",
    {"alu": 1, "mul": 1, "mla": 2, "div": 7, "load": 2, "store": 2, "load2": 3, "multi": 1,
     "branch": 1, "table": 2, "fp": 1, "fp_mac": 3, "fp_div": 14, "fp_load": 2,
     "fp_multi": 1},
    per_register=1, refill=1, load_pipelined=2, store_reg_offset=2, peak_macs_per_cycle=1,
    note="Cortex-M0+ TRM timings (2-stage pipeline, single-cycle multiplier), P=1")

TABLES = {"cortex-m4": CORTEX_M4, "cortex-m7": CORTEX_M7, "cortex-m3": CORTEX_M4,
          "cortex-m33": CORTEX_M4, "cortex-m0plus": CORTEX_M0}


def peak_macs_per_cycle(target) -> int:
    return 2 if "dsp" in tuple(getattr(target, "features", ())) else 1


@dataclass
class BlockCost:
    instructions: int
    cycles: float
    classes: dict = field(default_factory=dict)


class BlockCoster:
    """Disassembles and costs Thumb basic blocks (cached by address and size)."""

    def __init__(self, table: CostTable):
        try:
            import capstone
            from capstone import arm_const
        except ImportError:
            raise ImportError("capstone is not installed (pip install capstone): it is needed "
                              "to estimate cycles") from None
        self.table = table
        self._arm = arm_const
        self.md = capstone.Cs(capstone.CS_ARCH_ARM,
                              capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
        self.md.detail = True
        self.cache: dict[tuple[int, int], BlockCost] = {}

    def cost(self, code: bytes, address: int) -> BlockCost:
        key = (address, len(code))
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        A = self._arm
        t = self.table
        classes: dict[str, int] = {}
        cycles = 0.0
        count = 0
        consumed = 0
        prev_single_mem = False
        for insn in self.md.disasm(code, address):
            cls = classify(insn.insn_name())
            regs = 0
            imm_offset = False
            if cls in ("multi", "fp_multi"):
                regs = sum(1 for o in insn.operands if o.type == A.ARM_OP_REG)
                if insn.insn_name().startswith(("ldm", "stm", "vldm", "vstm")):
                    regs -= 1     # the base register
                if cls == "fp_multi" and any(o.type == A.ARM_OP_REG and
                                             insn.reg_name(o.reg).startswith("d")
                                             for o in insn.operands):
                    regs *= 2     # a D register moves two words
            elif cls == "store":
                mem = [o for o in insn.operands if o.type == A.ARM_OP_MEM]
                imm_offset = bool(mem) and mem[0].mem.index == 0
            cycles += t.instruction_cost(cls, max(regs, 0), prev_single_mem, imm_offset)
            prev_single_mem = cls in ("load", "store")
            classes[cls] = classes.get(cls, 0) + 1
            count += 1
            consumed += insn.size
        # Bytes capstone could not decode: one cycle per halfword-sized instruction.
        rest = (len(code) - consumed) // 2
        if rest > 0:
            classes["unknown"] = classes.get("unknown", 0) + rest
            cycles += rest
            count += rest
        block = BlockCost(count, cycles, classes)
        self.cache[key] = block
        return block


@dataclass
class CycleProfile:
    table: str
    instructions: int
    est_cycles: int
    taken_transitions: int
    classes: dict           # class -> executed instructions


def profile_run(compiled, feeds: dict, target) -> tuple[dict, dict, CycleProfile]:
    """One emulated inference of `compiled` with instructions, stats and estimated cycles.

    Returns (outputs, stats, profile): `compiled.run_with_stats(feeds)`'s outputs
    and stats, plus the cycle profile measured on the same run."""
    table = TABLES.get(target.name)
    if table is None:
        raise ValueError(f"no cycle cost table for target {target.name}")
    coster = BlockCoster(table)
    runner = compiled.runner()
    uc = runner.uc
    import unicorn

    hits: dict[tuple[int, int], int] = {}
    taken: dict[tuple[int, int], int] = {}
    prev: list = [None]

    def on_block(_uc, address, size, _data):
        key = (address, size)
        hits[key] = hits.get(key, 0) + 1
        p = prev[0]
        if p is not None and p[0] + p[1] != address:
            taken[p] = taken.get(p, 0) + 1
        prev[0] = key

    handle = uc.hook_add(unicorn.UC_HOOK_BLOCK, on_block)
    uc.ctl_flush_tb()
    try:
        outputs, stats = compiled.run_with_stats(feeds)
    finally:
        uc.hook_del(handle)
        uc.ctl_flush_tb()
    magic = runner.build.layout.magic_return
    total_insns = 0
    cycles = 0.0
    classes: dict[str, int] = {}
    n_taken = 0
    for key, n in hits.items():
        address, size = key
        if address == magic:
            continue
        block = coster.cost(bytes(uc.mem_read(address, size)), address)
        total_insns += n * block.instructions
        cycles += n * block.cycles
        for cls, k in block.classes.items():
            classes[cls] = classes.get(cls, 0) + n * k
    for key, n in taken.items():
        if key[0] != magic:
            n_taken += n
            cycles += n * table.refill
    profile = CycleProfile(table.name, total_insns, int(round(cycles)), n_taken,
                           dict(sorted(classes.items(), key=lambda kv: -kv[1])))
    return outputs, stats, profile
