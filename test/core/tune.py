#!/usr/bin/env python3
"""How the recommended svd and bpr defaults were chosen.

MovieLens-like synthetic data (Zipf item popularity, lognormal user activity,
sparse): explicit ratings = 3.5 + b_u + b_i + p_u.q_i (rank 10) + N(0, 0.5^2)
clipped to [1, 5].  For bpr, the planted-cluster data of test/ref/bpr_ref.py.  Split 80/10/10 into train /
validation / test.  A small grid is trained on train, the best setting picked
on validation (RMSE for svd, hit rate@10 on one held-out item per user for
bpr) and reported on test.

Run:  make -C test/core tune   (or: /usr/bin/python3 test/core/tune.py --driver test/core/sgd_core;
a few minutes)
"""
import argparse
import itertools
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sgd_core  # noqa: E402

U, I, R, NNZ = 3000, 1500, 10, 150_000


def data():
    g = np.random.default_rng(8)
    pop = 1.0 / np.arange(1, I + 1) ** 0.9
    act = np.exp(g.normal(0, 0.8, U))
    u = g.choice(U, int(NNZ * 1.2), p=act / act.sum())
    i = g.choice(I, int(NNZ * 1.2), p=pop / pop.sum())
    keys = np.unique(u.astype(np.int64) * I + i)
    u, i = keys // I, keys % I
    p = g.normal(0, R ** -0.25, (U, R)) * 0.8
    q = g.normal(0, R ** -0.25, (I, R)) * 0.8
    y = 3.5 + g.normal(0, 0.3, U)[u] + g.normal(0, 0.3, I)[i] + (p[u] * q[i]).sum(1) \
        + g.normal(0, 0.5, len(u))
    y = np.clip(y, 1, 5)
    part = g.random(len(u))
    return u, i, y, part


def rmse(md, u, i, y):
    pred = md.global_mean + md.user_bias[u] + md.item_bias[i] + \
        (md.user_factors[u] * md.item_factors[i]).sum(1)
    return float(np.sqrt(np.mean((y - np.clip(pred, 1, 5)) ** 2)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    a = ap.parse_args()
    u, i, y, part = data()
    tr, va, te = part < 0.8, (part >= 0.8) & (part < 0.9), part >= 0.9
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.txt")
        sgd_core.write_triplets(path, u[tr], i[tr], y[tr])
        print("svd: %d train ratings, %d users, %d items" % (tr.sum(), U, I))
        res = []
        for lr, reg, it in itertools.product([0.005, 0.01, 0.02], [0.02, 0.05, 0.1], [20, 40]):
            md, _ = sgd_core.run(a.driver, "svd", path, factors=64, iterations=it, lr=lr,
                              reg=reg, reg_b=0.02, init_std=0.1, users=U, items=I)
            res.append((rmse(md, u[va], i[va], y[va]), lr, reg, it, rmse(md, u[te], i[te], y[te])))
            print("  lr %.3f reg %.2f epochs %d: validation RMSE %.4f" % (lr, reg, it, res[-1][0]),
                  flush=True)
        best = min(res)
        print("svd best: lr %.3f reg %.2f epochs %d, validation %.4f, test %.4f (noise sd 0.5)"
              % (best[1], best[2], best[3], best[0], best[4]))

        # bpr: the planted-cluster data of test/ref/bpr_ref.py (the pairs
        # above carry no preference signal, only popularity); held-out items
        # of even users validate, of odd users test.
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
        import bpr_ref
        bu_, bi_, held, n_items = bpr_ref.planted_data()
        sgd_core.write_triplets(path, bu_, bi_, np.ones(len(bu_)))
        n = len(held)
        even = np.arange(n) % 2 == 0

        def hr(md, sel):
            s_ = md.user_factors @ md.item_factors.T + md.item_bias[None, :]
            s_[bu_, bi_] = -np.inf
            top = np.argsort(-s_, axis=1)[:, :10]
            hits = np.array([held[r] in top[r] for r in range(n)])
            return float(hits[sel].mean())

        pop, _ = sgd_core.run(a.driver, "popularity", path, items=n_items)
        pop.user_factors = np.zeros((n, 0))
        print("bpr: popularity HR@10 validation %.3f test %.3f" % (hr(pop, even), hr(pop, ~even)))
        res = []
        for lr, reg, it in itertools.product([0.01, 0.05, 0.1], [0.0001, 0.001, 0.01], [20, 50]):
            md, _ = sgd_core.run(a.driver, "bpr", path, factors=64, iterations=it, lr=lr, reg=reg,
                              init_std=0.1, items=n_items)
            res.append((hr(md, even), lr, reg, it, hr(md, ~even)))
            print("  lr %.3f reg %.4f epochs %d: validation HR@10 %.3f" % (lr, reg, it, res[-1][0]),
                  flush=True)
        best = max(res)
        print("bpr best: lr %.3f reg %.4f epochs %d, validation HR@10 %.3f, test %.3f"
              % (best[1], best[2], best[3], best[0], best[4]))

if __name__ == "__main__":
    main()
