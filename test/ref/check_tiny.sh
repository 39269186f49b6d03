#!/bin/sh
# The C cores against the NumPy references on tiny hand-checkable
# matrices: the committed expected predictions (test/ref/*_tiny.expected)
# must still be what the references print, and the C cores, run to
# convergence from the same seed, must print the same predictions to 1e-4
# with the exact (Cholesky) and with the conjugate-gradient solver.
# The same for als without biases (test/ref/als_nobias_ref.py), for nmf
# (test/ref/nmf_ref.py: SciPy's NNLS per entity), and for
# the time-decayed objectives (test/ref/decay_ref.py: each
# interaction weighted by 0.5^(age / half_life)).
#
#   sh test/ref/check_tiny.sh        (after make -C test/core; run by its check)
set -u
here=$(cd "$(dirname "$0")" && pwd)
core=${RS_ALS_CORE:-$here/../core/als_core}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

t() { "$@" || fail=1; }

$py "$here/als_ref.py" --triplets "$tmp/als.bin" > "$tmp/als.ref"
$py "$here/ials_ref.py" --triplets "$tmp/ials.bin" > "$tmp/ials.ref"
t $py "$here/compare_preds.py" "$here/als_tiny.expected" "$tmp/als.ref" 1e-6 "als reference reproduces als_tiny.expected"
t $py "$here/compare_preds.py" "$here/ials_tiny.expected" "$tmp/ials.ref" 1e-6 "ials reference reproduces ials_tiny.expected"

common="--iterations 1000 --init-std 0.1 --seed 42 --predict --quiet"
"$core" als "$tmp/als.bin" --factors 1 --reg 0.1 --bias-reg 0.1 $common --cholesky > "$tmp/als.chol"
t $py "$here/compare_preds.py" "$here/als_tiny.expected" "$tmp/als.chol" 1e-4 "als (cholesky) matches the reference"
"$core" als "$tmp/als.bin" --factors 1 --reg 0.1 --bias-reg 0.1 $common --cg-steps 3 > "$tmp/als.cg"
t $py "$here/compare_preds.py" "$here/als_tiny.expected" "$tmp/als.cg" 1e-4 "als (cg, 3 steps) matches the reference"
"$core" als "$tmp/als.bin" --factors 1 --reg 0.1 --bias-reg 0.1 $common --cholesky --threads 2 > "$tmp/als.chol2"
t $py "$here/compare_preds.py" "$tmp/als.chol" "$tmp/als.chol2" 0 "als: 2 threads give the same model as 1"

"$core" ials "$tmp/ials.bin" --factors 2 --alpha 2 --reg 0.1 $common --cholesky > "$tmp/ials.chol"
t $py "$here/compare_preds.py" "$here/ials_tiny.expected" "$tmp/ials.chol" 1e-4 "ials (cholesky) matches the reference"
"$core" ials "$tmp/ials.bin" --factors 2 --alpha 2 --reg 0.1 $common --cg-steps 3 > "$tmp/ials.cg"
t $py "$here/compare_preds.py" "$here/ials_tiny.expected" "$tmp/ials.cg" 1e-4 "ials (cg, 3 steps) matches the reference"
"$core" ials "$tmp/ials.bin" --factors 2 --alpha 2 --reg 0.1 $common --cg-steps 1 > "$tmp/ials.cg1"
t $py "$here/compare_preds.py" "$here/ials_tiny.expected" "$tmp/ials.cg1" 1e-4 "ials (cg, 1 step, warm-started) matches the reference"

# als without biases ("biases": false), with and without mu: k = 2
$py "$here/als_nobias_ref.py" --triplets "$tmp/nb.bin" > "$tmp/nb.ref"
$py "$here/als_nobias_ref.py" --no-global-mean > "$tmp/nb0.ref"
t $py "$here/compare_preds.py" "$here/als_nobias_tiny.expected" "$tmp/nb.ref" 1e-6 "als without biases: reference reproduces als_nobias_tiny.expected"
t $py "$here/compare_preds.py" "$here/als_nobias0_tiny.expected" "$tmp/nb0.ref" 1e-6 "als without biases or mu: reference reproduces als_nobias0_tiny.expected"
for solver in "--cholesky" "--cg-steps 3" "--cg-steps 1"; do
	"$core" als "$tmp/nb.bin" --factors 2 --reg 0.1 --no-biases $common $solver > "$tmp/nb.c"
	t $py "$here/compare_preds.py" "$here/als_nobias_tiny.expected" "$tmp/nb.c" 1e-4 "als without biases ($solver) matches the reference"
	"$core" als "$tmp/nb.bin" --factors 2 --reg 0.1 --no-biases --no-global-mean $common $solver > "$tmp/nb0.c"
	t $py "$here/compare_preds.py" "$here/als_nobias0_tiny.expected" "$tmp/nb0.c" 1e-4 "als without biases or mu ($solver) matches the reference"
