#!/usr/bin/python3
"""The NumPy peer of test/bench/serve.sh, on the factors of a stored model.

Exports the active version of a model from the catalog with COPY:

  recsys.item_factors  item_key (text COPY), factors (binary COPY)
  recsys.user_factors  user_key (text COPY), factors and seen (binary COPY)

all in item_idx / user_idx order, so item i of the arrays is the item
recsys scores at position i.  Then, with the same float32 factors:

  all    recommend_all: blocks of BLOCK users, S = U_block @ V^T (sgemm,
         OpenBLAS, into one reused buffer), the user's seen items set to -inf, np.argpartition for
         the k best of each row, and those k sorted by (score desc, item
         position asc) -- recsys' order and tie rule
  one    one user at a time, as recommend() does: V @ u (sgemv), seen to
         -inf, argpartition, sort; median and p99 over ONE_USERS random
         users (compute only: no SQL, no network)
  check  recsys' top-k for CHECK random users, from recommend() under
         LATERAL and from recommend_all() (a second full run, filtered to
         those users), against the exact float64 scores: a list is valid
         when it has k distinct unseen items, each reported score equals
         the exact one, and none scores below the k-th best unseen item
         (both within TOL, so a tie or a float32 rounding at the k-th place
         may pick either item).  Lists identical to NumPy's are counted too.

Prints, on stdout, lines "key value..." (see main()).  Exits 1 if a
check found an invalid list.

usage: serve_peer.py --model M [--k 10] [--block 1024] [--check 100]
                    [--one-users 2000] -- PSQL ARGS...
"""
import argparse
import struct
import subprocess
import sys
import time

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
TOL = 1e-5


def log(msg):
    print("peer: " + msg, file=sys.stderr, flush=True)


class Psql:
    def __init__(self, argv):
        self.argv = argv

    def run(self, sql, binary=False):
        out = subprocess.run(self.argv + ["-X", "-q", "-A", "-t", "-v",
                                          "ON_ERROR_STOP=1", "-c", sql],
                             check=True, stdout=subprocess.PIPE).stdout
        return out if binary else out.decode()

    def lines(self, sql):
        return self.run(sql).splitlines()


def copy_rows(buf):
    """Yields (offset, fields) of each tuple of a binary COPY stream, where
    fields is a list of (offset, length) (length -1 for NULL)."""
    if not buf.startswith(SIGNATURE):
        sys.exit("not a binary COPY stream")
    ext = struct.unpack_from(">i", buf, 15)[0]
    off = 19 + ext
    while True:
        (nf,) = struct.unpack_from(">h", buf, off)
        off += 2
        if nf == -1:
            return
        fields = []
        for _ in range(nf):
            (n,) = struct.unpack_from(">i", buf, off)
            off += 4
            fields.append((off, n))
            if n > 0:
                off += n
        yield fields


def embedding_at(buf, off, n, k):
    """An embedding's binary form: int16 dims, int16 flags, float4s."""
    dims, flags = struct.unpack_from(">hh", buf, off)
    if dims != k or flags != 0 or n != 4 + 4 * k:
        sys.exit("unexpected embedding (dims %d, expected %d)" % (dims, k))
    return np.frombuffer(buf, ">f4", count=k, offset=off + 4)


def int4_array_at(buf, off, n):
    """A one-dimensional int4[] without NULLs in its binary form."""
    ndim, _hasnull, _oid = struct.unpack_from(">iiI", buf, off)
    if ndim == 0:
        return np.empty(0, np.int32)
    count, _lbound = struct.unpack_from(">ii", buf, off + 12)
    # elements: (int32 length 4, int32 value) pairs
    pairs = np.frombuffer(buf, ">i4", count=2 * count, offset=off + 20)
    if count and (pairs[0::2] != 4).any():
        sys.exit("unexpected int4[] element (NULL?)")
    return pairs[1::2]


