#!/usr/bin/python3
"""The NumPy/SciPy peer of test/bench/train.sh, on the rows of a table.

Runs `PSQL... -c "COPY (SELECT user, item, rating, clicks FROM TABLE) TO
STDOUT (FORMAT binary)"`, parses the stream with numpy.frombuffer and a
structured dtype, maps the keys to dense ids and builds the CSR matrices by
user and by item (that is the peer's "load"), then trains the same
algorithms as recsys in test/ref/mfref.py (warm-started CG, float32):

  als   on rating: biases + weighted-lambda, the recsys defaults
        (factors 64, regularization 0.05, bias_regularization 0.05,
        cg_steps 3, init_std 0.1)
  ials  on clicks: confidence 1 + alpha * clicks, the recsys defaults
        before 0.3.0, which train.sh gives recsys explicitly
        (factors 64, alpha 2, regularization 20, cg_steps 3, init_std 0.01)
  nmf   on rating: r^ = p_u.q_i, p, q >= 0, weighted lambda 0.1, by the
        multiplicative updates of Lee and Seung restricted to the observed
        ratings (the rule of Surprise's NMF): another algorithm than
        recsys's exact alternating nonnegative least squares, with cheaper
        iterations (O(nnz k) against O(nnz k^2)) that make less progress
        each; vectorised with SciPy sparse products and blocked gathers

Initial factors come from NumPy's generator (mfref.init_factors, the port
of recsys' own generator, is pure Python and far too slow at this size);
the cost of an iteration does not depend on the starting point.

Prints, on stdout, lines "key value":
  rows N / users N / items N
  load_seconds S            COPY + parse + dense ids + both CSR matrices
  als_seconds_per_iteration S   (median over the iterations)
  ials_seconds_per_iteration S
  nmf_seconds_per_iteration S
  peak_rss_bytes N          the process's peak resident set (ru_maxrss)

usage: train_peer.py [--table T] [--iterations N] [--factors K]
                              [--algorithms als,ials,nmf] -- PSQL ARGS...
"""
import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "ref"))
import mfref  # noqa: E402


class IterationTimer:
    """A training's callback: the seconds of each iteration in times, each
    logged on stderr as label % (iteration, seconds), from start() on."""

    def __init__(self, label):
        self.label = label
        self.times = []
        self.start()

    def start(self):
        self.last = time.perf_counter()

    def __call__(self, it):
        now = time.perf_counter()
        self.times.append(now - self.last)
        print(self.label % (it + 1, self.times[-1]), file=sys.stderr,
              flush=True)
        self.last = now


def train_cg(algo, R, Rt, k, iterations, params, X, Y, callback):
    """test/ref/mfref.py's als or ials as recsys trains by default: from
    the factors X and Y, conjugate gradient of 3 steps, in float32; params
    are (lam, lam_b, init_std) for als and (alpha, lam, init_std) for
    ials, as mfref takes them (then seed 1)."""
    if algo == "ials":
        mfref.ials_train(R, Rt, k, iterations, *params, 1,
                         solver="cg", steps=3, dtype=np.float32,
                         X=X, Y=Y, callback=callback)
    else:
        mfref.als_train(R, Rt, k, iterations, *params, 1,
                        solver="cg", steps=3, dtype=np.float32,
                        P=X, Q=Y, callback=callback)


def nmf_mu_half(R, X, Y, lam, block_nnz=1 << 21):
    """One multiplicative update of every row of X (in place) given Y:
    X *= (R Y) / (E Y + lam n X), E the predictions x_u.y_i on R's
    pattern."""
    import scipy.sparse as sp
    est = np.empty(R.nnz, np.float32)
    rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
    for lo in range(0, R.nnz, block_nnz):
        hi = min(lo + block_nnz, R.nnz)
        est[lo:hi] = np.einsum("ij,ij->i", X[rows[lo:hi]], Y[R.indices[lo:hi]])
    E = sp.csr_matrix((est, R.indices, R.indptr), shape=R.shape)
    n = np.diff(R.indptr).astype(np.float32)
    num = R @ Y
    den = E @ Y + lam * n[:, None] * X
    X *= num / np.maximum(den, 1e-12)


def train_nmf(R, Rt, iterations, lam, X, Y, callback):
    for it in range(iterations):
        nmf_mu_half(R, X, Y, lam)
        nmf_mu_half(Rt, Y, X, lam)
        callback(it)


SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# one tuple: int16 field count, then (int32 length, value) per field;
# everything big-endian (user int4, item int4, rating float4, clicks int4)
TUPLE = np.dtype([("n", ">i2"),
                  ("lu", ">i4"), ("u", ">i4"),
                  ("li", ">i4"), ("i", ">i4"),
                  ("lr", ">i4"), ("r", ">f4"),
                  ("lc", ">i4"), ("c", ">i4")])


def parse_copy(buf):
    if not buf.startswith(SIGNATURE):
        sys.exit("not a binary COPY stream")
    ext = int.from_bytes(buf[15:19], "big")
    off = 19 + ext
    body = len(buf) - off - 2           # trailer: int16 -1
    if body % TUPLE.itemsize or buf[-2:] != b"\xff\xff":
        sys.exit("unexpected COPY layout (NULLs or other column types?)")
    rec = np.frombuffer(buf, TUPLE, count=body // TUPLE.itemsize, offset=off)
    if rec.size and not ((rec["n"] == 4).all() and (rec["lu"] == 4).all()
                         and (rec["li"] == 4).all() and (rec["lr"] == 4).all()
                         and (rec["lc"] == 4).all()):
        sys.exit("unexpected tuple layout (NULLs?)")
    return (rec["u"].astype(np.int64), rec["i"].astype(np.int64),
            rec["r"].astype(np.float32), rec["c"].astype(np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", default="ml")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--algorithms", default="als,ials,nmf")
    ap.add_argument("psql", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    psql = a.psql[1:] if a.psql[:1] == ["--"] else a.psql
    if not psql:
        ap.error("give the psql command after --")

    t0 = time.perf_counter()
    sql = ("COPY (SELECT user_id, item_id, rating, clicks FROM %s) "
           "TO STDOUT (FORMAT binary)" % a.table)
    buf = subprocess.run(psql + ["-X", "-q", "-c", sql], check=True,
                         stdout=subprocess.PIPE).stdout
    t_copy = time.perf_counter() - t0
    u, i, r, c = parse_copy(buf)
    del buf
    uk, u = np.unique(u, return_inverse=True)
    ik, i = np.unique(i, return_inverse=True)
    nu, ni = uk.size, ik.size
    R, Rt = mfref.csr_pair(u, i, r, nu, ni)
    R.data = R.data.astype(np.float32)
    Rt.data = Rt.data.astype(np.float32)
    C, Ct = mfref.csr_pair(u, i, c, nu, ni)
    C.data = C.data.astype(np.float32)
    Ct.data = Ct.data.astype(np.float32)
    n = u.size
    del u, i, r, c
    load = time.perf_counter() - t0
    print("rows %d" % n)
    print("users %d" % nu)
    print("items %d" % ni)
    print("copy_seconds %.2f" % t_copy)
    print("load_seconds %.2f" % load, flush=True)
    print("peer: %d rows, %d users, %d items; COPY %.1f s, load %.1f s"
          % (n, nu, ni, t_copy, load), file=sys.stderr, flush=True)

    rng = np.random.default_rng(1)
    k = a.factors
    for algo in a.algorithms.split(","):
        if algo not in ("ials", "als", "nmf"):
            sys.exit("unknown algorithm %s" % algo)
        tick = IterationTimer("peer " + algo + " iteration %d: %.2f s")
        # the initial factors: iALS at scale 0.01, ALS at 0.1
        scale = 0.01 if algo == "ials" else 0.1
        X = rng.normal(0, scale, (nu, k)).astype(np.float32)
        Y = rng.normal(0, scale, (ni, k)).astype(np.float32)
        tick.start()
        if algo == "nmf":
            np.abs(X, out=X)
            np.abs(Y, out=Y)
            tick.start()
            train_nmf(R, Rt, a.iterations, 0.1, X, Y, tick)
        elif algo == "ials":
            train_cg(algo, C, Ct, k, a.iterations, (2.0, 20.0, 0.01),
                     X, Y, tick)
        else:
            train_cg(algo, R, Rt, k, a.iterations, (0.05, 0.05, 0.1),
                     X, Y, tick)
        print("%s_seconds_per_iteration %.3f"
              % (algo, float(np.median(tick.times))), flush=True)
    # ru_maxrss is in kB on Linux
    print("peak_rss_bytes %d"
          % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))


if __name__ == "__main__":
    main()
