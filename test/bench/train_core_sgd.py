#!/usr/bin/env python3
"""Speed of the svd, bpr and popularity cores at MovieLens-20M shape.

Generates (once, cached) a binary triplet file with 138,493 users, 26,744
items and 20,000,000 distinct interactions: item popularity Zipf-like
(exponent 1.0 over the item rank), user activity lognormal with at least 20
ratings per user (as in ML-20M), ratings 1..5.  Then times a few epochs of
svd and bpr at 64 factors, and popularity, through the sgd_core driver (test/core), and
prints seconds per epoch.

Run:  make -C test/core bench   (or /usr/bin/python3 test/bench/train_core_sgd.py --driver test/core/sgd_core)
"""
import argparse
import os
import re
import subprocess

import numpy as np

USERS, ITEMS, NNZ = 138493, 26744, 20_000_000


def generate(path, seed=1):
    g = np.random.default_rng(seed)
    item_w = 1.0 / np.arange(1, ITEMS + 1) ** 1.0
    item_p = item_w / item_w.sum()
    act = np.exp(g.normal(0, 1.0, USERS))
    act = act / act.sum() * (NNZ * 1.15)
    act = np.maximum(act, 20)
    # Draw more pairs than needed, keep distinct ones, subsample to NNZ.
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < NNZ:
        n = int((NNZ - len(keys)) * 1.3) + 1000
        u = g.choice(USERS, n, p=act / act.sum())
        i = g.choice(ITEMS, n, p=item_p)
        keys = np.unique(np.concatenate([keys, u.astype(np.int64) * ITEMS + i]))
    keys = g.permutation(keys)[:NNZ]
    rec = np.zeros(NNZ, dtype=[("u", "<i4"), ("i", "<i4"), ("r", "<f4")])
    rec["u"] = keys // ITEMS
    rec["i"] = keys % ITEMS
    rec["r"] = g.integers(1, 6, NNZ).astype(np.float32)
    rec.tofile(path)


def timed(driver, algo, path, **params):
    args = [driver, algo, path] + ["%s=%s" % kv for kv in params.items()]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    epochs = [float(m.group(1)) for m in re.finditer(r"^loss \d+ \S+ (\S+)$", out, re.M)]
    load = re.search(r"^data (\d+) (\d+) (\d+) (\S+)", out, re.M)
    train = re.search(r"^train (\S+) alloc_mb (\S+)", out, re.M)
    return epochs, load, float(train.group(1)), float(train.group(2)), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--data", default="/tmp/recsys_ml20m_shape.bin")
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    if not os.path.exists(a.data):
        print("generating %s ..." % a.data, flush=True)
        generate(a.data)
    for algo, params in [("svd", dict(factors=64, iterations=a.epochs)),
                         ("bpr", dict(factors=64, iterations=a.epochs)),
                         ("popularity", dict())]:
        epochs, load, train, mb, out = timed(a.driver, algo, a.data, **params)
        if algo == "svd":
            print("data: %s users, %s items, %s interactions; driver load %s s"
                  % load.groups())
        if epochs:
            print("%-10s 64 factors: %.2f s/epoch (epochs: %s), core memory %.0f MB, losses %s"
                  % (algo, float(np.mean(epochs)), " ".join("%.2f" % e for e in epochs), mb,
                     " ".join(m for m in re.findall(r"^loss \d+ (\S+)", out, re.M))))
        else:
            print("%-10s %.3f s total" % (algo, train))


if __name__ == "__main__":
    main()
