/*-------------------------------------------------------------------------
 *
 * parallel.c
 *	  Run a function over index ranges on worker threads.
 *
 * rs_parallel_for() cuts [0, n) into fixed chunks (about eight per
 * thread, so a few heavy entities at the start of a range do not leave one
 * thread doing all the work); rs_parallel_csr() cuts the entities of a CSR
 * side into chunks by their interaction counts (at most max_nnz, or one
 * entity of more), so each chunk is a few milliseconds of work however the
 * degrees are spread.  Each thread, the caller
 * included, takes the next chunk until none is left.  Which thread runs
 * which chunk varies from run to run, so a caller that wants results
 * independent of scheduling must make fn's output depend only on the
 * index, never on the thread number (which only picks the scratch space).
 * The training cores do exactly that.
 *
 * rs_parallel_csr() runs a whole half-sweep in one go instead of one
 * call per block with an interrupt check between blocks: the workers then
 * never wait at a block boundary for the slowest chunk (that wait was ~4%
 * of an iALS iteration at 2 threads).  Interrupts stay prompt because the
 * calling thread asks env->interrupt_pending() after each chunk it runs;
 * when one is pending it stops handing out chunks, waits for the chunks in
 * progress, and calls env->check_interrupts(), which throws.  If that
 * returns after all (an interrupt that did not cancel), new workers go on
 * from the first chunk not handed out.  Without interrupt_pending the
 * caller runs every chunk itself, checking after each.
 *
 * Threads are started per call (rs_parallel_csr: again after each
 * interrupt that did not cancel) and always joined before the caller
 * checks for interrupts or returns.  Starting them costs a few tens of
 * microseconds; nothing is kept between calls, so an error thrown by the
 * caller leaks nothing.
 *
 * All signals are blocked on the workers: inside a PostgreSQL backend a
 * signal handler must run on the main thread, never on ours.  If a thread
 * cannot be started, the others (at least the caller) take its chunks.
 *
 *-------------------------------------------------------------------------
 */
#include "core.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#define RS_MAX_THREADS		256
#define RS_CHUNKS_PER_THREAD 8

/* rs_parallel_csr(): entities per chunk at most */
#define RS_CSR_CHUNK_ENTITIES 256

typedef struct ParallelJob
{
	RsRangeFn	fn;
	void	   *ctx;
	int64_t		n;
	int			stop;			/* set by the caller: take no more chunks */

	/* rs_parallel_for(): chunk c is [c * chunk, (c + 1) * chunk) */
	int64_t		chunk;
	int64_t		next;			/* next unclaimed chunk, atomically bumped */

	/* rs_parallel_csr(): chunks cut from ptr at the cursor, under lock */
	bool		csr;
	const int64_t *ptr;
	int64_t		max_nnz;
	int64_t		cursor;			/* first entity not handed out */
	pthread_mutex_t lock;
} ParallelJob;

typedef struct ParallelWorker
{
	ParallelJob *job;
	int			thread;
} ParallelWorker;

/* The next chunk [*begin, *end), or false when there is none or stop. */
static bool
claim(ParallelJob *job, int64_t *begin, int64_t *end)
{
	if (__atomic_load_n(&job->stop, __ATOMIC_RELAXED))
		return false;
	if (!job->csr)
	{
		int64_t		c = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);

		if (c * job->chunk >= job->n)
			return false;
		*begin = c * job->chunk;
		*end = *begin + job->chunk < job->n ? *begin + job->chunk : job->n;
		return true;
	}

	pthread_mutex_lock(&job->lock);
	*begin = *end = job->cursor;
	while (*end < job->n && *end - *begin < RS_CSR_CHUNK_ENTITIES &&
		   (*end == *begin ||
			job->ptr[*end + 1] - job->ptr[*begin] <= job->max_nnz))
		(*end)++;
	job->cursor = *end;
	pthread_mutex_unlock(&job->lock);
	return *end > *begin;
}

