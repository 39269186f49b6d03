"""NumPy/SciPy reference implementations of the recsys training cores.

Written from the objectives documented at the top of src/core/als.c and
src/core/ials.c, independently of the C code: the tiny checks (als_ref.py,
ials_ref.py) and the benchmark (test/bench/train_core.sh) use them, and
svd_ref.py the port of src/core/rng.h.

- rs_rng_normal_matrix(): the same initial factors as the C cores (a port
  of src/core/rng.h: xoshiro256** seeded by splitmix64, Box-Muller), so that a
  reference run follows the same trajectory as the C one;
- als_exact / ials_exact: one dense solve per entity (numpy.linalg);
- als_cg / ials_cg: the same warm-started conjugate gradient as the C
  cores, vectorised over blocks of entities with gathers and SciPy sparse
  products (the fast way to write it in NumPy);
- als_loss / ials_loss: the objectives, computed directly.
"""
import math

import sys

import numpy as np
import scipy.sparse as sp

M64 = (1 << 64) - 1


def _splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


class RsRng:
    """Port of src/core/rng.h (for initial factors; slow, fine for tests)."""

    def __init__(self, seed, stream):
        x = (seed ^ ((stream * 0xD1B54A32D192ED03) & M64)) & M64
        self.s = []
        for _ in range(4):
            x, z = _splitmix64(x)
            self.s.append(z)

    def next(self):
        s = self.s
        t = (s[1] << 17) & M64
        v = (s[1] * 5) & M64
        v = ((((v << 7) | (v >> 57)) & M64) * 9) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & M64
        return v

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def below(self, n):
        if n <= 0xFFFFFFFF:
            return ((self.next() >> 32) * n) >> 32
        return self.next() % n

    def normal(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)


def init_factors(n, k, sd, seed, stream0):
    """Factors as the C cores draw them: one stream per entity."""
    f = np.empty((n, k), np.float64)
    for e in range(n):
        r = RsRng(seed, stream0 + e)
        for j in range(k):
            f[e, j] = np.float32(sd * r.normal())
    return f


def csr_pair(u, i, r, nu, ni):
    """Rows by user and by item (scipy CSR, sorted indices)."""
    R = sp.csr_matrix((r.astype(np.float64), (u, i)), shape=(nu, ni))
    R.sort_indices()
    Rt = R.T.tocsr()
    Rt.sort_indices()
    return R, Rt


# ---------------------------------------------------------------- ALS

def als_loss(R, mu, P, bu, Q, bi, lam, lam_b):
    """L / |R| for the objective in src/core/als.c."""
    coo = R.tocoo()
    pred = mu + bu[coo.row] + bi[coo.col] + np.einsum(
        "ij,ij->i", P[coo.row], Q[coo.col])
    err = ((coo.data - pred) ** 2).sum()
    nu = np.diff(R.indptr)
    ni = np.diff(R.tocsc().indptr)
    reg = (nu * (lam * (P * P).sum(1) + lam_b * bu * bu)).sum() + \
        (ni * (lam * (Q * Q).sum(1) + lam_b * bi * bi)).sum()
    return (err + reg) / R.nnz


def tiny_problem(tiny, nu, ni):
    """The CSR pair of a tiny (user, item, value) list; with the arguments
    --triplets FILE, also writes it for the C driver."""
    u = np.array([t[0] for t in tiny], np.int32)
    i = np.array([t[1] for t in tiny], np.int32)
    r = np.array([t[2] for t in tiny], np.float32)
    if len(sys.argv) == 3 and sys.argv[1] == "--triplets":
        write_triplets(sys.argv[2], u, i, r)
    return csr_pair(u, i, r, nu, ni)


def als_exact_half(R, mu, X, xb, Y, yb, lam, lam_b):
    """Solve every row of X, xb exactly given Y, yb (in place)."""
    k = X.shape[1]
    for e in range(R.shape[0]):
        lo, hi = R.indptr[e], R.indptr[e + 1]
        n = hi - lo
        if n == 0:
            X[e] = 0
            xb[e] = 0
            continue
        idx = R.indices[lo:hi]
        A = np.hstack([Y[idx], np.ones((n, 1))])
        t = R.data[lo:hi] - mu - yb[idx]
        M = A.T @ A + n * np.diag([lam] * k + [lam_b])
        x = np.linalg.solve(M, A.T @ t)
        X[e] = x[:k]
        xb[e] = x[k]


