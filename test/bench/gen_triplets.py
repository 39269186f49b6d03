#!/usr/bin/python3
"""Synthetic interactions at MovieLens-20M shape, as a binary triplet file.

Writes little-endian (int32 user, int32 item, float32 rating) records, the
format test/core/als_core reads.  Shape: item popularity follows a power
law (Zipf-like over item rank, as MovieLens: a few items with tens of
thousands of ratings, a long tail with a handful), user activity is
heavy-tailed (log-normal, at least 20 ratings per user as in ML-20M), no
user rates an item twice.  Ratings come from a rank-8 model plus noise,
rounded to the 1..5 scale, so the data is not pure noise, but only the
shape matters for timing.

usage: gen_triplets.py OUT [--users N] [--items N] [--nnz N] [--seed S]
"""
import argparse
import sys

import numpy as np


def generate(users, items, nnz, seed):
    rng = np.random.default_rng(seed)
    # user activity: log-normal, floor 20, scaled to about nnz in total
    act = np.exp(rng.normal(0.0, 1.2, users))
    deg = np.maximum(20, act / act.sum() * nnz).astype(np.int64)
    deg = np.minimum(deg, items // 2)
    # item popularity: power law over rank, shuffled over ids
    pop = 1.0 / (np.arange(items) + 20.0) ** 1.1
    pop /= pop.sum()
    perm = rng.permutation(items)
    u = np.repeat(np.arange(users, dtype=np.int64), deg)
    # oversample, drop duplicate pairs, trim to nnz
    i = perm[rng.choice(items, size=u.size, p=pop)]
    key = np.unique(u * items + i)
    extra = nnz - key.size
    while extra > 0:
        u2 = rng.integers(0, users, size=int(extra * 1.2) + 1000)
        i2 = perm[rng.choice(items, size=u2.size, p=pop)]
        key = np.unique(np.concatenate([key, u2 * items + i2]))
        extra = nnz - key.size
    if key.size > nnz:
        key = np.sort(rng.choice(key, size=nnz, replace=False))
    u = (key // items).astype(np.int32)
    i = (key % items).astype(np.int32)
    # ratings from a small planted model, to have plausible values
    k = 8
    pu = rng.normal(0, 0.5, (users, k)).astype(np.float32)
    qi = rng.normal(0, 0.5, (items, k)).astype(np.float32)
    r = np.empty(u.size, np.float32)
    step = 1 << 22
    for s in range(0, u.size, step):
        uu, ii = u[s:s + step], i[s:s + step]
        r[s:s + step] = 3.5 + np.einsum("ij,ij->i", pu[uu], qi[ii]) \
            + rng.normal(0, 0.7, uu.size)
    r = np.clip(np.rint(r), 1, 5).astype(np.float32)
    return u, i, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--users", type=int, default=138493)
    ap.add_argument("--items", type=int, default=26744)
    ap.add_argument("--nnz", type=int, default=20000263)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    u, i, r = generate(a.users, a.items, a.nnz, a.seed)
    rec = np.empty(u.size, dtype=[("u", "<i4"), ("i", "<i4"), ("r", "<f4")])
    rec["u"], rec["i"], rec["r"] = u, i, r
    rec.tofile(a.out)
    ni = np.bincount(i, minlength=a.items)
    nu = np.bincount(u, minlength=a.users)
    print("wrote %s: %d users, %d items, %d interactions; "
          "max per item %d, max per user %d, median per user %d"
          % (a.out, (nu > 0).sum(), (ni > 0).sum(), u.size, ni.max(),
             nu.max(), np.median(nu)), file=sys.stderr)


if __name__ == "__main__":
    main()