static void *
worker_main(void *arg)
{
	ParallelWorker *w = (ParallelWorker *) arg;
	int64_t		begin,
				end;

	while (claim(w->job, &begin, &end))
		w->job->fn(w->job->ctx, begin, end, w->thread);
	return NULL;
}

/*
 * Start workers 1 .. threads - 1 on job (started[t] says which did); they
 * inherit a fully blocked signal mask, the caller gets its own back.
 */
static void
start_workers(ParallelJob *job, int threads, ParallelWorker *workers,
			  pthread_t *tids, bool *started)
{
	sigset_t	all,
				old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int t = 1; t < threads; t++)
	{
		workers[t].job = job;
		workers[t].thread = t;
		started[t] = (pthread_create(&tids[t], NULL, worker_main,
									 &workers[t]) == 0);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void
join_workers(int threads, pthread_t *tids, bool *started)
{
	for (int t = 1; t < threads; t++)
		if (started[t])
			pthread_join(tids[t], NULL);
}

/*
 * One round of job: workers 1 .. threads - 1 and the caller (thread 0)
 * run the chunks they claim until none is left; with env, the caller stops
 * the round (job->stop) as soon as it sees an interrupt pending.  Returns
 * when every worker has finished.
 */
static void
run_round(ParallelJob *job, int threads, const RsEnv *env)
{
	ParallelWorker workers[RS_MAX_THREADS];
	pthread_t	tids[RS_MAX_THREADS];
	bool		started[RS_MAX_THREADS];
	int64_t		begin,
				end;

	start_workers(job, threads, workers, tids, started);
	while (claim(job, &begin, &end))
	{
		job->fn(job->ctx, begin, end, 0);
		if (env != NULL && env->interrupt_pending(env->arg))
		{
			__atomic_store_n(&job->stop, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	join_workers(threads, tids, started);
}

/* A job over n indexes, and no more threads than it or we can use. */
static int
job_init(ParallelJob *job, RsRangeFn fn, void *ctx, int64_t n, int threads)
{
	memset(job, 0, sizeof(ParallelJob));
	job->fn = fn;
	job->ctx = ctx;
	job->n = n;
	if (threads > RS_MAX_THREADS)
		threads = RS_MAX_THREADS;
	/* a chunk holds at least one index */
	if (threads > n)
		threads = (int) n;
	return threads;
}

void
rs_parallel_for(int64_t n, int threads, RsRangeFn fn, void *ctx)
{
	ParallelJob job;

	if (n <= 0)
		return;
	threads = job_init(&job, fn, ctx, n, threads);
	if (threads <= 1)
	{
		fn(ctx, 0, n, 0);
		return;
	}

	job.chunk = n / ((int64_t) threads * RS_CHUNKS_PER_THREAD);
	if (job.chunk < 1)
		job.chunk = 1;

	run_round(&job, threads, NULL);
}

void
rs_parallel_csr(const int64_t *ptr, int64_t n, int64_t max_nnz, int threads,
				RsRangeFn fn, void *ctx, const RsEnv *env)
{
	ParallelJob job;
	int64_t		begin,
				end;

	if (n <= 0)
		return;
	threads = job_init(&job, fn, ctx, n, threads);
	job.csr = true;
	job.ptr = ptr;
	job.max_nnz = max_nnz;
	pthread_mutex_init(&job.lock, NULL);

	if (threads <= 1 || env->interrupt_pending == NULL)
	{
		while (claim(&job, &begin, &end))
		{
			fn(ctx, begin, end, 0);
			env->check_interrupts(env->arg);
		}
		pthread_mutex_destroy(&job.lock);
		return;
	}

	while (job.cursor < n)
	{
		job.stop = 0;
		run_round(&job, threads, env);

		/*
		 * Every chunk handed out is done: throw now if cancelled.  A throw
		 * skips the destroy, which frees nothing for a default mutex.
		 */
		env->check_interrupts(env->arg);
	}
	pthread_mutex_destroy(&job.lock);
}
