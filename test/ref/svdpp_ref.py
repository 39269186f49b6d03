#!/usr/bin/env python3
"""Reference checks for the svdpp core (src/core/svdpp.c, Koren's SVD++).

1. Exact replay.  A straightforward NumPy SGD in float64, with the initial
   factors and each epoch's visiting order re-derived from the seed by the
   independent transcription of rng.h in test/ref/mfref.py and the scheme
   documented at the top of svdpp.c: users in a shuffled order, each user's
   ratings shuffled (forward Fisher-Yates fused with training), the
   implicit part z = |N(u)|^-1/2 sum y_j held through the user's ratings,
   the y_j of the user's items moved once at the user's end by the summed
   gradient with the penalty taken implicitly.  Three data sets: a tiny one
   with biases, the same without biases and mu, and a 300 x 200 one at 16
   factors.  Per-epoch losses and final predictions (mu + b_u + b_i + q_i .
   (p_u + z_u)) are printed (the committed expected output) and, with
   --driver, the C core must match them to 1e-5.

2. Planted structure (needs --driver).  The ratings of svd_ref.py's
   planted set (rank 5, sigma 0.5, 10% held out): the C core with its
   defaults must reach a held-out RMSE within 10% of sigma and below 0.8 x
   the bias-only baseline.

Run:  make -C test/core check    (or: /usr/bin/python3 test/ref/svdpp_ref.py --driver test/core/sgd_core)
"""
import argparse
import math
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core"))
import sgd_core  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mfref  # noqa: E402
from svd_ref import TINY, planted_data, SIGMA, shuffle  # noqa: E402

TINY_PARAMS = dict(factors=3, iterations=8, lr=0.05, reg=0.05, reg_b=0.02,
                   init_std=0.3, seed=12345)
TINY_NOBIAS0_PARAMS = dict(factors=3, iterations=8, lr=0.05, reg=0.05,
                           init_std=0.3, seed=12345, biases=0, global_mean=0)
MID_PARAMS = dict(factors=16, iterations=3, lr=0.01, reg=0.03, reg_b=0.01,
                  init_std=0.1, seed=7)
PLANTED_PARAMS = dict(seed=42)


