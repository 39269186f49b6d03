#!/usr/bin/python3
"""The NumPy/SciPy peer of test/bench/train_core.sh: the same algorithms
as src/core/als.c and src/core/ials.c (warm-started CG, 3 steps, float32) in
test/ref/mfref.py, vectorised over blocks of entities, timed on the same
triplet file.  Prints "<algo> seconds_per_iteration S".

usage: train_core_peer.py TRIPLETS [--iterations N] [--factors K]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "ref"))
import mfref  # noqa: E402
from train_peer import IterationTimer, train_cg  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("triplets")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--algorithms", default="ials,als")
    a = ap.parse_args()
    u, i, r = mfref.read_triplets(a.triplets)
    nu, ni = int(u.max()) + 1, int(i.max()) + 1
    R, Rt = mfref.csr_pair(u, i, r, nu, ni)
    R.data = R.data.astype(np.float32)
    Rt.data = Rt.data.astype(np.float32)
    rng = np.random.default_rng(1)
    k = a.factors
    for algo in a.algorithms.split(","):
        X = rng.normal(0, 0.01, (nu, k)).astype(np.float32)
        Y = rng.normal(0, 0.01, (ni, k)).astype(np.float32)
        tick = IterationTimer(algo + " iter %d seconds %.2f")

        if algo == "ials":
            train_cg(algo, R, Rt, k, a.iterations, (1.0, 0.1, 0.01),
                     X, Y, tick)
        else:
            train_cg(algo, R, Rt, k, a.iterations, (0.05, 0.05, 0.1),
                     X * 10, Y * 10, tick)
        print("%s seconds_per_iteration %.4f" % (algo, np.mean(tick.times)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
