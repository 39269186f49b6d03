#!/usr/bin/env python3
"""Reference checks for the bpr core (src/core/bpr.c).  Needs --driver.

1. Gradient check.  One user with one positive among five items, so one epoch
   (samples=1) is exactly one SGD step.  The C model before (iterations=0)
   and after (iterations=1) the step must differ by the analytic BPR update
   (with item biases) computed here from the "before" values; the negative j
   is read off as the one other item whose parameters moved.  The reported
   loss must equal -ln sigma(x) plus the documented regulariser.

2. Planted structure.  2000 users x 500 items in 10 clusters of 50; each user
   has a favourite cluster and draws 80% of its 10-40 interactions from it
   (by popularity inside the cluster), the rest from global popularity; one
   interaction per user is held out.  BPR's hit rate@10 (= recall@10 with one
   held-out item) over unseen items must be far above popularity's.

Run:  make -C test/core check    (or: /usr/bin/python3 test/ref/bpr_ref.py --driver test/core/sgd_core)
Stdout is deterministic (compared with bpr_ref.expected); measured numbers go
to stderr.
"""
import argparse
import math
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core"))
import sgd_core  # noqa: E402

STEP_PARAMS = dict(factors=5, lr=0.1, reg=0.01, init_std=0.5, samples=1, seed=3, items=5)


def check_step(driver, tmp):
    path = os.path.join(tmp, "one.txt")
    sgd_core.write_triplets(path, [0], [2], [1.0])
    before, _ = sgd_core.run(driver, "bpr", path, iterations=0, **STEP_PARAMS)
    after, _ = sgd_core.run(driver, "bpr", path, iterations=1, **STEP_PARAMS)
    u, i = 0, 2
    moved = [j for j in range(5) if j != i and
             (np.any(before.item_factors[j] != after.item_factors[j]) or
              before.item_bias[j] != after.item_bias[j])]
    print("# gradient check: 1 user, 5 items, positive item 2, %s" %
          " ".join("%s=%s" % kv for kv in STEP_PARAMS.items()))
    if len(moved) != 1:
        print("FAIL: expected exactly one negative item to move, got %s" % moved)
        return False
    j = moved[0]
    lr, reg = STEP_PARAMS["lr"], STEP_PARAMS["reg"]
    p = before.user_factors[u]
    qi, qj = before.item_factors[i], before.item_factors[j]
    bi, bj = before.item_bias[i], before.item_bias[j]
    x = bi - bj + p @ (qi - qj)
    g = 1.0 / (1.0 + math.exp(x))
    want_p = p + lr * (g * (qi - qj) - reg * p)
    want_qi = qi + lr * (g * p - reg * qi)
    want_qj = qj + lr * (-g * p - reg * qj)
    want_bi = bi + lr * (g - reg * bi)
    want_bj = bj + lr * (-g - reg * bj)
    diff = max(np.max(np.abs(after.user_factors[u] - want_p)),
               np.max(np.abs(after.item_factors[i] - want_qi)),
               np.max(np.abs(after.item_factors[j] - want_qj)),
               abs(after.item_bias[i] - want_bi), abs(after.item_bias[j] - want_bj))
    # untouched items stay as they were
    others = [o for o in range(5) if o not in (i, j)]
    still = all(np.all(before.item_factors[o] == after.item_factors[o]) for o in others)
    # loss = -ln sigma(x) + reg/2 [ |p_u|^2 (n_u/nnz = 1) + sum_i (n_i/nnz + 1/5)(|q_i|^2 + b_i^2) ]
    w = np.full(5, 1 / 5)
    w[i] += 1.0
    Q, b = after.item_factors, after.item_bias
    want_loss = math.log1p(math.exp(-x)) + reg / 2 * (
        after.user_factors[u] @ after.user_factors[u] + w @ ((Q ** 2).sum(1) + b ** 2))
    dloss = abs(after.loss[0] - want_loss)
    print("gradient check: max |param diff| %.2e, |loss diff| %.2e, x=%.6f" % (diff, dloss, x),
          file=sys.stderr)
    ok = diff < 1e-6 and dloss < 1e-6 and still
    print("%s: one C step equals the analytic BPR update (factors and item biases)" %
          ("ok" if ok else "FAIL"))
    return ok


PLANTED_PARAMS = dict(factors=32, iterations=30, lr=0.05, reg=0.001, init_std=0.1, samples=1, seed=11)


def planted_data():
    g = np.random.default_rng(5)
    n_users, n_items, n_clusters = 2000, 500, 10
    per = n_items // n_clusters
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    pop = g.permutation(pop)                   # popularity unrelated to id
    cluster = np.arange(n_items) // per
    users, items, held = [], [], []
    for u in range(n_users):
        fav = g.integers(n_clusters)
        n = g.integers(10, 41)
        inside = pop * (cluster == fav)
        chosen = set()
        while len(chosen) < n:
            w = inside if g.random() < 0.8 else pop
            chosen.add(int(g.choice(n_items, p=w / w.sum())))
        chosen = sorted(chosen)
        h = chosen[g.integers(len(chosen))]
        held.append(h)
        for i in chosen:
            if i != h:
                users.append(u)
                items.append(i)
    return np.array(users), np.array(items), np.array(held), n_items


def hit_rate(scores, users, items, held, k=10):
    s = scores.copy()
    s[users, items] = -np.inf                  # exclude what was seen
    top = np.argsort(-s, axis=1)[:, :k]
    return float(np.mean([held[u] in top[u] for u in range(len(held))]))


def check_planted(driver, tmp):
    users, items, held, n_items = planted_data()
    path = os.path.join(tmp, "clusters.txt")
    sgd_core.write_triplets(path, users, items, np.ones(len(users)))
    print("# planted: 2000 users, 500 items, 10 clusters, %d training interactions, "
          "1 held out per user" % len(users))
    print("# params: %s" % " ".join("%s=%s" % kv for kv in PLANTED_PARAMS.items()))
    md, _ = sgd_core.run(driver, "bpr", path, items=n_items, **PLANTED_PARAMS)
    pop, _ = sgd_core.run(driver, "popularity", path, items=n_items)
    hr_bpr = hit_rate(md.user_factors @ md.item_factors.T + md.item_bias[None, :],
                      users, items, held)
    hr_pop = hit_rate(np.tile(pop.item_bias, (len(held), 1)), users, items, held)
    print("planted: HR@10 bpr %.3f, popularity %.3f; bpr losses %.4f -> %.4f"
          % (hr_bpr, hr_pop, md.loss[0], md.loss[-1]), file=sys.stderr)
    ok1 = hr_bpr >= 2.5 * hr_pop
    ok2 = hr_bpr >= 0.3
    ok3 = md.loss[-1] < md.loss[0]
    print("%s: BPR hit rate@10 at least 2.5x popularity's" % ("ok" if ok1 else "FAIL"))
    print("%s: BPR hit rate@10 at least 0.30" % ("ok" if ok2 else "FAIL"))
    print("%s: BPR loss decreases" % ("ok" if ok3 else "FAIL"))
    return ok1 and ok2 and ok3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True, help="path to test/core/sgd_core")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ok = check_step(a.driver, tmp)
        ok = check_planted(a.driver, tmp) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
