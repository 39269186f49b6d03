# recsys — PGXS build.
#
#   make && make install          build and install into the pg_config found on PATH
#   make installcheck             run the pg_regress suite against a running server
#   make ASSERTS=1                build with recsys' internal assertions enabled
#
EXTENSION = recsys

MODULE_big = recsys
OBJS = \
	src/recsys.o \
	src/embedding.o \
	src/embedding_parse.o \
	src/embedding_agg.o \
	src/bloom.o \
	src/bloom_parse.o \
	src/distance.o \
	src/synth.o \
	src/loader.o \
	src/options.o \
	src/options_core.o \
	src/catalog.o \
	src/privileges.o \
	src/train.o \
	src/linalg.o \
	src/parallel.o \
	src/als.o \
	src/ials.o \
	src/svd.o \
	src/bpr.o \
	src/popularity.o \
	src/knn.o \
	src/knn_score.o \
	src/core/score.o \
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
	src/model_index.o \
	src/rerank.o \
	src/evaluate.o \
	src/stats.o \
	src/stats_agg.o \
	src/audit.o \
	src/hnsw.o \
	src/hnswbuild.o \
	src/hnswinsert.o \
	src/hnswscan.o \
	src/hnswvacuum.o \
	src/hnswutils.o \
	src/hnswcache.o

# A fresh install runs the first release's script, then each upgrade script in
# turn (PostgreSQL finds the path itself), so a new database and an upgraded
# one are built by the same statements.
DATA = sql/$(EXTENSION)--0.1.0.sql sql/$(EXTENSION)--0.1.0--0.2.0.sql

REGRESS = embedding embedding_agg synth train train_accuracy knn serve bloom rerank hnsw serve_index stats audit evaluate hostile privileges security_cache security_stored security_models security_limits security_search_path model_index
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

# The training cores are plain C (no PostgreSQL headers, see src/train.h).
# PostgreSQL's -fwrapv and -fno-strict-aliasing, which its own code needs,
# stop gcc from vectorising their loops (measured: ials 4x slower), so
# they are turned back off for these files only.
CORE_OBJS = src/als.o src/ials.o src/svd.o src/bpr.o src/popularity.o \
	src/knn.o src/knn_score.o src/linalg.o src/parallel.o src/core/score.o
$(CORE_OBJS): CFLAGS += -fno-wrapv -fstrict-aliasing

# The distance kernels are plain loops; let gcc vectorise their float
# reductions (reassociation is harmless for distances).
src/distance.o: CFLAGS += -O3 -ftree-vectorize -fassociative-math -fno-signed-zeros -fno-trapping-math

# synth.c compiles its pure-C core in (see the top of synth.c)
src/synth.o: src/synth_core.c src/synth_core.h

# every object depends on the shared headers
$(OBJS): src/recsys.h
src/embedding.o src/embedding_agg.o src/distance.o src/catalog.o: src/embedding.h
src/embedding.o src/embedding_parse.o: src/embedding_parse.h
src/options.o src/options_core.o: src/options_core.h
# the serving family (src/serve_int.h lists its files)
SERVE_OBJS = src/serve_cache.o src/serve_args.o src/serve_attrs.o src/serve_rank.o \
	src/serve_candidates.o src/serve_foldin.o src/serve_knn.o src/serve.o \
	src/serve_all.o src/serve_similar.o
$(SERVE_OBJS): src/serve_int.h src/core/score.h src/embedding.h
src/core/score.o: src/core/score.h
src/loader.o src/options.o src/catalog.o src/train.o $(SERVE_OBJS): src/loader.h src/options.h src/catalog.h src/train.h
src/knn.o src/knn_score.o src/catalog.o src/train.o $(SERVE_OBJS): src/knn.h
$(SERVE_OBJS) src/rerank.o: src/rerank.h
$(CORE_OBJS): src/train.h src/linalg.h src/rng.h
src/bloom.o $(SERVE_OBJS) src/rerank.o: src/bloom.h
src/bloom.o $(SERVE_OBJS) src/rerank.o src/bloom_parse.o: src/bloom_parse.h
$(SERVE_OBJS) src/evaluate.o: src/serve.h src/catalog.h
src/privileges.o $(SERVE_OBJS) src/evaluate.o src/audit.o: src/privileges.h src/catalog.h
src/stats.o src/stats_agg.o src/audit.o: src/stats.h
src/stats_agg.o src/audit.o: src/stats_agg.h
HNSW_OBJS = src/hnsw.o src/hnswbuild.o src/hnswinsert.o src/hnswscan.o src/hnswvacuum.o src/hnswutils.o src/hnswcache.o
# the graph distance of ip_ops is a float reduction like those of distance.c
src/hnswutils.o: CFLAGS += -O3 -ftree-vectorize -fassociative-math -fno-signed-zeros -fno-trapping-math
$(HNSW_OBJS): src/hnsw.h src/embedding.h
