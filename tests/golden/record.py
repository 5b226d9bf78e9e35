"""Golden outputs: what the command line writes for fixed specs and seeds, compared bit for bit
by ``tests/test_golden.py``. They pin behaviour through refactors; a deliberate change of
numbers re-records them in a commit of its own that says why:

    python tests/golden/record.py tests/golden/golden.npz

Floating-point results depend on the CPU (numba compiles for the host's vector width; OpenBLAS
and numpy pick kernels by CPU), so the cases run in a child process pinned to portable code
paths: numba's generic x86-64 target, one OpenBLAS core type, numpy's baseline SIMD. The same
bits then come out on any x86-64 machine with the recorded library versions.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXAMPLES = ROOT / "examples"

#: (case, command line); every path is absolute, the output is written in the work folder.
CASES = [
    ("sim_maxcut", ["simulate", EXAMPLES / "oim_maxcut.yaml", "--steps", "600",
                    "--replicas", "8"]),
    ("sim_maxcut_batched", ["simulate", EXAMPLES / "oim_maxcut.yaml", "--steps", "150",
                            "--replicas", "256", "--seed", "7"]),
    ("sim_sampler", ["simulate", EXAMPLES / "softspin_sampler.yaml", "--steps", "800",
                     "--replicas", "6"]),
    ("sim_delay", ["simulate", EXAMPLES / "oim_delay.yaml", "--steps", "500",
                   "--replicas", "4"]),
    ("run_quickstart", ["run", EXAMPLES / "quickstart.yaml", "--epochs", "2"]),
    ("run_asymep", ["run", HERE / "asymep.yaml"]),
    ("run_dyadic", ["run", HERE / "dyadic.yaml"]),
    ("run_om", ["run", HERE / "om.yaml"]),
    ("run_softspin_ep", ["run", HERE / "softspin_ep.yaml"]),
    ("eval_quickstart", ["run", EXAMPLES / "quickstart.yaml", "--couplings",
                         "run_quickstart.h5", "--eval-only"]),
]
#: Results files whose codes are exported in every format.
EXPORTED = ("run_quickstart", "sim_maxcut", "run_dyadic")
FORMATS = ("h5", "hex", "c", "csv", "json")
#: What a results file holds that is not a result of the simulation (wall-clock times).
TIMING_ATTRS = {"seconds", "wall_seconds", "summary", "effective_samples_per_second"}
TIMING_DATASETS = {"/learning_curve/seconds"}
#: Arrays larger than this are kept as their SHA-256 (the file stays small); smaller ones as
#: they are, so a failing comparison can show the numbers.
MAX_STORED = 2048
#: Libraries whose versions the bits depend on.
LIBRARIES = ("numpy", "scipy", "numba", "h5py")


def portable_env() -> dict[str, str]:
    """Environment that pins numba, OpenBLAS and numpy to code paths every x86-64 CPU runs."""
    env = dict(os.environ, NUMBA_CPU_NAME="generic",
               OPENBLAS_CORETYPE="Nehalem", OPENBLAS_NUM_THREADS="1",
               THERMOCHIP_GOLDEN_CHILD="1")
    with contextlib.suppress(ImportError):
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
        found = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(found)
    return env


def versions() -> dict[str, str]:
    import importlib.metadata as md
    return {name: md.version(name) for name in LIBRARIES}


def _h5_entries(path: Path, case: str) -> dict[str, np.ndarray]:
    """Every dataset and attribute of an HDF5 file, timing excluded, keyed ``case:/path`` and
    ``case:/path@attr``."""
    import h5py

    out = {}

    def value(v) -> np.ndarray:
        if isinstance(v, (bytes, str)):
            v = v.encode() if isinstance(v, str) else v
            return np.frombuffer(v, dtype=np.uint8)
        a = np.asarray(v)
        if a.dtype.kind == "O":  # variable-length strings
            return np.frombuffer(b"\0".join(x if isinstance(x, bytes) else str(x).encode()
                                           for x in a.ravel()), dtype=np.uint8)
        return a

    def attrs(name: str, obj) -> None:
        for key, v in obj.attrs.items():
            if key not in TIMING_ATTRS:
                out[f"{case}:{name}@{key}"] = value(v)

    def visit(name: str, obj) -> None:
        full = "/" + name
        attrs(full, obj)
        if isinstance(obj, h5py.Dataset) and full not in TIMING_DATASETS:
            out[f"{case}:{full}"] = value(obj[()])

    with h5py.File(path, "r") as f:
        attrs("/", f)
        f.visititems(visit)
    return dict(_stored(key, a) for key, a in out.items())


def _stored(key: str, a: np.ndarray) -> tuple[str, np.ndarray]:
    """(key, array), or (key#sha256, its digest) for a large array."""
    return (key, a) if a.size <= MAX_STORED else (key + "#sha256", _digest(a))


def _digest(a: np.ndarray) -> np.ndarray:
    """SHA-256 of an array's dtype, shape and bytes."""
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return np.frombuffer(h.digest(), np.uint8)


def _file_digests(path: Path, key: str) -> dict[str, np.ndarray]:
    """SHA-256 of a file, or of every file of a folder, keyed ``key/name``."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return {f"{key}/{p.name}": np.frombuffer(hashlib.sha256(p.read_bytes()).digest(), np.uint8)
            for p in files}


def compute(work: Path) -> dict[str, np.ndarray]:
    """Run every case in ``work``; return the golden entries."""
    from thermochip.cli import main

    out = {f"version:{k}": np.frombuffer(v.encode(), np.uint8) for k, v in versions().items()}
    os.chdir(work)
    for case, argv in CASES:
        argv = [str(a) for a in argv] + ["--out", f"{case}.h5"]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            status = main(argv)
        if status != 0:
            raise SystemExit(f"golden case {case} exited {status}: thermochip {' '.join(argv)}")
        out.update(_h5_entries(work / f"{case}.h5", case))
    for case in EXPORTED:
        for fmt in FORMATS:
            name = f"export_{case}" + ("" if fmt in ("hex", "csv") else f".{fmt}")
            target = work / fmt / name
            with contextlib.redirect_stdout(io.StringIO()):
                status = main(["export", f"{case}.h5", "--format", fmt, "--out", str(target)])
            if status != 0:
                raise SystemExit(f"golden export {case} {fmt} exited {status}")
            out.update(_file_digests(target, f"export:{case}:{fmt}"))
    return out


def record(out: Path) -> None:
    """Compute the golden entries in a portable child process and write them to ``out``."""
    out = Path(out).resolve()
    subprocess.run([sys.executable, __file__, str(out)], env=portable_env(), check=True)


if __name__ == "__main__":
    target = Path(sys.argv[1]).resolve()
    if os.environ.get("THERMOCHIP_GOLDEN_CHILD") != "1":
        record(target)
    else:
        import tempfile
        with tempfile.TemporaryDirectory(prefix="thermochip-golden-") as tmp:
            entries = compute(Path(tmp))
        np.savez_compressed(target, **entries)
