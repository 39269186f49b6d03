#!/usr/bin/python3
"""Reference EASE (Steck 2019) on a hand-checkable matrix.

An independent, deliberately plain implementation of what src/core/ease.c
and serving compute (dense NumPy, float64, numpy.linalg.inv rather than a
Cholesky factor):

    G = X^T X + lambda I,  P = G^-1,  B_ji = -P_ji / P_ii (j != i),  B_ii = 0
    item i keeps the `neighbors` j with the largest |B_ji| (ties to the
    lower j), and score(u, i) = sum of the kept B_ji over the items j of u

The data is that of test/ref/knn_ref.py (8 users x 7 items; user 7 rated
only item 6, which nobody else rated):

    user  item:rating
      0   0:5 1:3 2:4 4:1
      1   0:4 2:2 3:2 5:5
      2   1:1 2:5 3:5 4:2
      3   0:2 1:4 4:5 5:3
      4   0:3 2:3 3:3 5:1
      5   1:5 3:4 4:3 5:2
      6   0:1 1:2 2:2 3:1 4:4 5:4
      7   6:3

Configurations:
  binary    X the pattern (no value column), lambda 0.5, every neighbour
            kept: the served score is exactly Steck's X_u B
  ratings   X the ratings, lambda 2, 2 neighbours per item

Usage:
  ease_ref.py          every configuration's lists and scores
  ease_ref.py --sql    the same as COPY data for sql/ease.sql (embedded
                       there between the "ease_ref.py --sql" markers;
                       test/ref/ease_check.sh checks they are current)
"""
import sys

import numpy as np

DATA = {
    0: {0: 5, 1: 3, 2: 4, 4: 1},
    1: {0: 4, 2: 2, 3: 2, 5: 5},
    2: {1: 1, 2: 5, 3: 5, 4: 2},
    3: {0: 2, 1: 4, 4: 5, 5: 3},
    4: {0: 3, 2: 3, 3: 3, 5: 1},
    5: {1: 5, 3: 4, 4: 3, 5: 2},
    6: {0: 1, 1: 2, 2: 2, 3: 1, 4: 4, 5: 4},
    7: {6: 3},
}
N_USERS = 8
N_ITEMS = 7

CONFIGS = [
    ("binary", True, 0.5, 6),
    ("ratings", False, 2.0, 2),
]


def model(binary, lam, k):
    x = np.zeros((N_USERS, N_ITEMS))
    for u, row in DATA.items():
        for i, r in row.items():
            x[u, i] = 1.0 if binary else float(r)
    g = x.T @ x + lam * np.eye(N_ITEMS)
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[np.newaxis, :]
    np.fill_diagonal(b, 0.0)
    lists = []
    for i in range(N_ITEMS):
        cand = [(j, b[j, i]) for j in range(N_ITEMS) if j != i and b[j, i] != 0.0]
        cand.sort(key=lambda c: (-abs(c[1]), c[0]))
        if len(cand) > k:
            # the cut must not fall between two weights float32 cannot tell apart
            assert abs(abs(cand[k - 1][1]) - abs(cand[k][1])) > 1e-6, (i, cand)
        kept = sorted(cand[:k], key=lambda c: (-c[1], c[0]))
        lists.append(kept)
    scores = {}
    for u, row in DATA.items():
        for i in range(N_ITEMS):
            scores[(u, i)] = sum(s for j, s in lists[i] if j in row)
    return lists, scores


def main():
    sql = len(sys.argv) == 2 and sys.argv[1] == "--sql"
    if len(sys.argv) > 1 and not sql:
        sys.exit(__doc__)
    out = []
    for name, binary, lam, k in CONFIGS:
        lists, scores = model(binary, lam, k)
        for i, kept in enumerate(lists):
            for rank, (j, s) in enumerate(kept, 1):
                out.append(("list", name, i, rank, j, s))
        for (u, i), s in sorted(scores.items()):
            out.append(("score", name, u, i, s))
    if sql:
        print("COPY ease_expected_list (config, item, rank, neighbor, weight) FROM stdin;")
        for r in out:
            if r[0] == "list":
                print("%s\t%d\t%d\t%d\t%.9g" % r[1:])
        print("\\.")
        print("COPY ease_expected_score (config, u, i, score) FROM stdin;")
        for r in out:
            if r[0] == "score":
                print("%s\t%d\t%d\t%.9g" % r[1:])
        print("\\.")
    else:
        for r in out:
            if r[0] == "list":
                print("%s list item %d rank %d: %d %.9g" % r[1:])
            else:
                print("%s score user %d item %d: %.9g" % r[1:])


if __name__ == "__main__":
    main()
