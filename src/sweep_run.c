/* sweep_run.c - run a range of configurations on a pool of threads.
 *
 * Workers take the next configuration from a shared counter and render its
 * row into the slot for that configuration; the rows are joined in
 * configuration order afterwards, so the output does not depend on the
 * number of workers or on which finished first. */
#include "sweep_run.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "limits.h"
#include "xalloc.h"

struct pool {
    const struct pp_sweep_job *job;
    uint64_t first, n;
    struct pp_buf *rows; /* [n] */
    struct pp_sweep_stat *stats; /* [n] */
    pthread_mutex_t lock;
    pthread_cond_t progress;
    uint64_t next, done;
};

static void *worker(void *arg)
{
    struct pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        uint64_t i = p->next < p->n && !pp_limits_stop() ? p->next++ : p->n;
        pthread_mutex_unlock(&p->lock);
        if (i == p->n)
            return NULL;
        pp_sweep_row(p->job, p->first + i, &p->rows[i], &p->stats[i]);
        pthread_mutex_lock(&p->lock);
        p->done++;
        pthread_cond_signal(&p->progress);
        pthread_mutex_unlock(&p->lock);
    }
}

int pp_sweep_run_range(const struct pp_sweep_job *job, uint64_t first, uint64_t n, int jobs,
                       pp_sweep_progress_fn progress, void *ctx, struct pp_buf *out,
                       struct pp_sweep_stat *stats)
{
    struct pool p = {job,  first, n, pp_xcalloc(n ? n : 1, sizeof *p.rows), stats,
                     PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    for (uint64_t i = 0; i < n; i++)
        pp_buf_init(&p.rows[i]);
    if (jobs < 1)
        jobs = 1;
    if ((uint64_t)jobs > n)
        jobs = n ? (int)n : 1;
    pthread_t *tid = pp_xcalloc((size_t)jobs, sizeof *tid);
    int started = 0;
    if (jobs == 1) {
        /* serial: no threads at all, the reference the parallel runs must match */
        for (uint64_t i = 0; i < n && !pp_limits_stop(); i++) {
            pp_sweep_row(job, first + i, &p.rows[i], &stats[i]);
            p.done = i + 1;
            if (progress)
                progress(ctx, p.done, n);
        }
    } else {
        for (int t = 0; t < jobs; t++)
            if (pthread_create(&tid[t], NULL, worker, &p) == 0)
                started++;
        if (started == 0) /* no threads to be had: do it here */
            worker(&p);
        pthread_mutex_lock(&p.lock);
        /* all taken configurations finish; none is taken once stopped */
        while (p.done < p.next || (p.done < n && !pp_limits_stop())) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 200000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&p.progress, &p.lock, &until);
            uint64_t done = p.done;
            pthread_mutex_unlock(&p.lock);
            if (progress)
                progress(ctx, done, n);
            pthread_mutex_lock(&p.lock);
        }
        pthread_mutex_unlock(&p.lock);
        for (int t = 0; t < started; t++)
            pthread_join(tid[t], NULL);
    }
    for (uint64_t i = 0; i < n; i++) {
        if (p.rows[i].len)
            pp_buf_append(out, p.rows[i].data, p.rows[i].len);
        pp_buf_free(&p.rows[i]);
    }
    free(p.rows);
    free(tid);
    pthread_mutex_destroy(&p.lock);
    pthread_cond_destroy(&p.progress);
    return 0;
}
