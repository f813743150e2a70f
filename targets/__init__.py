"""Targets: descriptions, per-(op, target) lowering rules, toolchains and runners."""
