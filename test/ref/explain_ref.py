#!/usr/bin/env python3
"""NumPy reference of the explanations of factor models (src/core/explain.c).

ials, Hu, Koren & Volinsky (2008) section 5: with
W = (Y^T C Y + lambda I)^-1 the user's vector is x = W Y^T C p, so
y_i^T x = sum_j c_j y_i^T W y_j.  als/svd: the ridge regression of the als
user step on [q_j; 1] with weighted lambda, so
r_ui = mu + b_i + sum_j t_j [q_i; 1]^T A^-1 [q_j; 1].

For random problems this checks, in float64 and independently of the C
code, that the terms sum to the score of the vector the system defines
(1e-10), then that the driver's terms (test/core/explain_core, float
factors, a float Gram matrix as serving keeps it) match the reference's to
1e-5 of the largest term.  Prints one ok / not ok line per check.

Usage: explain_ref.py [--driver test/core/explain_core]
"""
import argparse
import subprocess
import sys

import numpy as np


def reference(explicit, y, bias, alpha, lam, lam_b, mu, item, idx, vals):
    k = y.shape[1]
    if not explicit:
        c = 1.0 + alpha * vals
        yu = y[idx]
        a = y.T @ y + lam * np.eye(k) + (yu.T * (c - 1.0)) @ yu
        x = np.linalg.solve(a, yu.T @ c)          # the user's vector
        score = y[item] @ x
        terms = c * (yu @ np.linalg.solve(a, y[item]))
        return terms, score, 0.0, 0.0
    n = len(idx)
    q1 = np.hstack([y[idx], np.ones((n, 1))])
    t = vals - mu - bias[idx]
    reg = np.diag([lam * n] * k + [lam_b * n])
    a = q1.T @ q1 + reg
    pb = np.linalg.solve(a, q1.T @ t)               # [p_u; b_u]
    qi = np.append(y[item], 1.0)
    score = mu + bias[item] + qi @ pb
    terms = t * (q1 @ np.linalg.solve(a, qi))
    return terms, score, mu, bias[item]


def run_driver(driver, explicit, y, bias, alpha, lam, lam_b, mu, item, idx, vals):
    n_items, k = y.shape
    lines = ["%d %d %d %.17g %.17g %.17g %.17g %d" % (explicit, k, n_items, alpha, lam, lam_b, mu, item)]
    lines += [" ".join("%.9g" % v for v in row) for row in y]
    if explicit:
        lines.append(" ".join("%.9g" % v for v in bias))
    lines.append(str(len(idx)))
    lines += ["%d %.9g" % (j, v) for j, v in zip(idx, vals)]
    out = subprocess.run([driver], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True).stdout.split("\n")
    terms = [float(l.split()[2]) for l in out if l.startswith("term ")]
    base = [l.split()[1:] for l in out if l.startswith("base ")][0]
    return np.array(terms), float(base[0]), float(base[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", default="test/core/explain_core")
    args = ap.parse_args()
    rng = np.random.default_rng(16)
    fail = 0
    for explicit in (0, 1):
        name = "als" if explicit else "ials"
        worst_sum = 0.0
        worst_driver = 0.0
        for trial in range(20):
            n_items, k = int(rng.integers(5, 40)), int(rng.integers(1, 9))
            # float32 inputs, so that the driver reads exactly these numbers
            y = rng.normal(0, 0.5, (n_items, k)).astype(np.float32).astype(np.float64)
            bias = rng.normal(0, 0.3, n_items).astype(np.float32).astype(np.float64)
            n = int(rng.integers(1, n_items + 1))
            idx = np.sort(rng.choice(n_items, n, replace=False))
            vals = (rng.integers(1, 6, n) if explicit else rng.integers(1, 4, n)).astype(np.float64)
            alpha, lam, lam_b, mu = 2.0, float(rng.uniform(0.05, 1.0)), 0.1, 3.1
            item = int(rng.integers(0, n_items))
            terms, score, gm, ib = reference(explicit, y, bias, alpha, lam, lam_b, mu, item, idx, vals)
            worst_sum = max(worst_sum, abs(terms.sum() + gm + ib - score) / max(1.0, abs(score)))
            dterms, dgm, dib = run_driver(args.driver, explicit, y, bias, alpha, lam, lam_b, mu,
                                          item, idx, vals)
            scale = max(1.0, np.abs(terms).max())
            worst_driver = max(worst_driver, np.abs(dterms - terms).max() / scale,
                               abs(dgm - gm), abs(dib - ib))
        ok = worst_sum < 1e-10
        print("%s %s closed form: the terms sum to the score (worst %.1e)"
              % ("ok" if ok else "not ok", name, worst_sum))
        fail |= not ok
        ok = worst_driver < 1e-5
        print("%s %s explain_core matches the reference (worst %.1e of the largest term)"
              % ("ok" if ok else "not ok", name, worst_driver))
        fail |= not ok
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
