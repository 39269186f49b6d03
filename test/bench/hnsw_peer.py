#!/usr/bin/python3
"""Peers and ground truth for test/bench/hnsw.sh.

  gen   N D SEED DIR [KIND]
                          N x D float32 vectors and 1000 queries from the same
                          distribution: DIR/base.npy, DIR/queries.npy, and
                          the same as PostgreSQL binary COPY files (id int4,
                          v embedding) DIR/base.copy, DIR/queries.copy.
                          KIND "normal" (default): iid standard normal.
                          KIND "clustered": a Gaussian mixture of low
                          intrinsic dimension, as learned embeddings are (see
                          clustered() below).
  npy   TSV OUT           "id<TAB>{f,f,...}" lines (COPY of real[]) to OUT.npy,
                          rows in id order
  peer  DIR SPACE M EFC EFS [SQLDIR]
                          exact top 10 by brute force (numpy), then hnswlib and
                          faiss HNSW with the same m / ef_construction, one
                          thread: build seconds, index bytes, and for each
                          ef_search in EFS (comma list) recall@10 and QPS
                          (one query per call, passes over the queries for
                          2 s; FAISS=0 leaves faiss out); if SQLDIR is given, the recall
                          of SQLDIR/ef<N>.tsv ("qid<TAB>{ids}" lines, qid
                          1-based) for the same ef values.
Output: "key value" lines.
"""
import os
import sys
import time

import numpy as np