def mid_data():
    g = np.random.default_rng(3)
    keys = np.unique(g.integers(0, 300 * 200, 6000))
    return [(int(k // 200), int(k % 200), int(g.integers(1, 6))) for k in keys] + [(299, 199, 4)]


def reference_svdpp(data, factors, iterations, lr, reg, init_std, seed, reg_b=0.0,
                    biases=1, global_mean=1):
    """SVD++ by the SGD documented in src/core/svdpp.c; returns (losses, pred)."""
    k = factors
    n_users = max(u for u, _, _ in data) + 1
    n_items = max(i for _, i, _ in data) + 1
    ratings = sorted(data)                       # user-major, items ascending
    rows = [[] for _ in range(n_users)]
    for u, i, r in ratings:
        rows[u].append((i, float(r)))
    slots = [list(range(len(rows[u]))) for u in range(n_users)]
    mu = float(np.mean([r for _, _, r in ratings])) if global_mean else 0.0
    P = mfref.init_factors(n_users, k, init_std, seed, 1 << 32)
    Q = mfref.init_factors(n_items, k, init_std, seed, 2 << 32)
    Y = mfref.init_factors(n_items, k, init_std, seed, 4 << 32)
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    n_i = np.bincount([i for _, i, _ in ratings], minlength=n_items)
    rng = mfref.RsRng(seed, 3 << 32)
    order = list(range(n_users))

    def implicit(u):
        items = [i for i, _ in rows[u]]
        return Y[items].sum(0) / math.sqrt(len(items)) if items else np.zeros(k)

    losses = []
    for _ in range(iterations):
        shuffle(order, rng)
        for u in order:
            n = len(rows[u])
            if n == 0:
                continue
            s = 1.0 / math.sqrt(n)
            z = implicit(u)
            g = np.zeros(k)
            sl = slots[u]
            for t in range(n):
                j = t + rng.below(n - t)
                sl[t], sl[j] = sl[j], sl[t]
                i, r = rows[u][sl[t]]
                x = P[u] + z
                e = r - (mu + bu[u] + bi[i] + Q[i] @ x)
                if biases:
                    bu[u] += lr * (e - reg_b * bu[u])
                    bi[i] += lr * (e - reg_b * bi[i])
                qold = Q[i].copy()
                Q[i] += lr * (e * x - reg * Q[i])
                P[u] += lr * (e * qold - reg * P[u])
                g += e * qold
            items = [i for i, _ in rows[u]]
            Y[items] = (Y[items] + lr * s * g) / (1.0 + lr * reg * n)
        sse = 0.0
        regular = 0.0
        for u in range(n_users):
            if not rows[u]:
                continue
            x = P[u] + implicit(u)
            items = [i for i, _ in rows[u]]
            for i, r in rows[u]:
                sse += (r - (mu + bu[u] + bi[i] + Q[i] @ x)) ** 2
            regular += len(items) * (reg_b * bu[u] ** 2 + reg * (P[u] @ P[u] + (Y[items] ** 2).sum()))
        regular += n_i @ (reg_b * bi ** 2 + reg * (Q ** 2).sum(1))
        losses.append((sse + regular) / len(ratings))
    X = np.array([P[u] + implicit(u) for u in range(n_users)])
    pred = mu + bu[:, None] + bi[None, :] + X @ Q.T
    return losses, pred


def check_replay(driver, tmp, name, data, params, show_pred):
    losses, pred = reference_svdpp(data, **params)
    print("# replay %s: %d ratings, %s" % (name, len(data), " ".join("%s=%s" % kv for kv in params.items())))
    for e, l in enumerate(losses):
        print("loss %d %.6f" % (e + 1, l))
    if show_pred:
        for u in range(pred.shape[0]):
            print("pred %d %s" % (u, " ".join("%.6f" % v for v in pred[u])))
    else:
        print("pred checksum %.2f" % pred.sum())
    if driver is None:
        return True
    path = os.path.join(tmp, name + ".txt")
    sgd_core.write_triplets(path, *zip(*data))
    md, _ = sgd_core.run(driver, "svdpp", path, **params)
    ub = md.user_bias if md.user_bias is not None else 0.0
    cpred = md.global_mean + ub[:, None] + md.item_bias[None, :] + md.user_factors @ md.item_factors.T
    dl = np.max(np.abs(np.array(md.loss) - np.array(losses)))
    dp = np.max(np.abs(cpred - pred))
    print("replay %s: max |loss diff| %.2e, max |prediction diff| %.2e" % (name, dl, dp), file=sys.stderr)
    ok = len(md.loss) == len(losses) and dl < 1e-5 and dp < 1e-5
    print("%s: C core matches the reference to 1e-5 (losses and all predictions)" % ("ok" if ok else "FAIL"))
    return ok


def rmse_of(md, u, i, y):
    pred = md.global_mean + md.user_bias[u] + md.item_bias[i] + \
        (md.user_factors[u] * md.item_factors[i]).sum(1)
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def check_planted(driver, tmp):
    u, i, y, test = planted_data()
    print("# planted: svd_ref.py's set, 10%% held out; svdpp defaults, %s" %
          " ".join("%s=%s" % kv for kv in PLANTED_PARAMS.items()))
    path = os.path.join(tmp, "planted.txt")
    sgd_core.write_triplets(path, u[~test], i[~test], y[~test])
    md, _ = sgd_core.run(driver, "svdpp", path, **PLANTED_PARAMS)
    rmse = rmse_of(md, u[test], i[test], y[test])
    bmd, _ = sgd_core.run(driver, "svd", path, factors=1, init_std=0, iterations=40,
                          lr=0.01, reg=0.05, reg_b=0.02, seed=42)
    base = rmse_of(bmd, u[test], i[test], y[test])
    print("planted: held-out RMSE svdpp %.4f, bias-only %.4f, sigma %.2f" % (rmse, base, SIGMA),
          file=sys.stderr)
    ok1 = rmse <= 1.1 * SIGMA
    ok2 = rmse < 0.8 * base
    print("%s: held-out RMSE within 10%% of sigma" % ("ok" if ok1 else "FAIL"))
    print("%s: held-out RMSE below 0.8 x the bias-only baseline" % ("ok" if ok2 else "FAIL"))
    return ok1 and ok2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", help="path to test/core/sgd_core; without it only the reference runs")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ok = check_replay(a.driver, tmp, "tiny", TINY, TINY_PARAMS, True)
        ok = check_replay(a.driver, tmp, "tiny_nobias0", TINY, TINY_NOBIAS0_PARAMS, True) and ok
        ok = check_replay(a.driver, tmp, "mid", mid_data(), MID_PARAMS, False) and ok
        if a.driver:
            ok = check_planted(a.driver, tmp) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
