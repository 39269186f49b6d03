#!/usr/bin/python3
"""Reference neighbourhood models (item_knn, user_knn) on a hand-checkable matrix.

An independent, deliberately plain implementation of the definitions in
src/core/knn.c (dense NumPy arrays, one pair of entities at a time, float64):
similarities cosine / adjusted_cosine / pearson / jaccard, shrinkage,
min_support, min_similarity, bm25 and tfidf weighting, the top-K cut with
ties to the lower id, attribute (cosine) neighbours for items without
interactions, the explicit baseline (Surprise-style alternating sweeps) and
the scores of src/core/knn_score.c (knn.h).

The data (8 users x 7 items, plus item 7 that has only an attribute
vector):

    user  item:rating
      0   0:5 1:3 2:4 4:1
      1   0:4 2:2 3:2 5:5
      2   1:1 2:5 3:5 4:2
      3   0:2 1:4 4:5 5:3
      4   0:3 2:3 3:3 5:1
      5   1:5 3:4 4:3 5:2
      6   0:1 1:2 2:2 3:1 4:4 5:4
      7   6:3                     (item 6: no other user; user 7: no neighbour)

"binary" is the same pattern with every value 1 (implicit feedback).

Usage:
  knn_ref.py --write DIR     writes DIR/ratings.txt, DIR/binary.txt and
                             DIR/attrs.txt (the driver's inputs)
  knn_ref.py --configs       one line per configuration: NAME DATA ARGS...
                             (DATA is ratings or binary; ARGS go to the
                             driver test/core/knn_core)
  knn_ref.py                 the expected output of every configuration
                             (committed as test/ref/knn_ref.expected)
  knn_ref.py --sql           the same lists and biases as COPY data for
                             sql/knn.sql (embedded there between the
                             "knn_ref.py --sql" markers; test/ref/knn_check.sh
                             checks they are current)
"""
import math
import os
import sys

import numpy as np

