#!/usr/bin/env python3
"""scripts/check_structure.py — the shape of src/, checked on a built tree.

    python3 scripts/check_structure.py [TREE]      (TREE: default .)

Run after `make` in TREE.  Prints one `ok N - ...` or `not ok N - ...` line
per check (scripts/test.sh counts them) and exits non-zero if one failed:

 1. the core is plain C: no file of src/core/ includes a PostgreSQL header
    or a header from outside src/core/ (`make check-core` also compiles
    each one without PostgreSQL's include directory);
 2. no include loop: the graph "x includes y.h" between the files of src/
    (x.c and x.h are one node) has no cycle;
 3. no call loop: the graph "x.o calls a function or reads a variable that
    y.o defines", read from the objects with nm, has no cycle;
 4. no file of src/ is over 1,200 lines;
 5. automatic header dependencies work: for every header of src/, after it
    is touched `make -n` would rebuild every object whose source includes
    it, directly or through other headers (worked out here from the
    #include lines, independently of the compiler's dependency files);
 6. doc/architecture.md is true: every file of src/ has a row in one of its
    tables, and each file calls (check 3's graph) only files its row lists;
 7. the differences between PostgreSQL majors live in src/compat.h: no
    other file of src/ tests PG_VERSION_NUM.
"""
import os
import re
import subprocess
import sys

tree = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else '.')
src = os.path.join(tree, 'src')
MAX_LINES = 1200
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
PG_HEADER = re.compile(r'^(postgres|postgres_fe|c|fmgr|miscadmin|funcapi|pgstat|pg_config)\.h$'
                       r'|^(access|catalog|commands|common|executor|lib|libpq|mb|nodes|optimizer|'
                       r'parser|port|storage|tcop|utils|datatype)/')

results = []


def check(ok, what, detail=''):
    results.append((ok, what, detail))


def files():
    out = []
    for d, _, names in os.walk(src):
        for n in sorted(names):
            if n.endswith(('.c', '.h')):
                out.append(os.path.join(d, n))
    return sorted(out)


def node(path):
    return os.path.splitext(os.path.relpath(path, src))[0]


