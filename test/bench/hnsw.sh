#!/bin/bash
# The recsys_hnsw index against hnswlib and faiss HNSW on the same vectors,
# in the same run, with the same m and ef_construction:
#
#   flock /tmp/recsys-bench.lock bash test/bench/hnsw.sh      (as root)
#
# Builds and installs recsys from this tree (scripts/lib.sh), starts a
# throwaway cluster as `postgres` (unix socket in a fresh /tmp directory,
# first free port from PORT, default 56100), and for three data sets:
#
#  random     N x D standard normal vectors (numpy, seed 1), Euclidean
#             (l2_ops): no structure at all, the hardest case;
#  clustered  N x D points of a Gaussian mixture of low intrinsic dimension
#             (1000 overlapping clusters of Zipf-like sizes, each an
#             8-dimensional Gaussian in a random subspace plus small
#             isotropic noise; seed 2; test/bench/hnsw_peer.py clustered()),
#             Euclidean: the structure learned embeddings have;
#  mf         the item factors of an ials model (64 factors) trained on
#             generate_dataset(users 20000, items 50000, 1M interactions),
#             inner product (ip_ops), queried with user factors;
#
#  1. the vectors are loaded (binary COPY) into an unlogged table;
#  2. CREATE INDEX ... USING recsys_hnsw WITH (m = M, ef_construction = EFC)
#     (maintenance_work_mem 4GB, one backend): seconds and pg_relation_size;
#     recsys.hnsw_cache_size is 2GB, so a backend keeps the copies of the
#     elements its scans read (the default, 256MB, holds about 600k
#     elements of 64 dimensions);
#  3. for each ef_search in EFS: the top 10 of 1000 queries through the
#     index (recall against brute-force numpy), and QPS of one client with a
#     prepared statement (pgbench -M prepared -c 1 -T SECS), the query vector
#     taken from a table by random id;
#  4. the peers (test/bench/hnsw_peer.py, /usr/bin/python3 with the Debian
#     python3-hnswlib / python3-faiss): single-threaded build, serialized
#     index size, recall and QPS (one query per call, one thread).
#
# Prints one table per data set.  Ratios are recsys over the peer for QPS
# (above 1: recsys faster) and peer over recsys for build time (above 1:
# recsys faster); size is also shown against the raw float4 bytes.  At
# matched recall: each implementation's QPS at the smallest ef_search in
# EFS whose recall@10 is at least 0.95, and their ratio.
# Environment: N (1000000), D (64), M (16), EFC (64),
# EFS (10,20,40,80,160,320,640), SECS (10), SETS (random,clustered,mf),
# PORT (56100), FAISS=0 (hnswlib only), SKIP_BUILD=1, KEEP=1.
# Not run by scripts/test.sh.
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

n=${N:-1000000}
d=${D:-64}
m=${M:-16}
efc=${EFC:-64}
efs=${EFS:-10,20,40,80,160,320,640}
sets=${SETS:-random,clustered,mf}
port_lo=${PORT:-56100}
secs=${SECS:-10}

bench_deps numpy hnswlib -- apt-get install python3-numpy python3-hnswlib python3-faiss
bench_pgbench
bench_start hnsw "$port_lo" $((port_lo + 9)) <<EOF
shared_buffers = 2GB
max_wal_size = 20GB
checkpoint_timeout = 30min
maintenance_work_mem = 4GB
max_parallel_workers_per_gather = 0
recsys.hnsw_cache_size = '2GB'
EOF
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
mkdir -p "$work/random" "$work/clustered" "$work/mf"
chown -R postgres "$work" 2>/dev/null || true

