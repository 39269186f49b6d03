#!/usr/bin/python3
"""The NumPy/SciPy peer of test/bench/ease.sh: EASE as its paper writes it.

What a NumPy/SciPy user would write (Steck 2019's listing): X (users x
items, CSR, binary) from the table's rows, G = X^T X as a sparse product
made dense (float64), lambda added to the diagonal, P = numpy.linalg.inv(G),
B = -P / diag(P) with a zero diagonal; then, to compare with recsys' stored
lists, each item's K largest weights in magnitude (argpartition), best
first by value, ties to the lower item.

Input: the rows of a table through `PSQL... -c "COPY (SELECT user_id,
item_id, rating, clicks ...) TO STDOUT (FORMAT binary)"` (--table T --
PSQL ARGS...); every row counts 1 (recsys trained without a value column).

Prints "key value" lines on stdout:
  rows N / users N / items N
  load_seconds S      COPY + parse + CSR
  gram_seconds S      X^T X, dense, plus lambda I
  inverse_seconds S   numpy.linalg.inv and B
  lists_seconds S     the K largest per item
  peak_rss_bytes N    the process's peak resident set (ru_maxrss)
and with --out FILE writes the lists as a NumPy .npz (item ids, neighbours
as item ids, weights) for test/bench/ease.sh to compare with recsys'.

usage: ease_peer.py --table T [--lambda 500] [--k 200] [--out FILE.npz] -- PSQL ARGS...
"""
import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    from train_peer import parse_copy  # noqa: E402 (same COPY layout)
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True)
    ap.add_argument("--lambda", dest="lam", type=float, default=500.0)
    ap.add_argument("--k", type=int, default=200)
    ap.add_argument("--out")
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
    u, i, _, _ = parse_copy(buf)
    del buf
    uk, u = np.unique(u, return_inverse=True)
    ik, i = np.unique(i, return_inverse=True)
    x = sp.csr_matrix((np.ones(u.size, np.float64), (u, i)),
                      shape=(uk.size, ik.size))
    x.sum_duplicates()
    x.data[:] = 1.0
    n = ik.size
    print("rows %d" % x.nnz)
    print("users %d" % uk.size)
    print("items %d" % n)
    print("load_seconds %.2f" % (time.perf_counter() - t0), flush=True)

    t0 = time.perf_counter()
    g = (x.T @ x).toarray()
    g[np.diag_indices(n)] += a.lam
    print("gram_seconds %.2f" % (time.perf_counter() - t0), flush=True)

    t0 = time.perf_counter()
    p = np.linalg.inv(g)
    del g
    b = p / (-np.diag(p))
    b[np.diag_indices(n)] = 0.0
    del p
    print("inverse_seconds %.2f" % (time.perf_counter() - t0), flush=True)

    # item i's list is column i of B: rows of B^T
    t0 = time.perf_counter()
    k = min(a.k, n - 1)
    bt = np.ascontiguousarray(b.T, dtype=np.float32)
    del b
    part = np.argpartition(-np.abs(bt), k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(bt, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    part = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    print("lists_seconds %.2f" % (time.perf_counter() - t0))
    print("peak_rss_bytes %d"
          % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024), flush=True)
    if a.out:
        np.savez(a.out, items=ik, nbr=ik[part], sim=vals)


if __name__ == "__main__":
    main()
