#!/usr/bin/env python3
"""Cost model of training ALS on a distributed PostgreSQL (doc/scale-out.md).

Two strategies for N interactions sharded over W workers:

  pull    (what recsys does today): the coordinator fetches every row from
          the shards, builds the matrix and trains alone.
          time = N * max(1 / ingest, row_bytes / bandwidth) + iterations * N * t_nnz
          memory on the coordinator = N * bytes_per_nnz (must fit)

  push    (training steps as aggregates the engine pushes down): the
          interactions are kept twice, sharded by user and by item; each
          half-step is one GROUP BY that every worker runs over its shard,
          after receiving the other side's factors (the broadcast: every
          worker receives all of them).
          time = N * row_bytes / (W * bandwidth)                (the by-item copy, once)
               + iterations * ( (U + I) * 4k / bandwidth         (two broadcasts)
                                + N * t_nnz / W                  (the work, split)
                                + 2 * statement_overhead )
               + (U + I) * 4k / bandwidth                        (the factors gathered once)

  built   ("execution": "sql" as it is today, src/train_sql.c): push's
          statements, but the source is first read once into the
          coordinator (the keys, the counts and the seen lists the catalog
          keeps), which must fit there as for pull; the factors of each
          half-step come back to the coordinator and go out again; and a
          step costs t_nnz_sql per interaction (PostgreSQL's aggregate,
          measured by test/bench/train_sql.sql), not the trainer's t_nnz.
          time = N * max(1 / ingest, row_bytes / bandwidth)        (the read)
               + iterations * ( 2 * (U + I) * 4k / bandwidth
                                + N * t_nnz_sql / W + 2 * statement_overhead )

U and I grow with N in MovieLens-20M's proportions (138k users, 27k items
for 20M).  A worker, and the coordinator, are each as fast as the machine
the inputs were measured on.  Every input is a command-line option; the
defaults are the measurements of doc/benchmarks.md (2-vCPU AMD EPYC,
2026-12-02) and the assumptions stated in doc/scale-out.md.

Prints a Markdown table (seconds per training, pull / push, and which
wins) and the crossover size for each worker count: the N from which the
pushed-down mode is faster.  Standard library only.
"""

import argparse
import math


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--t-nnz", type=float, default=0.85 / 20e6,
                   help="seconds per interaction per ALS iteration on one node "
                        "(measured: 0.85 s per iteration for 20M, 2 threads)")
    p.add_argument("--t-nnz-sql", type=float, default=None,
                   help="seconds per interaction per iteration of execution sql's "
                        "two steps on one node (test/bench/train_sql.sql); "
                        "without it, no table of what is built")
    p.add_argument("--ingest", type=float, default=20e6 / 8.0,
                   help="rows per second one node reads into a training "
                        "(measured: 20M rows loaded in 8 s)")
    p.add_argument("--bytes-per-nnz", type=float, default=709 * 2**20 / 20e6,
                   help="peak backend bytes per interaction while training "
                        "(measured: 709 MiB VmHWM for 20M)")
    p.add_argument("--coordinator-memory", type=float, default=256 * 2**30,
                   help="bytes a coordinator backend may use (assumed: 256 GiB)")
    p.add_argument("--bandwidth", type=float, default=1.25e9,
                   help="bytes per second into one node (assumed: 10 Gbit/s)")
    p.add_argument("--row-bytes", type=float, default=24.0,
                   help="bytes of one interaction moved between workers "
                        "(user, item, rating and tuple overhead)")
    p.add_argument("--statement-overhead", type=float, default=0.1,
                   help="seconds of fixed cost per distributed statement (assumed)")
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--users-per-nnz", type=float, default=138e3 / 20e6)
    p.add_argument("--items-per-nnz", type=float, default=27e3 / 20e6)
    p.add_argument("--sizes", default="1e7,1e8,1e9,1e10")
    p.add_argument("--workers", default="2,4,8,16,32,64")
    return p.parse_args()


def entities(a, n):
    return n * (a.users_per_nnz + a.items_per_nnz)


