"""Ion text: reading one long token, with qldb-dr's repair of amazon.ion and without it
(not a test; run on demand):

    python -m benchmarks.ion_text

The baseline is amazon.ion 0.9.3 as published, measured in a child process that does not
import qldb-dr. Linear reading takes 8x the time for 8x the token; quadratic, 64x.
"""

from __future__ import annotations

import subprocess
import sys
import time

SIZES = (100_000, 800_000)

_MEASURE = """
import sys, time
from amazon.ion import simpleion
for n in map(int, sys.argv[1:]):
    data = b'"' + b"a" * n + b'"'
    start = time.perf_counter()
    simpleion.loads(data)
    print(time.perf_counter() - start)
"""


def measured(repaired: bool) -> list[float]:
    script = ("import qldb_dr.ion\n" if repaired else "") + _MEASURE
    out = subprocess.run([sys.executable, "-c", script, *map(str, SIZES)], capture_output=True, text=True, check=True)
    return [float(line) for line in out.stdout.split()]


def main() -> None:
    started = time.perf_counter()
    repaired, published = measured(True), measured(False)
    small, large = SIZES
    print(f"one string token of {small:,} and {large:,} characters ({large // small}x)")
    for name, (a, b) in (("qldb-dr (repaired)", repaired), ("amazon.ion 0.9.3", published)):
        print(f"  {name:<20} {a:6.2f} s {b:7.2f} s   growth {b / a:5.1f}x")
    speedup = published[1] / repaired[1]
    print(f"  at {large:,} characters: {speedup:.1f}x faster (ran {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