def write_copy(path, vecs, first_id=1):
    """PostgreSQL binary COPY of (id int4, v embedding): embedding_recv reads
    int16 dims, int16 flags, then the float4 elements, all big-endian."""
    n, d = vecs.shape
    rec = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"),
                    ("dim", ">i2"), ("flags", ">i2"), ("x", ">f4", (d,))])
    a = np.empty(n, dtype=rec)
    a["nf"] = 2
    a["l1"] = 4
    a["id"] = np.arange(first_id, first_id + n, dtype=np.int32)
    a["l2"] = 4 + 4 * d
    a["dim"] = d
    a["flags"] = 0
    a["x"] = vecs
    with open(path, "wb") as f:
        f.write(b"PGCOPY\n\xff\r\n\0" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big"))
        f.write(a.tobytes())
        f.write((-1).to_bytes(2, "big", signed=True))


def clustered(rng, n, d, clusters=1000, intrinsic=8):
    """n points of a mixture of `clusters` Gaussians: centres N(0, 0.3^2 I_d),
    so neighbouring clusters overlap; cluster sizes drawn with Zipf-like
    weights 1/(rank+10); each point is its centre plus an
    `intrinsic`-dimensional Gaussian in a random subspace of the cluster
    (N(0, 0.5^2) per axis of a random orthonormal d x intrinsic basis) plus
    N(0, 0.05^2 I_d) noise; rows come in random cluster order.  (With
    centres N(0, I_d) the clusters are islands and every HNSW graph tried
    stalls near recall 0.9 at 1M points, whatever ef_search.)"""
    centres = 0.3 * rng.standard_normal((clusters, d)).astype(np.float32)
    w = 1.0 / (np.arange(clusters) + 10.0)
    assign = rng.choice(clusters, size=n, p=w / w.sum())
    out = np.empty((n, d), dtype=np.float32)
    for c in range(clusters):
        idx = np.nonzero(assign == c)[0]
        if len(idx) == 0:
            continue
        basis, _ = np.linalg.qr(rng.standard_normal((d, intrinsic)))
        z = rng.standard_normal((len(idx), intrinsic)) * 0.5
        out[idx] = centres[c] + z @ basis.T + 0.05 * rng.standard_normal((len(idx), d))
    return out


def gen(n, d, seed, out, kind="normal"):
    rng = np.random.default_rng(seed)
    if kind == "clustered":
        # one draw of n + 1000 points, the last 1000 the queries
        both = clustered(rng, n + 1000, d)
        base, queries = both[:n], both[n:]
    else:
        base = rng.standard_normal((n, d), dtype=np.float32)
        queries = rng.standard_normal((1000, d), dtype=np.float32)
    np.save(os.path.join(out, "base.npy"), base)
    np.save(os.path.join(out, "queries.npy"), queries)
    write_copy(os.path.join(out, "base.copy"), base)
    write_copy(os.path.join(out, "queries.copy"), queries)


def tsv_to_npy(tsv, out):
    rows = []
    for line in open(tsv):
        key, arr = line.rstrip("\n").split("\t")
        rows.append((int(key), np.array(arr.strip("{}").split(","), dtype=np.float32)))
    rows.sort(key=lambda r: r[0])
    np.save(out, np.stack([r[1] for r in rows]))


def exact_top10(base, queries, space):
    """Ids are 1-based row numbers, as in the table."""
    out = np.empty((len(queries), 10), dtype=np.int64)
    bn = (base * base).sum(1)
    for s in range(0, len(queries), 100):
        q = queries[s:s + 100]
        if space == "l2":
            d = bn[None, :] - 2.0 * (q @ base.T)
        elif space == "ip":
            d = -(q @ base.T)
        else:
            d = -(q / np.linalg.norm(q, axis=1, keepdims=True)) @ (base / np.sqrt(bn)[:, None]).T
        part = np.argpartition(d, 10, axis=1)[:, :10]
        order = np.take_along_axis(d, part, 1).argsort(1)
        out[s:s + 100] = np.take_along_axis(part, order, 1) + 1
    return out


def recall(got, exact):
    return np.mean([len(set(g) & set(e)) / 10.0 for g, e in zip(got, exact)])


def qps(search, queries, secs=2.0):
    """Queries per second of one query per call, over passes through the
    queries until secs have gone by (one pass of a fast index is too short
    to time on a shared machine)."""
    n = 0
    t0 = time.perf_counter()
    while True:
        for q in queries:
            search(q)
        n += len(queries)
        t = time.perf_counter() - t0
        if t >= secs:
            return n / t


def peer(dirname, space, m, efc, efs, sqldir):
    base = np.load(os.path.join(dirname, "base.npy"))
    queries = np.load(os.path.join(dirname, "queries.npy"))
    exact = exact_top10(base, queries, space)
    ids = np.arange(1, len(base) + 1)

    if sqldir:
        for ef in efs:
            got = {}
            for line in open(os.path.join(sqldir, "ef%d.tsv" % ef)):
                qid, arr = line.rstrip("\n").split("\t")
                got[int(qid)] = [int(x) for x in arr.strip("{}").split(",") if x]
            print("recsys_recall_ef%d %.4f" % (ef, recall([got.get(i + 1, []) for i in range(len(queries))], exact)))

    import hnswlib
    p = hnswlib.Index(space=space, dim=base.shape[1])
    p.init_index(max_elements=len(base), M=m, ef_construction=efc, random_seed=1)
    p.set_num_threads(1)
    t0 = time.perf_counter()
    p.add_items(base, ids, num_threads=1)
    print("hnswlib_build_seconds %.2f" % (time.perf_counter() - t0))
    path = os.path.join(dirname, "hnswlib.bin")
    p.save_index(path)
    print("hnswlib_bytes %d" % os.path.getsize(path))
    os.unlink(path)
    for ef in efs:
        p.set_ef(ef)
        lab, _ = p.knn_query(queries, k=10, num_threads=1)
        print("hnswlib_recall_ef%d %.4f" % (ef, recall(lab, exact)))
        print("hnswlib_qps_ef%d %.0f" % (ef, qps(lambda q: p.knn_query(q, k=10, num_threads=1), queries)))
    del p

    if os.environ.get("FAISS", "1") == "0":
        return
    try:
        import faiss
    except ImportError:
        return
    faiss.omp_set_num_threads(1)
    b, qs = base, queries
    if space == "cosine":
        b = base / np.linalg.norm(base, axis=1, keepdims=True)
        qs = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    metric = faiss.METRIC_L2 if space == "l2" else faiss.METRIC_INNER_PRODUCT
    f = faiss.IndexHNSWFlat(base.shape[1], m, metric)
    f.hnsw.efConstruction = efc
    t0 = time.perf_counter()
    f.add(np.ascontiguousarray(b))
    print("faiss_build_seconds %.2f" % (time.perf_counter() - t0))
    print("faiss_bytes %d" % len(faiss.serialize_index(f)))
    for ef in efs:
        f.hnsw.efSearch = ef
        _, lab = f.search(np.ascontiguousarray(qs), 10)
        print("faiss_recall_ef%d %.4f" % (ef, recall(lab + 1, exact)))
        print("faiss_qps_ef%d %.0f" % (ef, qps(lambda q: f.search(q, 10), [qs[i:i + 1] for i in range(len(qs))])))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
            sys.argv[6] if len(sys.argv) > 6 else "normal")
    elif cmd == "npy":
        tsv_to_npy(sys.argv[2], sys.argv[3])
    elif cmd == "peer":
        peer(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
             [int(x) for x in sys.argv[6].split(",")], sys.argv[7] if len(sys.argv) > 7 else None)
    else:
        sys.exit("unknown command " + cmd)
