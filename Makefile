# recsys — PGXS build.
#
#   make && make install          build and install into the pg_config found on PATH
#   make installcheck             run the pg_regress suite against a running server
#   make ASSERTS=1                build with recsys' internal assertions enabled
#
EXTENSION = recsys

MODULE_big = recsys
# src/core/: the pure-C core (no PostgreSQL headers; `make check-core`
# proves it): training algorithms, linear algebra, threads, statistics, the
# generator, and the parsers of the types' text forms and of the options.
CORE_OBJS = \
	src/core/als.o \
	src/core/ials.o \
	src/core/svd.o \
	src/core/bpr.o \
	src/core/popularity.o \
	src/core/decay.o \
	src/core/holdout.o \
	src/core/knn.o \
	src/core/knn_score.o \
	src/core/ease.o \
	src/core/svdpp.o \
	src/core/explain.o \
	src/core/score.o \
	src/core/metrics.o \
	src/core/linalg.o \
	src/core/parallel.o \
	src/core/stats.o \
	src/core/generator.o \
	src/core/generator_preset.o \
	src/core/options_parse.o \
	src/core/bloom_parse.o \
	src/core/embedding_parse.o \
	src/core/distance.o
# src/: PostgreSQL's side (see doc/architecture.md for the layers)
OBJS = \
	$(CORE_OBJS) \
	src/recsys.o \
	src/runtime.o \
	src/keys.o \
	src/embedding.o \
	src/embedding_agg.o \
	src/bloom.o \
	src/synth.o \
	src/loader.o \
	src/options.o \
	src/catalog.o \
	src/catalog_read.o \
	src/privileges.o \
	src/versions.o \
	src/train.o \
	src/regularization.o \
	src/serve_cache.o \
	src/serve_args.o \
	src/serve_attrs.o \
	src/serve_rank.o \
	src/serve_candidates.o \
	src/serve_foldin.o \
	src/serve_knn.o \
	src/serve.o \
	src/serve_all.o \
	src/serve_similar.o \
	src/serve_explain.o \
	src/model_index.o \
	src/rerank.o \
	src/evaluate.o \
	src/stats_agg.o \
	src/audit.o \
	src/experiment.o \
	src/step_agg.o \
	src/train_sql.o \
	src/update.o \
	src/tune.o \
	src/hnsw.o \
	src/hnswoptions.o \
	src/hnswbuild.o \
	src/hnswinsert.o \
	src/hnswscan.o \
	src/hnswvacuum.o \
	src/hnswutils.o \
	src/hnswcache.o

