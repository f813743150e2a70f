"""Writing a compiled model's files into its output directory, safely.

- Nothing is touched until every file has been generated in memory.
- Files are written to a temporary directory beside the target, then moved
  into place with atomic renames; a new directory appears whole.
- A directory that holds files aot did not write (per the previous manifest)
  is refused unless `force`; even with `force`, foreign files are left alone:
  aot only ever replaces or removes files its previous manifest lists, and
  `.build/`, which aot owns.
- Nothing is written through a symlink that leads out of the directory.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from aot.errors import UsageError


def _previous_files(out_dir: str) -> set[str]:
    files: set[str] = set()
    for f in os.listdir(out_dir):
        if f.endswith(".json") and os.path.isfile(os.path.join(out_dir, f)):
            try:
                with open(os.path.join(out_dir, f)) as fh:
                    m = json.load(fh)
            except (OSError, ValueError):
                continue
            if isinstance(m, dict) and m.get("generator") == "aot":
                files.update(m.get("files", []))
    return files


def _existing(out_dir: str) -> set[str]:
    found = set()
    for root, dirs, names in os.walk(out_dir):
        rel_root = os.path.relpath(root, out_dir)
        if rel_root == ".build" or rel_root.startswith(".build" + os.sep):
            continue
        dirs[:] = [d for d in dirs if not (rel_root == "." and d == ".build")]
        for n in names:
            found.add(os.path.normpath(os.path.join(rel_root, n)).replace(os.sep, "/"))
    return found


def _inside(real_out: str, directory: str) -> bool:
    """Whether `directory`, with every link resolved, is real_out or below it."""
    real = os.path.realpath(directory)
    return real == real_out or real.startswith(real_out + os.sep)


def write_output(out_dir: str, files: dict[str, bytes], force: bool = False) -> None:
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"{out_dir}: exists and is not a directory")
    if os.path.islink(out_dir) and not os.path.exists(out_dir):
        raise UsageError(f"{out_dir}: is a symbolic link to nothing; remove it or name a "
                         f"directory")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    if os.path.isdir(out_dir):
        previous = _previous_files(out_dir)
        foreign = sorted(_existing(out_dir) - previous - set(files))
        if foreign and not force:
            raise UsageError(f"{out_dir} holds files aot did not write ({', '.join(foreign[:3])}"
                             f"{', ...' if len(foreign) > 3 else ''}); use an empty directory "
                             f"or --force (foreign files are kept)")
    else:
        previous = set()
    staging = tempfile.mkdtemp(prefix=".aot-", dir=parent)
    try:
        for rel, data in sorted(files.items()):
            path = os.path.join(staging, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        if not os.path.isdir(out_dir):
            os.rename(staging, out_dir)
            return
        real_out = os.path.realpath(out_dir)
        for rel in sorted(files):   # every destination is checked before anything changes
            dest = os.path.join(out_dir, rel)
            if not _inside(real_out, os.path.dirname(dest)):
                raise UsageError(f"{dest}: its directory is a link out of {out_dir}; refusing")
        for rel in sorted(files):
            dest = os.path.join(out_dir, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if os.path.islink(dest):
                os.unlink(dest)
            os.replace(os.path.join(staging, rel), dest)
        for rel in sorted(previous - set(files)):
            # The manifest is only a claim: remove a stale file only when it is a
            # plain file inside out_dir, reached without '..' or a link.
            stale = os.path.join(out_dir, rel)
            if os.path.isabs(rel) or ".." in rel.replace("\\", "/").split("/") or \
                    not _inside(real_out, os.path.dirname(stale)):
                continue
            if os.path.isfile(stale) and not os.path.islink(stale):
                os.remove(stale)
        shutil.rmtree(os.path.join(out_dir, ".build"), ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