ROWS = {
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
N_ITEMS = 8            # item 7: attributes only
# attribute vectors: items 0..3 and 7 (7 is cold: no interactions)
ATTRS = {
    0: [1.0, 0.0, 0.5],
    1: [0.0, 1.0, 0.2],
    2: [0.9, 0.1, 0.4],
    3: [0.2, 0.8, 0.0],
    7: [1.0, 0.2, 0.6],
}

# name, data, driver arguments (key=value, see test/core/knn_core.c)
CONFIGS = [
    ("item_cosine", "binary", "algo=item k=3 sim=cosine shrink=0"),
    ("item_cosine_topk_shrunk", "binary", "algo=item k=2 sim=cosine shrink=2"),
    ("item_cosine_ratings", "ratings", "algo=item k=4 sim=cosine shrink=0"),
    ("item_cosine_min_similarity", "ratings", "algo=item k=6 sim=cosine shrink=0 min_sim=0.55"),
    ("item_adjusted_cosine", "ratings", "algo=item k=3 sim=adjusted_cosine shrink=0 min_sim=-1"),
    ("item_pearson_shrunk", "ratings", "algo=item k=3 sim=pearson shrink=1 min_sim=-1"),
    ("item_pearson_positive", "ratings", "algo=item k=6 sim=pearson shrink=0"),
    ("item_jaccard_min_support", "binary", "algo=item k=6 sim=jaccard shrink=0 min_support=3"),
    ("item_jaccard_topk", "binary", "algo=item k=2 sim=jaccard shrink=1"),
    ("item_bm25", "ratings", "algo=item k=3 sim=cosine shrink=0 weighting=bm25 k1=1.2 b=0.75"),
    ("item_bm25_binary", "binary", "algo=item k=3 sim=cosine shrink=0 weighting=bm25 k1=100 b=0.8"),
    ("item_tfidf", "ratings", "algo=item k=3 sim=cosine shrink=0 weighting=tfidf"),
    ("item_explicit", "ratings", "algo=item k=3 sim=pearson shrink=0 min_sim=-1 explicit=1 iterations=10 bias_reg=2"),
    ("item_attributes", "binary", "algo=item k=2 sim=cosine shrink=0 attrs=1"),
    ("item_attributes_only", "binary", "algo=item k=2 sim=cosine shrink=0 attrs=1 attr_only=1"),
    ("user_cosine", "binary", "algo=user k=3 sim=cosine shrink=0"),
    ("user_adjusted_cosine", "ratings", "algo=user k=3 sim=adjusted_cosine shrink=0 min_sim=-1"),
    ("user_pearson_shrunk", "ratings", "algo=user k=2 sim=pearson shrink=2"),
    ("user_jaccard", "binary", "algo=user k=2 sim=jaccard shrink=0 min_support=2"),
    ("user_tfidf", "binary", "algo=user k=3 sim=cosine shrink=0.5 weighting=tfidf"),
    ("user_explicit", "ratings", "algo=user k=3 sim=cosine shrink=1 explicit=1 iterations=5 bias_reg=1"),
]


def parse_args(text):
    a = dict(kv.split("=") for kv in text.split())
    return {
        "user_based": a["algo"] == "user",
        "k": int(a["k"]),
        "sim": a["sim"],
        "shrink": float(a.get("shrink", 0)),
        "min_support": int(a.get("min_support", 1)),
        "min_sim": float(a.get("min_sim", 0)),
        "weighting": a.get("weighting", "none"),
        "k1": float(a.get("k1", 1.2)),
        "b": float(a.get("b", 0.75)),
        "explicit": a.get("explicit", "0") == "1",
        "iterations": int(a.get("iterations", 10)),
        "bias_reg": float(a.get("bias_reg", 10)),
        "attrs": a.get("attrs", "0") == "1",
        "attr_only": a.get("attr_only", "0") == "1",
    }


def matrix(data):
    """Values (users x items, 0 where absent) and the mask of present pairs."""
    x = np.zeros((N_USERS, N_ITEMS))
    mask = np.zeros((N_USERS, N_ITEMS), dtype=bool)
    for u, row in ROWS.items():
        for i, r in row.items():
            x[u, i] = r if data == "ratings" else 1.0
            mask[u, i] = True
    return x, mask


def f32(v):
    return float(np.float32(v))


def weighted(x, mask, how, k1, b):
    """bm25 / tfidf of x (entities x features): entities are documents."""
    has = mask.any(axis=1)
    docs = int(has.sum())
    df = mask.sum(axis=0)
    idf = math.log(docs) - np.log1p(df)
    length = (x * mask).sum(axis=1)
    avg = length[has].mean()
    w = np.zeros_like(x)
    for e in range(x.shape[0]):
        for f in range(x.shape[1]):
            if not mask[e, f]:
                continue
            v = x[e, f]
            if how == "bm25":
                ln = (1 - b) + b * length[e] / avg
                w[e, f] = v * (k1 + 1) / (k1 * ln + v) * idf[f]
            else:
                w[e, f] = math.copysign(math.sqrt(abs(v)), v) * idf[f]
    return w


def similarity(x, mask, p, e, o):
    """s(e, o) and the co-support n, x and mask entities x features."""
    common = mask[e] & mask[o]
    n = int(common.sum())
    if n == 0:
        return None, 0
    s = p["sim"]
    if s == "cosine":
        ne = math.sqrt((x[e][mask[e]] ** 2).sum())
        no = math.sqrt((x[o][mask[o]] ** 2).sum())
        sim = (x[e][common] * x[o][common]).sum() / (ne * no) if ne > 0 and no > 0 else 0.0
    elif s in ("adjusted_cosine", "pearson"):
        if s == "adjusted_cosine":
            # centre by each feature's mean over its entities
            fm = np.array([x[:, f][mask[:, f]].mean() if mask[:, f].any() else 0.0
                           for f in range(x.shape[1])])
            ce, co = x[e] - fm, x[o] - fm
        else:
            ce = x[e] - x[e][mask[e]].mean()
            co = x[o] - x[o][mask[o]].mean()
        num = (ce[common] * co[common]).sum()
        den = (ce[common] ** 2).sum() * (co[common] ** 2).sum()
        sim = num / math.sqrt(den) if den > 0 else 0.0
    elif s == "jaccard":
        sim = n / (mask[e].sum() + mask[o].sum() - n)
    else:
        raise ValueError(s)
    if p["shrink"] > 0:
        sim *= n / (n + p["shrink"])
    return sim, n


def top_k(cands, k):
    """cands: (sim, idx, support); best first, ties to the lower idx."""
    cands.sort(key=lambda c: (-f32(c[0]), c[1]))
    return cands[:k]


def neighbours(data, p):
    x, mask = matrix(data)
    if p["user_based"]:
        ent_x, ent_m = x, mask
    else:
        ent_x, ent_m = x.T.copy(), mask.T.copy()
    if p["weighting"] != "none":
        ent_x = weighted(ent_x, ent_m, p["weighting"], p["k1"], p["b"])
    n = ent_x.shape[0]
    lists = []
    for e in range(n):
        cands = []
        use_attrs = (not p["user_based"] and p["attrs"]
                     and (p["attr_only"] or not ent_m[e].any()))
        if use_attrs:
            if e in ATTRS:
                ve = np.array(ATTRS[e])
                for o, vo in ATTRS.items():
                    vo = np.array(vo)
                    if o == e:
                        continue
                    sim = ve.dot(vo) / (np.linalg.norm(ve) * np.linalg.norm(vo))
                    if f32(sim) > p["min_sim"]:
                        cands.append((sim, o, 0))
        else:
            for o in range(n):
                if o == e:
                    continue
                sim, sup = similarity(ent_x, ent_m, p, e, o)
                if sim is None or sup < p["min_support"]:
                    continue
                if f32(sim) > p["min_sim"]:
                    cands.append((sim, o, sup))
        lists.append(top_k(cands, p["k"]))
    return lists


def baseline(p):
    """Surprise-style ALS baseline: items then users, `iterations` sweeps."""
    x, mask = matrix("ratings")
    mu = x[mask].mean()
    bu = np.zeros(N_USERS)
    bi = np.zeros(N_ITEMS)
    lam = p["bias_reg"]
    for _ in range(p["iterations"]):
        for i in range(N_ITEMS):
            us = np.nonzero(mask[:, i])[0]
            bi[i] = sum(x[u, i] - mu - bu[u] for u in us) / (lam + len(us))
        for u in range(N_USERS):
            its = np.nonzero(mask[u])[0]
            bu[u] = sum(x[u, i] - mu - bi[i] for i in its) / (lam + len(its))
    return mu, bu, bi


def scores(data, p, lists, base):
    """Scores of every (user, item) from the lists (formulas of knn.h)."""
    x, mask = matrix(data)
    mu, bu, bi = base if base else (0.0, np.zeros(N_USERS), np.zeros(N_ITEMS))
    out = np.zeros((N_USERS, N_ITEMS))
    for u in range(N_USERS):
        for i in range(N_ITEMS):
            num = den = 0.0
            if p["user_based"]:
                for s, v, _ in lists[u]:
                    if mask[v, i]:
                        num += s * (x[v, i] - mu - bu[v] - bi[i]) if p["explicit"] else s
                        den += abs(s)
            else:
                for s, j, _ in lists[i]:
                    if mask[u, j]:
                        num += s * (x[u, j] - mu - bu[u] - bi[j]) if p["explicit"] else s
                        den += abs(s)
            if p["explicit"]:
                b = mu + bu[u] + bi[i]
                out[u, i] = b + num / den if den > 0 else b
            else:
                out[u, i] = num
    return out


def write_inputs(d):
    for data in ("ratings", "binary"):
        x, mask = matrix(data)
        with open(os.path.join(d, data + ".txt"), "w") as f:
            for u in range(N_USERS):
                for i in range(N_ITEMS):
                    if mask[u, i]:
                        f.write("%d %d %g\n" % (u, i, x[u, i]))
    with open(os.path.join(d, "attrs.txt"), "w") as f:
        for i, v in sorted(ATTRS.items()):
            f.write("%d %s\n" % (i, " ".join("%g" % t for t in v)))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        write_inputs(sys.argv[2])
        return
    if len(sys.argv) == 2 and sys.argv[1] == "--configs":
        for name, data, args in CONFIGS:
            print(name, data, args)
        return
    if len(sys.argv) == 2 and sys.argv[1] == "--sql":
        print("COPY knn_cfg (name, data, args) FROM stdin;")
        for name, data, args in CONFIGS:
            print("%s\t%s\t%s" % (name, data, args))
        print("\\.")
        print("COPY knn_expected (config, e, rank, neighbor, similarity, support) FROM stdin;")
        biases = []
        for name, data, args in CONFIGS:
            p = parse_args(args)
            for e, lst in enumerate(neighbours(data, p)):
                for rank, (sim, o, sup) in enumerate(lst, 1):
                    print("%s\t%d\t%d\t%d\t%.6f\t%d" % (name, e, rank, o, sim, sup))
            if p["explicit"]:
                mu, bu, bi = baseline(p)
                biases += [(name, "user", u, bu[u]) for u in range(N_USERS)]
                biases += [(name, "item", i, bi[i]) for i in range(N_ITEMS)]
        print("\\.")
        print("COPY knn_expected_bias (config, kind, id, bias) FROM stdin;")
        for b in biases:
            print("%s\t%s\t%d\t%.6f" % b)
        print("\\.")
        return
    for name, data, args in CONFIGS:
        p = parse_args(args)
        lists = neighbours(data, p)
        base = baseline(p) if p["explicit"] else None
        print("# %s" % name)
        for e, lst in enumerate(lists):
            for rank, (s, o, sup) in enumerate(lst, 1):
                print("nbr %d %d %d %.6f %d" % (e, rank, o, s, sup))
        if base:
            mu, bu, bi = base
            for u in range(N_USERS):
                print("bu %d %.6f" % (u, bu[u]))
            for i in range(N_ITEMS):
                print("bi %d %.6f" % (i, bi[i]))
        sc = scores(data, p, lists, base)
        for u in range(N_USERS):
            for i in range(N_ITEMS):
                print("score %d %d %.6f" % (u, i, sc[u, i]))


if __name__ == "__main__":
    main()
