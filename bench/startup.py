"""Start-up time of the command line and of ``import thermochip``, warm (after one run), as
whole processes; and which heavy libraries each loads (none should load scipy, numba, h5py,
matplotlib or Dask).

    python bench/startup.py            # 10 runs each; target: thermochip --help <= 0.3 s
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("scipy", "numba", "h5py", "matplotlib", "dask", "distributed")
CASES = {
    "thermochip --help": [sys.executable, "-m", "thermochip", "--help"],
    "import thermochip": [sys.executable, "-c", "import thermochip"],
}
PROBE = ("import sys\nfrom thermochip.cli import build_parser\nbuild_parser()\n"
         "print(','.join(m for m in {heavy} if m in sys.modules))")


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    for name, cmd in CASES.items():
        timed(cmd)  # warm: the OS file cache, Python's bytecode cache
        times = [timed(cmd) for _ in range(args.runs)]
        print(f"{name:20s} min {min(times):.3f} s, median {statistics.median(times):.3f} s "
              f"over {args.runs} runs")
    loaded = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY)],
                            capture_output=True, text=True, check=True).stdout.strip()
    print(f"heavy libraries loaded by thermochip --help: {loaded or 'none'}")


if __name__ == "__main__":
    main()