# The install script of the current release is built from the area files of
# sql/install/, concatenated in the order of their names; the upgrade scripts
# take an installed older release to it (test/t/050_upgrade.pl checks that
# an upgraded extension has exactly the objects of a fresh one).
EXTVERSION = 0.3.0
INSTALL_SQL = $(sort $(wildcard sql/install/*.sql))
# The upgrade from 0.2.0 is built too: sql/upgrade/recsys--0.2.0--0.3.0.sql
# (what changes in place), then the area files whose objects 0.3.0 adds or
# changes, as a fresh install runs them (their functions are CREATE OR
# REPLACE), so that every definition is written once.
UPGRADE_030_SQL = sql/install/05_synth.sql sql/install/08_serving.sql sql/install/11_evaluation.sql \
	sql/install/12_audit.sql sql/install/13_experiments.sql sql/install/14_versions.sql \
	sql/install/15_updates.sql sql/install/16_tuning.sql sql/install/17_steps.sql
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql sql/$(EXTENSION)--0.2.0--0.3.0.sql
DATA = sql/$(EXTENSION)--0.1.0--0.2.0.sql
EXTRA_CLEAN = $(DATA_built)

REGRESS = embedding embedding_agg synth train train_accuracy knn ease nmf svdpp serve bloom rerank hnsw serve_index stats audit evaluate ranking_metrics hostile privileges security_cache security_stored security_models security_limits security_search_path model_index explain time_decay experiments versions update update_small untyped generator_preset mf_no_bias distributed tuning step_agg train_sql
REGRESS_OPTS = --load-extension=$(EXTENSION)

PG_CONFIG ?= pg_config

# BLAS/LAPACK come from OpenBLAS, found the Debian way.
BLAS_LIBS := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
SHLIB_LINK += $(BLAS_LIBS) -lpthread -lm

# Our code builds clean with -Wall -Wextra.  PostgreSQL's own headers are
# not -Wextra clean (unused parameters in inline functions), so they are
# included as system headers, which keeps their warnings out of our build.
PG_CFLAGS += -Wall -Wextra
PG_CPPFLAGS += -isystem $(shell $(PG_CONFIG) --includedir-server)
ifeq ($(WERROR),1)
PG_CFLAGS += -Werror
endif
ifeq ($(ASSERTS),1)
PG_CPPFLAGS += -DRECSYS_ASSERT_CHECKING
endif
# make SANITIZE=1: UndefinedBehaviorSanitizer, every report fatal (see
# scripts/sanitize.sh; AddressSanitizer runs on the fuzz targets)
ifeq ($(SANITIZE),1)
PG_CFLAGS += -fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SHLIB_LINK += -fsanitize=undefined
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# each part is preceded by its file name, so an error's line number in the
# built script leads back to the file
sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_SQL) Makefile
	for f in $(INSTALL_SQL); do echo "-- ---- $$f ----"; cat "$$f"; echo; done > $@.tmp && mv $@.tmp $@

sql/$(EXTENSION)--0.2.0--0.3.0.sql: sql/upgrade/$(EXTENSION)--0.2.0--0.3.0.sql $(UPGRADE_030_SQL) Makefile
	for f in $< $(UPGRADE_030_SQL); do echo "-- ---- $$f ----"; cat "$$f"; echo; done > $@.tmp && mv $@.tmp $@

# The numeric cores are plain C.  PostgreSQL's -fwrapv and
# -fno-strict-aliasing, which its own code needs, stop gcc from vectorising
# their loops (measured: ials 4x slower), so they are turned back off for
# the training and linear-algebra files.
NUMERIC_OBJS = src/core/als.o src/core/ials.o src/core/svd.o src/core/bpr.o \
	src/core/popularity.o src/core/decay.o src/core/knn.o src/core/knn_score.o src/core/ease.o \
	src/core/svdpp.o src/core/score.o src/core/linalg.o src/core/parallel.o
$(NUMERIC_OBJS): CFLAGS += -fno-wrapv -fstrict-aliasing

# The distance kernels are plain loops; let gcc vectorise their float
# reductions (reassociation is harmless for distances).
src/core/distance.o: CFLAGS += -O3 -ftree-vectorize -fassociative-math -fno-signed-zeros -fno-trapping-math
# the step aggregates' rank-one updates: element-wise, vectorised at -O3
src/step_agg.o: CFLAGS += -O3 -ftree-vectorize
# the graph distance of ip_ops is a float reduction like those of distance.c
src/hnswutils.o: CFLAGS += -O3 -ftree-vectorize -fassociative-math -fno-signed-zeros -fno-trapping-math

# Header dependencies are automatic: gcc writes src/x.d beside src/x.o
# (every header x.c includes, directly or not), and the next make reads
# them, so touching any header rebuilds what includes it
# (scripts/check_build.sh proves it).  JIT bitcode (.bc) is rebuilt with
# its object.
override CFLAGS += -MMD -MP
DEPFILES = $(OBJS:.o=.d)
-include $(DEPFILES)
$(OBJS:.o=.bc): %.bc: %.o
EXTRA_CLEAN += $(DEPFILES)

# The core is plain C: each of its files compiles with no PostgreSQL
# include directory, and none names a PostgreSQL header.
check-core:
	@set -e; for f in src/core/*.c; do \
		if grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](postgres|postgres_fe|c|fmgr|miscadmin|pg_config)\.h[>"]|^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](utils|access|catalog|executor|nodes|lib|common|storage|libpq)/' $$f; then \
			echo "$$f: a core file includes a PostgreSQL header" >&2; exit 1; fi; \
		$(CC) -std=gnu99 -fsyntax-only -Wall -Wextra -Werror -Isrc/core $$f; \
	done; echo "src/core: plain C, no PostgreSQL headers"
.PHONY: check-core