def pull(a, n):
    """Seconds, or None when the matrix does not fit the coordinator."""
    if n * a.bytes_per_nnz > a.coordinator_memory:
        return None
    return n * max(1 / a.ingest, a.row_bytes / a.bandwidth) + a.iterations * n * a.t_nnz


def push(a, n, w):
    factors_bytes = entities(a, n) * 4 * a.factors
    per_iteration = (factors_bytes / a.bandwidth + n * a.t_nnz / w
                     + 2 * a.statement_overhead)
    return (n * a.row_bytes / (w * a.bandwidth) + a.iterations * per_iteration
            + factors_bytes / a.bandwidth)


def built(a, n, w):
    """Seconds of execution sql as built, or None when the read does not fit."""
    if n * a.bytes_per_nnz > a.coordinator_memory:
        return None
    factors_bytes = entities(a, n) * 4 * a.factors
    per_iteration = (2 * factors_bytes / a.bandwidth + n * a.t_nnz_sql / w
                     + 2 * a.statement_overhead)
    return n * max(1 / a.ingest, a.row_bytes / a.bandwidth) + a.iterations * per_iteration


def crossover(a, w):
    """The N from which push is faster than pull (both are b + c*N)."""
    slope_pull = max(1 / a.ingest, a.row_bytes / a.bandwidth) + a.iterations * a.t_nnz
    per_nnz_factors = (a.users_per_nnz + a.items_per_nnz) * 4 * a.factors / a.bandwidth
    slope_push = (a.row_bytes / (w * a.bandwidth)
                  + a.iterations * (per_nnz_factors + a.t_nnz / w) + per_nnz_factors)
    fixed_push = a.iterations * 2 * a.statement_overhead
    if slope_push >= slope_pull:
        return math.inf
    return fixed_push / (slope_pull - slope_push)


def human(n):
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            v = n / size
            return ("%.0f%s" if v >= 10 else "%.1f%s") % (v, unit)
    return "%.0f" % n


def seconds(s):
    if s is None:
        return "does not fit"
    if s >= 3600:
        return "%.1f h" % (s / 3600)
    if s >= 60:
        return "%.0f min" % (s / 60)
    return "%.1f s" % s


def time_table(a, sizes, workers, name, strategy, ratio_format):
    """Seconds per training of a strategy, with the ratio pull / it."""
    print("| interactions | pull (coordinator alone) | "
          + " | ".join("%s, %d workers" % (name, w) for w in workers) + " |")
    print("|---|---|" + "---|" * len(workers))
    for n in sizes:
        t_pull = pull(a, n)
        cells = []
        for w in workers:
            t = strategy(a, n, w)
            mark = (" (" + ratio_format + "×)") % (t_pull / t) \
                if t_pull is not None and t is not None else ""
            cells.append(seconds(t) + mark)
        print("| %s | %s | %s |" % (human(n), seconds(t_pull), " | ".join(cells)))


def main():
    a = parse_args()
    sizes = [float(x) for x in a.sizes.split(",")]
    workers = [int(x) for x in a.workers.split(",")]
    time_table(a, sizes, workers, "push", push, "%.0f")
    print()
    print("| workers | push faster from |")
    print("|---|---|")
    for w in workers:
        c = crossover(a, w)
        print("| %d | %s |" % (w, "never" if math.isinf(c) else human(c) + " interactions"))
    if a.t_nnz_sql is not None:
        print()
        time_table(a, sizes, workers, "execution sql as built", built, "%.2g")
    print()
    print("inputs: t_nnz %.3g s, ingest %.3g rows/s, %.1f bytes/nnz, coordinator %.0f GiB, "
          "bandwidth %.3g B/s, row %.0f B, statement %.2f s, k %d, %d iterations"
          % (a.t_nnz, a.ingest, a.bytes_per_nnz, a.coordinator_memory / 2**30, a.bandwidth,
             a.row_bytes, a.statement_overhead, a.factors, a.iterations)
          + ("" if a.t_nnz_sql is None else ", t_nnz_sql %.3g s" % a.t_nnz_sql))


if __name__ == "__main__":
    main()
