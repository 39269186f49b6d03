#!/usr/bin/python3
"""Reference solution of the als objective (src/core/als.c) on a tiny matrix.

5 users x 4 items, 12 ratings, k = 1, lambda = lambda_b = 0.1, the same
initial factors as the C core (seed 42, init_std 0.1).  Exact alternating
least squares in float64, run until no prediction moves by more than
1e-10, then every prediction mu + b_u + b_i + p_u q_i is printed as
"pred u i value": test/ref/als_tiny.expected holds that output.

usage: als_ref.py [--triplets FILE]   (also write the matrix for als_core)
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mfref  # noqa: E402

# (user, item, rating): a few users agree, one disagrees, item 3 is rare
TINY = [
    (0, 0, 5), (0, 1, 3), (0, 2, 4),
    (1, 0, 4), (1, 2, 5), (1, 3, 1),
    (2, 1, 2), (2, 2, 1), (2, 3, 4),
    (3, 0, 5), (3, 3, 2),
    (4, 1, 4),
]
K, LAM, LAM_B, INIT_STD, SEED = 1, 0.1, 0.1, 0.1, 42


def main():
    nu, ni = 5, 4
    R, Rt = mfref.tiny_problem(TINY, nu, ni)
    mu = R.data.mean()
    P = mfref.init_factors(nu, K, INIT_STD, SEED, 0)
    Q = mfref.init_factors(ni, K, INIT_STD, SEED, nu)
    bu, bi = np.zeros(nu), np.zeros(ni)
    prev = None
    for it in range(100000):
        mfref.als_exact_half(R, mu, P, bu, Q, bi, LAM, LAM_B)
        mfref.als_exact_half(Rt, mu, Q, bi, P, bu, LAM, LAM_B)
        pred = mu + bu[:, None] + bi[None, :] + P @ Q.T
        if prev is not None and np.abs(pred - prev).max() < 1e-10:
            break
        prev = pred
    print("# als k=%d lambda=%g lambda_b=%g: converged after %d iterations, "
          "loss %.8f" % (K, LAM, LAM_B, it + 1,
                         mfref.als_loss(R, mu, P, bu, Q, bi, LAM, LAM_B)))
    for a in range(nu):
        for b in range(ni):
            print("pred %d %d %.6f" % (a, b, pred[a, b]))


if __name__ == "__main__":
    main()