def export(psql, model):
    """The active version's keys, factors and seen lists (CSR)."""
    q = "'" + model.replace("'", "''") + "'"
    version, k = psql.lines(
        "SELECT v.version || ' ' || coalesce((v.params->>'factors')::int, 0) "
        "FROM recsys.models m JOIN recsys.model_versions v "
        "ON v.model = m.name AND v.version = m.active_version "
        "WHERE m.name = %s" % q)[0].split()
    version, k = int(version), int(k)
    where = "WHERE model = %s AND version = %d" % (q, version)

    item_keys = psql.lines("COPY (SELECT item_key FROM recsys.item_factors %s "
                           "ORDER BY item_idx) TO STDOUT" % where)
    buf = psql.run("COPY (SELECT item_idx, factors FROM recsys.item_factors %s "
                   "ORDER BY item_idx) TO STDOUT (FORMAT binary)" % where, True)
    V = np.empty((len(item_keys), k), np.float32)
    for r, f in enumerate(copy_rows(buf)):
        if struct.unpack_from(">i", buf, f[0][0])[0] != r:
            sys.exit("item rows are not numbered 0..n-1")
        V[r] = embedding_at(buf, f[1][0], f[1][1], k)

    user_keys = psql.lines("COPY (SELECT user_key FROM recsys.user_factors %s "
                           "ORDER BY user_idx) TO STDOUT" % where)
    buf = psql.run("COPY (SELECT user_idx, factors, seen FROM recsys.user_factors %s "
                   "ORDER BY user_idx) TO STDOUT (FORMAT binary)" % where, True)
    U = np.empty((len(user_keys), k), np.float32)
    counts = np.empty(len(user_keys), np.int64)
    seen = []
    for r, f in enumerate(copy_rows(buf)):
        if struct.unpack_from(">i", buf, f[0][0])[0] != r:
            sys.exit("user rows are not numbered 0..n-1")
        U[r] = embedding_at(buf, f[1][0], f[1][1], k)
        s = int4_array_at(buf, f[2][0], f[2][1])
        counts[r] = s.size
        seen.append(s)
    indptr = np.zeros(len(user_keys) + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate(seen).astype(np.int64)
    return version, item_keys, V, user_keys, U, indptr, indices


def top_sorted(S, k):
    """Per row of S, the k best column indexes, by score desc then index."""
    m = S.shape[1]
    k = min(k, m)
    part = np.argpartition(S, m - k, axis=1)[:, m - k:]
    vals = np.take_along_axis(S, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return (np.take_along_axis(part, order, axis=1),
            np.take_along_axis(vals, order, axis=1))


def recommend_all(U, VT, indptr, indices, k, block):
    """Top k of every user; also the seconds spent in each step."""
    n = U.shape[0]
    top = np.empty((n, min(k, VT.shape[1])), np.int64)
    score = np.empty(top.shape, np.float32)
    buf = np.empty((block, VT.shape[1]), np.float32)
    spent = {"matmul": 0.0, "exclude": 0.0, "select": 0.0}
    for s in range(0, n, block):
        e = min(n, s + block)
        t0 = time.perf_counter()
        S = np.matmul(U[s:e], VT, out=buf[:e - s])
        t1 = time.perf_counter()
        rows = np.repeat(np.arange(e - s), np.diff(indptr[s:e + 1]))
        S[rows, indices[indptr[s]:indptr[e]]] = -np.inf
        t2 = time.perf_counter()
        top[s:e], score[s:e] = top_sorted(S, k)
        t3 = time.perf_counter()
        spent["matmul"] += t1 - t0
        spent["exclude"] += t2 - t1
        spent["select"] += t3 - t2
    return top, score, spent


def recommend_one(u, V, seen, k):
    s = V @ u
    s[seen] = -np.inf
    t, v = top_sorted(s[None, :], k)
    return t[0], v[0]


def parse_lists(lines):
    """'user|item|score|rank' lines -> {user: [(item, score), ...]}"""
    got = {}
    for line in lines:
        u, i, s, r = line.split("|")
        lst = got.setdefault(u, [])
        if int(r) != len(lst) + 1:
            sys.exit("ranks of user %s are not 1, 2, ..." % u)
        lst.append((i, float(s)))
    return got


def check(got, users, user_pos, item_pos, U, V, indptr, indices, top_np, k):
    """(valid, identical to NumPy, first problem) over users."""
    valid = same = 0
    problem = ""
    Vd = V.astype(np.float64)
    for u in users:
        r = user_pos[u]
        exact = Vd @ U[r].astype(np.float64)
        seen = indices[indptr[r]:indptr[r + 1]]
        exact[seen] = -np.inf
        kk = min(k, V.shape[0] - seen.size)
        kth = np.partition(exact, exact.size - kk)[exact.size - kk]
        lst = got.get(u, [])
        idx = [item_pos.get(x[0], -1) for x in lst]
        why = None
        if len(lst) != kk:
            why = "%d items, expected %d" % (len(lst), kk)
        elif min(idx) < 0 or len(set(idx)) != kk:
            why = "unknown or repeated items"
        elif np.isinf(exact[idx]).any():
            why = "a seen item was recommended"
        else:
            tol = TOL * (1 + abs(kth))
            rep = np.array([x[1] for x in lst])
            if (np.abs(rep - exact[idx]) > tol).any():
                why = "a reported score differs from p.q by more than %g" % tol
            elif (exact[idx] < kth - tol).any():
                why = "an item below the k-th best unseen score"
            elif (np.diff(rep) > tol).any():
                why = "not in descending score order"
        if why is None:
            valid += 1
        elif not problem:
            problem = "user %s: %s" % (u, why)
        if idx == list(top_np[r]):
            same += 1
    return valid, same, problem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--check", type=int, default=100)
    ap.add_argument("--one-users", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("psql", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    argv = a.psql[1:] if a.psql[:1] == ["--"] else a.psql
    if not argv:
        ap.error("give the psql command after --")
    psql = Psql(argv)
    k = a.k

    t0 = time.perf_counter()
    version, item_keys, V, user_keys, U, indptr, indices = export(psql, a.model)
    t_export = time.perf_counter() - t0
    log("exported version %d: %d users, %d items, %d seen, k=%d in %.1f s"
        % (version, U.shape[0], V.shape[0], indices.size, U.shape[1], t_export))
    print("users %d" % U.shape[0])
    print("items %d" % V.shape[0])
    print("seen %d" % indices.size)
    print("export_seconds %.2f" % t_export, flush=True)

    VT = np.ascontiguousarray(V.T)
    t0 = time.perf_counter()
    top_np, _, spent = recommend_all(U, VT, indptr, indices, k, a.block)
    t_all = time.perf_counter() - t0
    log("recommend_all in %.2f s (blocks of %d users): sgemm %.1f s, seen %.1f s, "
        "argpartition + sort %.1f s" % (t_all, a.block, spent["matmul"],
                                         spent["exclude"], spent["select"]))
    print("all_seconds %.2f" % t_all)
    print("all_split %.1f %.1f %.1f" % (spent["matmul"], spent["exclude"],
                                        spent["select"]), flush=True)

    rng = np.random.default_rng(a.seed)
    times = []
    for r in rng.integers(0, U.shape[0], a.one_users):
        seen = indices[indptr[r]:indptr[r + 1]]
        t0 = time.perf_counter()
        recommend_one(U[r], V, seen, k)
        times.append(time.perf_counter() - t0)
    times = np.array(times) * 1000
    print("one_p50_ms %.3f" % np.percentile(times, 50))
    print("one_p99_ms %.3f" % np.percentile(times, 99), flush=True)

    if a.check <= 0:
        return
    user_pos = {key: r for r, key in enumerate(user_keys)}
    item_pos = {key: i for i, key in enumerate(item_keys)}
    users = [user_keys[r] for r in rng.choice(U.shape[0], a.check, replace=False)]
    lit = "ARRAY[%s]::text[]" % ",".join("'" + u.replace("'", "''") + "'" for u in users)
    qm = "'" + a.model.replace("'", "''") + "'"
    bad = False

    got = parse_lists(psql.lines(
        "SELECT u, r.item, r.score, r.rank FROM unnest(%s) u "
        "CROSS JOIN LATERAL recsys.recommend(%s, u, %d) r ORDER BY u, r.rank"
        % (lit, qm, k)))
    valid, same, problem = check(got, users, user_pos, item_pos, U, V,
                                 indptr, indices, top_np, k)
    print("check_recommend %d %d %d %s" % (len(users), valid, same, problem or "-"))
    bad |= valid != len(users)

    t0 = time.perf_counter()
    got = parse_lists(psql.lines(
        "SELECT \"user\", item, score, rank FROM recsys.recommend_all(%s, %d) "
        "WHERE \"user\" = ANY(%s) ORDER BY \"user\", rank" % (qm, k, lit)))
    t_rerun = time.perf_counter() - t0
    valid, same, problem = check(got, users, user_pos, item_pos, U, V,
                                 indptr, indices, top_np, k)
    print("check_recommend_all %d %d %d %s" % (len(users), valid, same, problem or "-"))
    print("all_rerun_seconds %.2f" % t_rerun)
    bad |= valid != len(users)

    # NumPy's own lists pass the same test (the check is not one-sided)
    got = {}
    Vd = V.astype(np.float64)
    for u in users:
        r = user_pos[u]
        exact = Vd @ U[r].astype(np.float64)
        got[u] = [(item_keys[i], exact[i]) for i in top_np[r]]
    valid, same, problem = check(got, users, user_pos, item_pos, U, V,
                                 indptr, indices, top_np, k)
    print("check_numpy %d %d %d %s" % (len(users), valid, same, problem or "-"))
    bad |= valid != len(users)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