done

# nmf: nonnegative factors, by SciPy's NNLS in nmf_ref.py; k = 2, with
# and without biases (the default: p_u.q_i alone)
$py "$here/nmf_ref.py" --triplets "$tmp/nmf.bin" > "$tmp/nmf.ref"
$py "$here/nmf_ref.py" --biases > "$tmp/nmfb.ref"
t $py "$here/compare_preds.py" "$here/nmf_tiny.expected" "$tmp/nmf.ref" 1e-6 "nmf reference reproduces nmf_tiny.expected"
t $py "$here/compare_preds.py" "$here/nmf_bias_tiny.expected" "$tmp/nmfb.ref" 1e-6 "nmf with biases: reference reproduces nmf_bias_tiny.expected"
"$core" nmf "$tmp/nmf.bin" --factors 2 --reg 0.1 --no-biases --no-global-mean $common > "$tmp/nmf.c"
t $py "$here/compare_preds.py" "$here/nmf_tiny.expected" "$tmp/nmf.c" 1e-4 "nmf matches the reference"
"$core" nmf "$tmp/nmf.bin" --factors 2 --reg 0.1 --no-biases --no-global-mean $common --threads 2 > "$tmp/nmf2.c"
t $py "$here/compare_preds.py" "$tmp/nmf.c" "$tmp/nmf2.c" 0 "nmf: 2 threads give the same model as 1"
"$core" nmf "$tmp/nmf.bin" --factors 2 --reg 0.1 --bias-reg 0.05 $common > "$tmp/nmfb.c"
t $py "$here/compare_preds.py" "$here/nmf_bias_tiny.expected" "$tmp/nmfb.c" 1e-4 "nmf with biases matches the reference"

# time decay: weighted least squares (decay_ref.py) on the same matrices with times
$py "$here/decay_ref.py" als --triplets "$tmp/als_t.txt" > "$tmp/als_decay.ref"
$py "$here/decay_ref.py" ials --triplets "$tmp/ials_t.txt" > "$tmp/ials_decay.ref"
t $py "$here/compare_preds.py" "$here/als_decay.expected" "$tmp/als_decay.ref" 1e-6 "decayed als reference reproduces als_decay.expected"
t $py "$here/compare_preds.py" "$here/ials_decay.expected" "$tmp/ials_decay.ref" 1e-6 "decayed ials reference reproduces ials_decay.expected"
decay="--half-life 259200"
for solver in "--cholesky" "--cg-steps 3" "--cg-steps 1"; do
	"$core" als "$tmp/als_t.txt" --factors 1 --reg 0.1 --bias-reg 0.1 $common $solver $decay > "$tmp/als_d"
	t $py "$here/compare_preds.py" "$here/als_decay.expected" "$tmp/als_d" 1e-4 "decayed als ($solver) matches the reference"
	"$core" ials "$tmp/ials_t.txt" --factors 2 --alpha 2 --reg 0.1 $common $solver $decay > "$tmp/ials_d"
	t $py "$here/compare_preds.py" "$here/ials_decay.expected" "$tmp/ials_d" 1e-4 "decayed ials ($solver) matches the reference"
done
"$core" als "$tmp/als_t.txt" --factors 1 --reg 0.1 --bias-reg 0.1 $common --cholesky $decay --threads 2 > "$tmp/als_d2"
"$core" als "$tmp/als_t.txt" --factors 1 --reg 0.1 --bias-reg 0.1 $common --cholesky $decay > "$tmp/als_d1"
t $py "$here/compare_preds.py" "$tmp/als_d1" "$tmp/als_d2" 0 "decayed als: 2 threads give the same model as 1"
"$core" ials "$tmp/ials_t.txt" --factors 2 --alpha 2 --reg 0.1 $common --cg-steps 3 $decay --threads 2 > "$tmp/ials_d2"
"$core" ials "$tmp/ials_t.txt" --factors 2 --alpha 2 --reg 0.1 $common --cg-steps 3 $decay > "$tmp/ials_d1"
t $py "$here/compare_preds.py" "$tmp/ials_d1" "$tmp/ials_d2" 0 "decayed ials: 2 threads give the same model as 1"
# a half-life so long that every weight is 1: the undecayed models
"$core" als "$tmp/als_t.txt" --factors 1 --reg 0.1 --bias-reg 0.1 $common --cholesky --half-life 1e300 > "$tmp/als_w1"
t $py "$here/compare_preds.py" "$here/als_tiny.expected" "$tmp/als_w1" 1e-4 "als with every weight 1 matches the undecayed reference"
"$core" ials "$tmp/ials_t.txt" --factors 2 --alpha 2 --reg 0.1 $common --cholesky --half-life 1e300 > "$tmp/ials_w1"
t $py "$here/compare_preds.py" "$tmp/ials.chol" "$tmp/ials_w1" 0 "ials with every weight 1 is the undecayed model exactly"

exit $fail