def _block_rows(R, block_nnz):
    start = 0
    n = R.shape[0]
    while start < n:
        end = int(np.searchsorted(R.indptr, R.indptr[start] + block_nnz,
                                  side="right")) - 1
        end = min(max(end, start + 1), n)
        yield start, end
        start = end


def _cg_steps(x, r, matvec, steps):
    """steps conjugate-gradient steps on every row of x at once (in place):
    r is the residual b - A x, matvec(p) the rows' A p."""
    p = r.copy()
    rsold = (r * r).sum(1)
    for _ in range(steps):
        ap = matvec(p)
        pap = (p * ap).sum(1)
        ok = (rsold > 1e-20) & (pap > 0)
        a = np.where(ok, rsold / np.where(ok, pap, 1), 0)
        x += a[:, None] * p
        r -= a[:, None] * ap
        rsnew = (r * r).sum(1)
        beta = np.where(ok, rsnew / np.where(ok, rsold, 1), 0)
        p = r + beta[:, None] * p
        rsold = rsnew


def als_cg_half(R, mu, X, xb, Y, yb, lam, lam_b, steps, block_nnz=1 << 19):
    """cg_steps warm-started CG on [x; b] per row, vectorised by blocks."""
    Ya = np.hstack([Y, np.ones((Y.shape[0], 1), Y.dtype)])
    k1 = Ya.shape[1]
    nall = np.diff(R.indptr)
    for s, e in _block_rows(R, block_nnz):
        lo, hi = R.indptr[s], R.indptr[e]
        idx = R.indices[lo:hi]
        ptr = R.indptr[s:e + 1] - lo
        n = nall[s:e]
        rows = np.repeat(np.arange(e - s), n)
        G = Ya[idx]                                   # gathered features
        reg = np.outer(n, np.r_[np.full(k1 - 1, lam), lam_b]).astype(Y.dtype)
        x = np.hstack([X[s:e], xb[s:e, None]])
        t = (R.data[lo:hi] - mu - yb[idx]).astype(Y.dtype)
        sdot = np.einsum("ij,ij->i", G, x[rows])
        S = sp.csr_matrix((t - sdot, idx, ptr), shape=(e - s, Y.shape[0]))
        r = S @ Ya - reg * x

        def matvec(p):
            tt = np.einsum("ij,ij->i", G, p[rows])
            S = sp.csr_matrix((tt, idx, ptr), shape=(e - s, Y.shape[0]))
            return S @ Ya + reg * p

        _cg_steps(x, r, matvec, steps)
        x[n == 0] = 0
        X[s:e] = x[:, :-1]
        xb[s:e] = x[:, -1]


def als_train(R, Rt, k, iters, lam, lam_b, init_std, seed, solver="exact",
              steps=3, dtype=np.float64, P=None, Q=None, callback=None):
    nu, ni = R.shape
    mu = R.data.mean()
    if P is None:
        P = init_factors(nu, k, init_std, seed, 0)
        Q = init_factors(ni, k, init_std, seed, nu)
    P = P.astype(dtype)
    Q = Q.astype(dtype)
    bu = np.zeros(nu, dtype)
    bi = np.zeros(ni, dtype)
    losses = []
    for it in range(iters):
        if solver == "exact":
            als_exact_half(R, mu, P, bu, Q, bi, lam, lam_b)
            als_exact_half(Rt, mu, Q, bi, P, bu, lam, lam_b)
        else:
            als_cg_half(R, mu, P, bu, Q, bi, lam, lam_b, steps)
            als_cg_half(Rt, mu, Q, bi, P, bu, lam, lam_b, steps)
        if callback:
            callback(it)
        else:
            losses.append(als_loss(R, mu, P, bu, Q, bi, lam, lam_b))
    return mu, P, bu, Q, bi, losses


# ---------------------------------------------------------------- iALS

