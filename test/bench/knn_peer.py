#!/usr/bin/python3
"""The SciPy peer of test/bench/knn.sh: item-item cosine neighbours.

What a NumPy/SciPy user would write: X (users x items, CSR, float32) with
each item column scaled to unit L2 norm, then S = Xn^T Xn by sparse
products in blocks of item rows (a whole S of 27k x 27k would be ~6 GB),
each block made dense, the item itself masked, and the K largest per row
kept with argpartition, then sorted (ties to the lower item index, like
recsys).  Same definition as recsys' item_knn with similarity cosine,
shrinkage 0, weighting none (src/core/knn.c).

Input: a binary triplet file (--bin FILE: little-endian int32 user, int32
item, float32 value, the format of test/bench/gen_triplets.py), or the
rows of a table through `PSQL... -c "COPY (SELECT user, item, rating,
clicks ...) TO STDOUT (FORMAT binary)"` (--table T [--column C] -- PSQL
ARGS...; C is rating, clicks or 1 for binary values).

Prints "key value" lines on stdout:
  rows N / users N / items N
  load_seconds S          COPY or file read + parse + CSR (not in compute)
  compute_seconds S       normalise, products, top-K
  peak_rss_bytes N        the process's peak resident set (ru_maxrss)
and with --out FILE writes the lists as a NumPy .npz (item ids in the
input's dense order, neighbours, similarities) for test/bench/knn.sh to
compare with recsys' lists.

usage: knn_peer.py (--bin FILE | --table T [--column C] -- PSQL ARGS...)
                  [--k 50] [--block 1024] [--out FILE.npz]
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


def load_bin(path):
    rec = np.fromfile(path, dtype=[("u", "<i4"), ("i", "<i4"), ("v", "<f4")])
    return rec["u"].astype(np.int64), rec["i"].astype(np.int64), rec["v"]


def load_table(table, column, psql):
    from train_peer import parse_copy  # noqa: E402 (same COPY layout)
    sql = ("COPY (SELECT user_id, item_id, rating, clicks FROM %s) "
           "TO STDOUT (FORMAT binary)" % table)
    buf = subprocess.run(psql + ["-X", "-q", "-c", sql], check=True,
                         stdout=subprocess.PIPE).stdout
    u, i, r, c = parse_copy(buf)
    v = {"rating": r, "clicks": c}.get(column, np.ones(u.size, np.float32))
    return u, i, v.astype(np.float32)


def topk_rows(s, k, first):
    """Rows of a dense block: the k best columns, best first, ties to the
    lower column; the diagonal (column first + row) excluded."""
    rows = np.arange(s.shape[0])
    s[rows, first + rows] = -np.inf
    kk = min(k, s.shape[1] - 1)
    part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
    vals = np.take_along_axis(s, part, axis=1)
    # best first, then the lower index: lexsort's last key is the primary one
    order = np.lexsort((part, -vals), axis=1)
    part = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    return part.astype(np.int32), vals.astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--table")
    ap.add_argument("--column", default="1")
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--out")
    ap.add_argument("psql", nargs=argparse.REMAINDER)
    a = ap.parse_args()

    t0 = time.perf_counter()
    if a.bin:
        u, i, v = load_bin(a.bin)
    else:
        psql = a.psql[1:] if a.psql[:1] == ["--"] else a.psql
        if not a.table or not psql:
            ap.error("give --bin FILE, or --table T and the psql command after --")
        u, i, v = load_table(a.table, a.column, psql)
    uk, u = np.unique(u, return_inverse=True)
    ik, i = np.unique(i, return_inverse=True)
    nu, ni = uk.size, ik.size
    x = sp.csr_matrix((v, (u, i)), shape=(nu, ni), dtype=np.float32)
    x.sum_duplicates()
    n = x.nnz
    del u, i, v
    load = time.perf_counter() - t0
    print("rows %d" % n)
    print("users %d" % nu)
    print("items %d" % ni)
    print("load_seconds %.2f" % load, flush=True)
    print("peer: %d rows, %d users, %d items, load %.1f s" % (n, nu, ni, load),
          file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    xn = (x @ sp.diags(inv.astype(np.float32))).tocsc()
    xt = xn.T.tocsr()                      # items x users
    nbr = np.zeros((ni, min(a.k, ni - 1)), np.int32)
    sim = np.zeros((ni, min(a.k, ni - 1)), np.float32)
    for b0 in range(0, ni, a.block):
        b1 = min(ni, b0 + a.block)
        s = (xt[b0:b1] @ xn).toarray()     # block x items
        nbr[b0:b1], sim[b0:b1] = topk_rows(s, a.k, b0)
        if b0 // a.block % 5 == 0:
            print("peer: %d of %d items, %.1f s" % (b1, ni, time.perf_counter() - t0),
                  file=sys.stderr, flush=True)
    compute = time.perf_counter() - t0
    print("compute_seconds %.2f" % compute)
    print("peak_rss_bytes %d"
          % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024), flush=True)
    if a.out:
        # a similarity of 0 (or -inf: fewer than K items share a user) is
        # no neighbour in recsys
        np.savez(a.out, items=ik, nbr=nbr, sim=sim)


if __name__ == "__main__":
    main()
