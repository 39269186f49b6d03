/*-------------------------------------------------------------------------
 *
 * parallel.c
 *	  rs_parallel_for(): run a function over [0, n) on worker threads.
 *
 * The range is cut into fixed chunks (about eight per thread, so a few
 * heavy entities at the start of a range do not leave one thread doing
 * all the work) and each thread, the caller included, takes the next
 * chunk from a shared counter until none is left.  Which thread runs
 * which chunk varies from run to run, so a caller that wants results
 * independent of scheduling must make fn's output depend only on the
 * index, never on the thread number (which only picks the scratch space).
 * The training cores do exactly that.
 *
 * Threads are started per call and joined before returning.  A call costs
 * a few tens of microseconds, negligible against the blocks of work the
 * cores hand over (tens of milliseconds), and keeps no state between
 * calls, so an error thrown by the caller between two calls leaks nothing.
 *
 * All signals are blocked on the workers: inside a PostgreSQL backend a
 * signal handler must run on the main thread, never on ours.  If a thread
 * cannot be started, the others (at least the caller) take its chunks.
 *
 *-------------------------------------------------------------------------
 */
#include "train.h"

#include <pthread.h>
#include <signal.h>

#define RS_MAX_THREADS		256
#define RS_CHUNKS_PER_THREAD 8

typedef struct ParallelJob
{
	RsRangeFn	fn;
	void	   *ctx;
	int64_t		n;
	int64_t		chunk;
	int64_t		next;			/* next unclaimed index, atomically bumped */
} ParallelJob;

typedef struct ParallelWorker
{
	ParallelJob *job;
	int			thread;
} ParallelWorker;

static void
run_chunks(ParallelJob *job, int thread)
{
	for (;;)
	{
		int64_t		begin = __atomic_fetch_add(&job->next, job->chunk,
											   __ATOMIC_RELAXED);
		int64_t		end;

		if (begin >= job->n)
			break;
		end = begin + job->chunk;
		if (end > job->n)
			end = job->n;
		job->fn(job->ctx, begin, end, thread);
	}
}

static void *
worker_main(void *arg)
{
	ParallelWorker *w = (ParallelWorker *) arg;

	run_chunks(w->job, w->thread);
	return NULL;
}

void
rs_parallel_for(int64_t n, int threads, RsRangeFn fn, void *ctx)
{
	ParallelJob job;
	ParallelWorker workers[RS_MAX_THREADS];
	pthread_t	tids[RS_MAX_THREADS];
	bool		started[RS_MAX_THREADS];
	sigset_t	all,
				old;

	if (n <= 0)
		return;
	if (threads > RS_MAX_THREADS)
		threads = RS_MAX_THREADS;
	if (threads > n)
		threads = (int) n;
	if (threads <= 1)
	{
		fn(ctx, 0, n, 0);
		return;
	}

	job.fn = fn;
	job.ctx = ctx;
	job.n = n;
	job.chunk = n / ((int64_t) threads * RS_CHUNKS_PER_THREAD);
	if (job.chunk < 1)
		job.chunk = 1;
	job.next = 0;

	/* workers inherit the blocked mask; the caller gets its own back */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int t = 1; t < threads; t++)
	{
		workers[t].job = &job;
		workers[t].thread = t;
		started[t] = (pthread_create(&tids[t], NULL, worker_main,
									 &workers[t]) == 0);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	run_chunks(&job, 0);

	for (int t = 1; t < threads; t++)
		if (started[t])
			pthread_join(tids[t], NULL);
}