# bench NAME OPCLASS OPERATOR SPACE — index, recall files, QPS; then the peers
declare -A R
bench() {
	local name=$1 opc=$2 op=$3 space=$4 dir=$work/$1 t0 ef
	rs_log "$name: CREATE INDEX (m = $m, ef_construction = $efc)"
	t0=$(now)
	q "CREATE INDEX ${name}_idx ON ${name}_items USING recsys_hnsw (v recsys.$opc) WITH (m = $m, ef_construction = $efc)"
	R[$name,build]=$(secs_since "$t0")
	R[$name,bytes]=$(q "SELECT pg_relation_size('${name}_idx')")
	R[$name,raw]=$(q "SELECT count(*) * 4 * $d FROM ${name}_items")
	q "ANALYZE ${name}_items" >/dev/null
	mkdir -p "$dir/sql"
	chown -R postgres "$dir"
	cat >"$dir/query.sql" <<EOF
\set qid random(1, 1000)
SELECT id FROM ${name}_items ORDER BY v OPERATOR(recsys.$op) (SELECT v FROM ${name}_queries WHERE id = :qid) LIMIT 10;
EOF
	for ef in ${efs//,/ }; do
		rs_log "$name: ef_search $ef"
		q "SET recsys.ef_search = $ef; SET enable_seqscan = off;
		   COPY (SELECT q.id, (SELECT array_agg(id) FROM (SELECT id FROM ${name}_items
		           ORDER BY v OPERATOR(recsys.$op) q.v LIMIT 10) s) FROM ${name}_queries q ORDER BY q.id)
		   TO STDOUT" >"$dir/sql/ef$ef.tsv"
		R[$name,qps$ef]=$(cd / && PGOPTIONS="-c recsys.ef_search=$ef -c enable_seqscan=off" \
			rs_as_user "$PGBENCH" -n -M prepared -c 1 -T "$secs" -f "$dir/query.sql" \
			-h "$sockdir" -p "$port" -U postgres postgres 2>&1 </dev/null \
			| sed -n 's/^tps = \([0-9]*\).*/\1/p' | head -1)
	done
	rs_log "$name: peers (hnswlib, faiss), single-threaded"
	while read -r key val; do
		R[$name,$key]=$val
	done < <("$py" "$here/hnsw_peer.py" peer "$dir" "$space" "$m" "$efc" "$efs" "$dir/sql")
}

# synthetic NAME SEED KIND — generated vectors, Euclidean
synthetic() {
	local name=$1 seed=$2 kind=$3
	rs_log "$name: $n x $d vectors ($kind)"
	"$py" "$here/hnsw_peer.py" gen "$n" "$d" "$seed" "$work/$name" "$kind"
	chown -R postgres "$work/$name"
	q "CREATE UNLOGGED TABLE ${name}_items (id int, v recsys.embedding($d));
	   CREATE UNLOGGED TABLE ${name}_queries (id int PRIMARY KEY, v recsys.embedding($d));
	   COPY ${name}_items FROM '$work/$name/base.copy' WITH (FORMAT binary);
	   COPY ${name}_queries FROM '$work/$name/queries.copy' WITH (FORMAT binary)" >/dev/null
	q "VACUUM ANALYZE ${name}_items" >/dev/null
	bench "$name" embedding_l2_ops '<->' l2
}

has_set() { [[ ",$sets," == *",$1,"* ]]; }
has_set random && synthetic random 1 normal
has_set clustered && synthetic clustered 2 clustered

if has_set mf; then
rs_log "mf: training ials (64 factors)"
q "SELECT * FROM recsys.generate_dataset('mfb', users => 20000, items => 50000, interactions => 1000000, seed => 7, factors => 16)" >/dev/null
q "SELECT * FROM recsys.train('mfb', 'mfb_interactions', 'user_id', 'item_id', 'clicks', 'ials', '{\"factors\": 64, \"iterations\": 8}')" >/dev/null
q "CREATE UNLOGGED TABLE mf_items AS SELECT row_number() OVER (ORDER BY item_idx)::int AS id, factors AS v
     FROM recsys.item_factors WHERE model = 'mfb';
   CREATE UNLOGGED TABLE mf_queries AS SELECT row_number() OVER (ORDER BY user_idx)::int AS id, factors AS v
     FROM recsys.user_factors WHERE model = 'mfb' ORDER BY user_idx LIMIT 1000;
   ALTER TABLE mf_queries ADD PRIMARY KEY (id)" >/dev/null
q "VACUUM ANALYZE mf_items" >/dev/null
q "COPY (SELECT id, v::real[] FROM mf_items) TO STDOUT" >"$work/mf/base.tsv"
q "COPY (SELECT id, v::real[] FROM mf_queries) TO STDOUT" >"$work/mf/queries.tsv"
"$py" "$here/hnsw_peer.py" npy "$work/mf/base.tsv" "$work/mf/base.npy"
"$py" "$here/hnsw_peer.py" npy "$work/mf/queries.tsv" "$work/mf/queries.npy"
spread=$(q "SELECT round((max(recsys.norm(v)) / percentile_cont(0.5) WITHIN GROUP (ORDER BY recsys.norm(v)))::numeric, 1) FROM mf_items")
mf_n=$(q "SELECT count(*) FROM mf_items")
d_save=$d
d=64
bench mf embedding_ip_ops '<#>' ip
d=$d_save
fi

bench_same_install

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx", a / b}'; }
mib() { awk -v b="$1" 'BEGIN {if (b == "") print "-"; else printf "%.1f MiB", b / 1048576}'; }
row() { printf '| %-35s | %12s | %12s | %12s | %10s | %8s |\n' "$@"; }
# at95 NAME IMPL QPSKEYPREFIX — "QPS (ef N)" at the smallest ef with recall >= 0.95
at95() {
	local ef
	for ef in ${efs//,/ }; do
		if awk -v r="${R[$1,$2_recall_ef$ef]:-0}" 'BEGIN {exit !(r >= 0.95)}'; then
			printf '%s %s\n' "${R[$1,$3$ef]:-}" "$ef"
			return
		fi
	done
	printf '%s\n' "- -"
}

echo
bench_header recsys_hnsw
echo "m = $m, ef_construction = $efc; QPS: recsys one client, prepared statement (pgbench, $secs s), recsys.hnsw_cache_size 2GB; peers one thread, one query per call"
for name in ${sets//,/ }; do
	echo
	case $name in
		random) echo "### random: $n x $d standard normal, Euclidean" ;;
		clustered) echo "### clustered: $n x $d Gaussian mixture (1000 clusters, intrinsic dimension 8), Euclidean" ;;
		mf) echo "### mf: $mf_n ials item factors x 64, inner product (norm max/median $spread), user factors as queries" ;;
	esac
	row "metric" "recsys" "hnswlib" "faiss" "vs hnswlib" "vs faiss"
	row "---" "---" "---" "---" "---" "---"
	row "build seconds" "${R[$name,build]}" "${R[$name,hnswlib_build_seconds]:-}" "${R[$name,faiss_build_seconds]:-}" \
		"$(ratio "${R[$name,hnswlib_build_seconds]:-}" "${R[$name,build]}")" "$(ratio "${R[$name,faiss_build_seconds]:-}" "${R[$name,build]}")"
	row "index size" "$(mib "${R[$name,bytes]}")" "$(mib "${R[$name,hnswlib_bytes]:-}")" "$(mib "${R[$name,faiss_bytes]:-}")" \
		"$(ratio "${R[$name,bytes]}" "${R[$name,hnswlib_bytes]:-}")" "$(ratio "${R[$name,bytes]}" "${R[$name,faiss_bytes]:-}")"
	row "index size / raw vectors" "$(ratio "${R[$name,bytes]}" "${R[$name,raw]}")" "$(ratio "${R[$name,hnswlib_bytes]:-}" "${R[$name,raw]}")" \
		"$(ratio "${R[$name,faiss_bytes]:-}" "${R[$name,raw]}")" "" ""
	for ef in ${efs//,/ }; do
		row "recall@10, ef_search $ef" "${R[$name,recsys_recall_ef$ef]:-}" "${R[$name,hnswlib_recall_ef$ef]:-}" "${R[$name,faiss_recall_ef$ef]:-}" "" ""
	done
	for ef in ${efs//,/ }; do
		row "QPS, ef_search $ef" "${R[$name,qps$ef]:-}" "${R[$name,hnswlib_qps_ef$ef]:-}" "${R[$name,faiss_qps_ef$ef]:-}" \
			"$(ratio "${R[$name,qps$ef]:-}" "${R[$name,hnswlib_qps_ef$ef]:-}")" "$(ratio "${R[$name,qps$ef]:-}" "${R[$name,faiss_qps_ef$ef]:-}")"
	done
	read -r rq ref < <(at95 "$name" recsys qps)
	read -r hq hef < <(at95 "$name" hnswlib hnswlib_qps_ef)
	read -r fq fef < <(at95 "$name" faiss faiss_qps_ef)
	row "first ef_search with recall >= 0.95" "$ref" "$hef" "$fef" "" ""
	row "QPS at that ef_search" "$rq" "$hq" "$fq" "$(ratio "${rq#-}" "${hq#-}")" "$(ratio "${rq#-}" "${fq#-}")"
done
