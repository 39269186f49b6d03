#!/usr/bin/env python3
"""Reference checks for the popularity core (src/core/popularity.c).  Needs --driver.

Random interactions (300 users, 80 items, timestamps over 400 days, some
repeated (user, item) rows, which the driver merges keeping the last, as the
loader's rule does) scored three ways, each compared with NumPy:
- no half-life: score = number of distinct users per item;
- half_life=30: score = sum over the item's interactions of
  0.5 ** ((t_max - t) / (30 * 86400)), t_max the newest timestamp;
- half_life=30 on the same data without timestamps: plain counts.
Scores must agree to a relative 1e-6 (they are stored as float4).

Run:  make -C test/core check    (or: /usr/bin/python3 test/ref/popularity_ref.py --driver test/core/sgd_core)
"""
import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core"))
import sgd_core  # noqa: E402


def data():
    g = np.random.default_rng(17)
    n = 4000
    users = g.integers(0, 300, n)
    items = np.minimum(g.zipf(1.5, n) - 1, 79)
    t0 = 1.6e9
    ts = t0 + g.random(n) * 400 * 86400
    return users, items, ts


def reference(users, items, ts, half_life):
    last = {}
    for u, i, t in zip(users, items, ts):     # later rows overwrite: last wins
        last[(u, i)] = t
    score = np.zeros(80)
    t_max = max(last.values())
    for (u, i), t in last.items():
        score[i] += 1.0 if half_life <= 0 else 0.5 ** ((t_max - t) / (half_life * 86400))
    return score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    a = ap.parse_args()
    users, items, ts = data()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        with_ts = os.path.join(tmp, "ts.txt")
        no_ts = os.path.join(tmp, "nots.txt")
        sgd_core.write_triplets(with_ts, users, items, np.ones(len(users)), ts)
        sgd_core.write_triplets(no_ts, users, items, np.ones(len(users)))
        print("# %d rows, %d distinct (user, item), 80 items" %
              (len(users), len(set(zip(users, items)))))
        for name, path, hl, want_hl in [("counts", with_ts, 0, 0),
                                         ("half_life=30", with_ts, 30, 30),
                                         ("half_life=30 without timestamps", no_ts, 30, 0)]:
            want = reference(users, items, ts, want_hl)
            md, _ = sgd_core.run(a.driver, "popularity", path, half_life=hl, items=80)
            rel = np.max(np.abs(md.item_bias - want) / np.maximum(want, 1e-12))
            good = (rel < 1e-6 and md.factors == 0 and md.global_mean == 0
                    and len(md.loss) == 0)
            ok = ok and good
            print("%s %s: top item %d score %.4f" % (name, "matches" if good else "DIFFERS",
                                                    int(np.argmax(want)), want.max()))
            print("%s: max relative diff %.2e" % (name, rel), file=sys.stderr)
    print("%s: popularity scores equal the NumPy counts and decayed sums" % ("ok" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