def includes(path):
    """Project headers path includes, resolved like the compiler does for
    "..." (the file's own directory first, then src/)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    out = []
    for kind, name in INCLUDE.findall(text):
        if kind != '"':
            continue
        for base in (os.path.dirname(path), src):
            cand = os.path.normpath(os.path.join(base, name))
            if os.path.isfile(cand) and cand.startswith(src + os.sep):
                out.append(cand)
                break
    return out


all_files = files()
inc = {f: includes(f) for f in all_files}

# 1. the core is plain C
bad = []
core_dir = os.path.join(src, 'core') + os.sep
for f in all_files:
    if not f.startswith(core_dir):
        continue
    with open(f, encoding='utf-8') as fh:
        for kind, name in INCLUDE.findall(fh.read()):
            if PG_HEADER.search(name):
                bad.append('%s includes %s' % (os.path.relpath(f, tree), name))
    for h in inc[f]:
        if not h.startswith(core_dir):
            bad.append('%s includes %s' % (os.path.relpath(f, tree), os.path.relpath(h, tree)))
check(not bad, 'src/core includes no PostgreSQL header and nothing outside src/core', '; '.join(bad))


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


# 2. no include loop
graph = {}
for f in all_files:
    graph.setdefault(node(f), set()).update(node(h) for h in inc[f] if node(h) != node(f))
loops = cycles(graph)
check(not loops, 'no include loop between the files of src/',
      '; '.join(' <-> '.join(c) for c in loops))

# 3. no call loop
call_graph = None
objs = [f[:-2] + '.o' for f in all_files if f.endswith('.c')]
missing = [o for o in objs if not os.path.isfile(o)]
if missing:
    check(False, 'no call loop between the objects of src/',
          'not built: ' + ' '.join(os.path.relpath(o, tree) for o in missing))
else:
    defined, used = {}, {}
    for o in objs:
        out = subprocess.run(['nm', '-g', '--defined-only', o], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3:
                defined[parts[2]] = node(o)
        out = subprocess.run(['nm', '-u', o], capture_output=True, text=True, check=True).stdout
        used[node(o)] = {line.split()[-1] for line in out.splitlines() if line.strip()}
    calls = {n: {defined[s] for s in syms if s in defined and defined[s] != n}
             for n, syms in used.items()}
    call_graph = calls
    loops = cycles(calls)
    check(not loops, 'no call loop between the objects of src/',
          '; '.join(' <-> '.join(c) for c in loops))

# 4. file sizes
big = []
for f in all_files:
    with open(f, encoding='utf-8') as fh:
        n = sum(1 for _ in fh)
    if n > MAX_LINES:
        big.append('%s: %d lines' % (os.path.relpath(f, tree), n))
check(not big, 'no file of src/ over %d lines' % MAX_LINES, '; '.join(big))

# 5. header dependencies
closure = {}


def headers_of(f):
    if f not in closure:
        closure[f] = set()
        for h in inc[f]:
            closure[f].add(h)
            closure[f] |= headers_of(h)
    return closure[f]


stale = []
# the same PostgreSQL as the build (scripts/test.sh sets PG_CONFIG)
make_args = ['PG_CONFIG=' + os.environ['PG_CONFIG']] if os.environ.get('PG_CONFIG') else []
compile_line = re.compile(r'\s-o\s+(\S+\.o)\s')
for h in (f for f in all_files if f.endswith('.h')):
    want = {os.path.relpath(f[:-2] + '.o', tree) for f in all_files
            if f.endswith('.c') and h in headers_of(f)}
    if not want:
        continue
    st = os.stat(h)
    try:
        os.utime(h, None)
        out = subprocess.run(['make', '-n', '-C', tree] + make_args, capture_output=True,
                             text=True).stdout
    finally:
        os.utime(h, ns=(st.st_atime_ns, st.st_mtime_ns))
    got = {m.group(1) for m in compile_line.finditer(out + ' ')}
    lost = sorted(want - got)
    if lost:
        stale.append('%s: %s' % (os.path.relpath(h, tree), ' '.join(lost)))
check(not stale, 'touching a header of src/ rebuilds every object that includes it',
      '; '.join(stale))

# 6. doc/architecture.md
doc = os.path.join(tree, 'doc', 'architecture.md')
problems = []
rows = {}
if not os.path.isfile(doc):
    problems.append('doc/architecture.md is missing')
else:
    with open(doc, encoding='utf-8') as fh:
        for line in fh:
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            if len(cells) < 3 or not cells[0].startswith('`src/'):
                continue
            listed = set(re.findall(r'`([^`]+)`', cells[-1]))
            for path in re.findall(r'`(src/[^`]+)`', cells[0]):
                rows[path] = listed
    for f in all_files:
        rel = os.path.relpath(f, tree)
        if rel not in rows:
            problems.append('%s has no row' % rel)
    if call_graph is None:
        problems.append('no call graph (check 3 could not run)')
    else:
        for n, targets in sorted(call_graph.items()):
            rel = 'src/' + n + '.c'
            extra = sorted(targets - rows.get(rel, set()))
            if rel in rows and extra:
                problems.append('%s calls %s, not in its row' % (rel, ', '.join(extra)))
check(not problems, 'doc/architecture.md has a row for every file of src/ and lists what each calls',
      '; '.join(problems))

# 7. differences between PostgreSQL majors live in src/compat.h only
scattered = []
for f in all_files:
    rel = os.path.relpath(f, tree)
    if rel == os.path.join('src', 'compat.h'):
        continue
    with open(f, encoding='utf-8', errors='replace') as fh:
        for lineno, line in enumerate(fh, 1):
            if 'PG_VERSION_NUM' in line:
                scattered.append('%s:%d' % (rel, lineno))
check(not scattered, 'PG_VERSION_NUM is tested in src/compat.h only', ', '.join(scattered))

failed = 0
for n, (ok, what, detail) in enumerate(results, 1):
    print('%s %d - %s' % ('ok' if ok else 'not ok', n, what))
    if not ok:
        failed += 1
        print('# ' + detail)
sys.exit(1 if failed else 0)