def ials_loss(R, X, Y, alpha, lam):
    """Full weighted objective of src/core/ials.c / (n_users * n_items), dense."""
    nu, ni = R.shape
    C = 1.0 + alpha * R.toarray()
    Pm = (R.toarray() != 0).astype(np.float64)
    # observed cells have preference 1 even if their value is 0
    Pm[R.nonzero()] = 1.0
    S = X @ Y.T
    L = (C * (Pm - S) ** 2).sum() + lam * ((X * X).sum() + (Y * Y).sum())
    return L / (nu * ni)


def ials_exact_half(R, X, Y, alpha, lam):
    k = X.shape[1]
    YtY = Y.T @ Y
    for e in range(R.shape[0]):
        lo, hi = R.indptr[e], R.indptr[e + 1]
        idx = R.indices[lo:hi]
        w = alpha * R.data[lo:hi]
        Yi = Y[idx]
        M = YtY + (Yi.T * w) @ Yi + lam * np.eye(k)
        b = ((1.0 + w)[:, None] * Yi).sum(0)
        X[e] = np.linalg.solve(M, b)


def ials_cg_half(R, X, Y, alpha, lam, steps, block_nnz=1 << 19):
    """HKV with warm-started CG, vectorised over blocks of rows."""
    k = X.shape[1]
    A0 = Y.T @ Y + lam * np.eye(k, dtype=Y.dtype)
    nall = np.diff(R.indptr)
    for s, e in _block_rows(R, block_nnz):
        lo, hi = R.indptr[s], R.indptr[e]
        idx = R.indices[lo:hi]
        ptr = R.indptr[s:e + 1] - lo
        rows = np.repeat(np.arange(e - s), nall[s:e])
        w = (alpha * R.data[lo:hi]).astype(Y.dtype)
        G = Y[idx]
        x = X[s:e]
        sdot = np.einsum("ij,ij->i", G, x[rows])
        S = sp.csr_matrix((1.0 + w - w * sdot, idx, ptr),
                          shape=(e - s, Y.shape[0]))
        r = S @ Y - x @ A0

        def matvec(p):
            tt = np.einsum("ij,ij->i", G, p[rows])
            S = sp.csr_matrix((w * tt, idx, ptr), shape=(e - s, Y.shape[0]))
            return p @ A0 + S @ Y

        _cg_steps(x, r, matvec, steps)
        x[nall[s:e] == 0] = 0
        X[s:e] = x


def ials_train(R, Rt, k, iters, alpha, lam, init_std, seed, solver="exact",
               steps=3, dtype=np.float64, X=None, Y=None, callback=None):
    nu, ni = R.shape
    if X is None:
        X = init_factors(nu, k, init_std, seed, 0)
        Y = init_factors(ni, k, init_std, seed, nu)
    X = X.astype(dtype)
    Y = Y.astype(dtype)
    losses = []
    for it in range(iters):
        if solver == "exact":
            ials_exact_half(R, X, Y, alpha, lam)
            ials_exact_half(Rt, Y, X, alpha, lam)
        else:
            ials_cg_half(R, X, Y, alpha, lam, steps)
            ials_cg_half(Rt, Y, X, alpha, lam, steps)
        if callback:
            callback(it)
        else:
            losses.append(ials_loss(R, X, Y, alpha, lam))
    return X, Y, losses


def read_triplets(path):
    rec = np.fromfile(path, dtype=[("u", "<i4"), ("i", "<i4"), ("r", "<f4")])
    return rec["u"], rec["i"], rec["r"]


def write_triplets(path, u, i, r):
    rec = np.empty(len(u), dtype=[("u", "<i4"), ("i", "<i4"), ("r", "<f4")])
    rec["u"], rec["i"], rec["r"] = u, i, r
    rec.tofile(path)


def read_model(path):
    with open(path, "rb") as f:
        nu, ni, k, has_bias = np.fromfile(f, "<i4", 4)
        mean = np.fromfile(f, "<f8", 1)[0]
        bu = bi = None
        if has_bias:
            bu = np.fromfile(f, "<f4", nu)
            bi = np.fromfile(f, "<f4", ni)
        P = np.fromfile(f, "<f4", nu * k).reshape(nu, k)
        Q = np.fromfile(f, "<f4", ni * k).reshape(ni, k)
    return dict(mean=mean, bu=bu, bi=bi, P=P, Q=Q)
