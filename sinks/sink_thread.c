/* A sink on a thread of its own: see sink_thread.h. The owner copies events into a batch, or
 * encodes them there (sink_thread_json_buffer), and hands it over when full or at its poll; the
 * thread sends each event of it to the inner sink (lent, when the sink takes send_kept), polls
 * that sink, and hands back the settlements, the inner sink's counters and each batch the inner
 * sink reads no more, all under one lock taken once per batch or poll, never per event. */
#include "sink_thread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "prefetch.h"

/* A batch's size sets how often the two threads meet: at 256 events or 128 KiB they met 4,000
 * times for the benchmark's million events, and their lock and wake-ups made 14,000 context
 * switches (the reading thread blocked on the lock the sink's thread held, then the reverse); at
 * 1,024 or 512 KiB, 5,000, and 1-4% less wall time. A poll hands over a batch not yet full, so a
 * slow trickle of events waits no longer for it. */
#define BATCH_EVENTS 1024       /* four of the Kafka sink's bursts */
#define BATCH_BYTES (512 << 10) /* handed over once this much is in it */
#define MIN_BATCHES 4           /* at least these before the owner waits for one to come back */
#define POLL_MS 100             /* the thread's wait in the inner poll; a new batch wakes it */
#define PREFETCH_AHEAD 1024      /* where the next event's lines start, past this one's end */
#define STEP_MS 5               /* its wait between polls of a sink that cannot be woken */

/* One event of a batch: the fields a sink may read (sink.h); its JSON, host, component and code
 * lie one after the other in the batch's bytes, from `at`. */
struct entry {
    uint64_t token;
    int64_t time_ms, created_ms;
    uint32_t flags;
    uint32_t at;
    uint32_t host_len, component_len, code_len, json_len;
    int copies;
};

/* A batch is filled by the owner, sent by the thread, and back on the spare list when the inner
 * sink released every event of it that it kept (sink.h's send_kept): until then librdkafka
 * produces from its bytes. */
struct batch {
    struct batch *next;       /* on the queue, the spare list or the thread's released list */
    struct batch *all_next;   /* every batch, for destroy */
    size_t n;
    uint64_t in_flight_bytes; /* JSON bytes times copies, as the sinks' stats count them */
    uint32_t kept;            /* events the inner sink kept and did not release yet */
    bool sent;                /* every event was sent to the inner sink */
    struct lme_buf bytes;
    struct entry v[BATCH_EVENTS];
};

struct tokens {
    uint64_t *v;
    size_t n, cap;
};

struct sink_thread {
    struct sink base;
    struct sink *inner;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* for the thread: a batch, or stop */
    pthread_cond_t done; /* for the owner: settlements, a batch back, a failure */
    /* Under lock. */
    struct batch *queue_head, *queue_tail, *spare;
    struct batch *all;
    size_t n_batches, n_spare, max_batches;
    uint64_t queued_bytes;     /* in_flight_bytes of the batches handed over, not sent yet */
    struct tokens settled;     /* the inner sink's settlements, for the owner */
    struct sink_stats inner_stats;
    bool in_poll;              /* the thread waits in the inner poll: wake it for a batch */
    bool stopping;
    int failed;                /* the inner sink's failure (failure says why), or 0 */
    struct lme_err failure;
    /* The owner's alone. */
    struct batch *cur;         /* being filled */
    struct tokens taken;       /* settlements being delivered */
    /* The thread's alone. */
    struct tokens mine;        /* settlements made inside the inner sink's send and poll */
    struct batch *released;    /* batches whose last kept event was released since publish */
    bool lost;                 /* one of them found no memory */
};

static int tokens_push(struct tokens *t, uint64_t token)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        uint64_t *v = realloc(t->v, cap * sizeof(*v));
        if (!v)
            return LME_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = token;
    return 0;
}

/* Appends from's tokens to to's (a swap when to is empty) and empties from. */
static int tokens_move(struct tokens *to, struct tokens *from)
{
    if (to->n == 0) {
        struct tokens keep = *to;
        *to = *from;
        *from = keep;
        return 0;
    }
    for (size_t i = 0; i < from->n; i++)
        if (tokens_push(to, from->v[i]) != 0)
            return LME_ENOMEM;
    from->n = 0;
    return 0;
}

/* ms from now on CLOCK_MONOTONIC, the clock of both condition variables. */
static struct timespec deadline_in(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* ---- the thread ---- */

static void on_inner_settled(void *ctx, uint64_t token)
{
    struct sink_thread *t = ctx;
    if (tokens_push(&t->mine, token) != 0)
        t->lost = true;
}

/* The inner sink reads an event of batch `keeper` no more: the batch is free once that was its
 * last and every event of it was sent. */
static void on_inner_released(void *ctx, void *keeper)
{
    struct sink_thread *t = ctx;
    struct batch *b = keeper;
    if (--b->kept > 0 || !b->sent)
        return;
    b->next = t->released;
    t->released = b;
}

static int send_batch(struct sink_thread *t, struct batch *b, struct lme_err *err)
{
    /* zeroed once: clearing the whole event for each cost more than the sink's send */
    struct lme_event ev = { .thread_id = -1, .origin_line = -1 };
    for (size_t i = 0; i < b->n; i++) {
        const struct entry *e = &b->v[i];
        const char *json = b->bytes.data + e->at, *p = json + e->json_len;
        ev.time_ms = e->time_ms;
        ev.created_ms = e->created_ms;
        ev.flags = e->flags;
        ev.host = (struct lme_str){ p, e->host_len };
        p += e->host_len;
        ev.component = (struct lme_str){ p, e->component_len };
        p += e->component_len;
        ev.code = (struct lme_str){ p, e->code_len };
        int n;
        if (t->inner->ops->send_kept) {
            b->kept++; /* before: the release may come inside the call */
            n = t->inner->ops->send_kept(t->inner, &ev, json, e->json_len, e->token, b, err);
        } else {
            n = t->inner->ops->send(t->inner, &ev, json, e->json_len, e->token, err);
        }
        if (n < 0)
            return n;
        if (n != e->copies)
            return lme_err_set(err, LME_EINVAL, "%s: sent %d copies of an event, announced %d",
                               t->base.name, n, e->copies);
    }
    return 0;
}

/* Under lock: b, every event of it released, to the spare list (emptied). */
static void recycle(struct sink_thread *t, struct batch *b)
{
    b->n = 0;
    b->in_flight_bytes = 0;
    b->sent = false;
    if (b->bytes.cap > 4 * BATCH_BYTES) /* grown for one large event: not kept */
        lme_buf_free(&b->bytes);
    lme_buf_reset(&b->bytes);
    b->next = t->spare;
    t->spare = b;
    t->n_spare++;
}

/* The batch sent (back to the owner unless the inner sink still reads it), the batches released
 * meanwhile, with the settlements, counters and failure so far. */
static void publish(struct sink_thread *t, struct batch *b, int rc, const struct lme_err *err)
{
    struct batch *released = t->released;
    t->released = NULL;
    pthread_mutex_lock(&t->lock);
    t->in_poll = false;
    if (b) {
        t->queued_bytes -= b->in_flight_bytes;
        b->sent = true;
        if (b->kept == 0)
            recycle(t, b);
    }
    while (released) {
        struct batch *next = released->next;
        recycle(t, released);
        released = next;
    }
    bool lost = tokens_move(&t->settled, &t->mine) != 0 || t->lost;
    if (!t->failed && rc) {
        t->failure = *err;
        t->failed = rc;
    } else if (!t->failed && lost) {
        t->failed = lme_err_set(&t->failure, LME_ENOMEM, "%s: out of memory", t->base.name);
    }
    t->inner_stats = t->inner->stats;
    pthread_cond_signal(&t->done);
    pthread_mutex_unlock(&t->lock);
}

static void *thread_main(void *arg)
{
    struct sink_thread *t = arg;
    struct sink *in = t->inner;
    for (;;) {
        pthread_mutex_lock(&t->lock);
        bool idle = t->inner_stats.in_flight == 0;
        while (!t->queue_head && !t->stopping && idle)
            pthread_cond_wait(&t->work, &t->lock);
        if (!t->queue_head && !t->stopping && !in->ops->wake) {
            struct timespec until = deadline_in(STEP_MS);
            pthread_cond_timedwait(&t->work, &t->lock, &until);
        }
        if (t->stopping) { /* what is queued or in flight is abandoned: the owner drained first */
            pthread_mutex_unlock(&t->lock);
            return NULL;
        }
        struct batch *b = t->queue_head;
        if (b && !(t->queue_head = b->next))
            t->queue_tail = NULL;
        t->in_poll = !b && in->ops->wake;
        bool wait = t->in_poll;
        pthread_mutex_unlock(&t->lock);
        struct lme_err err = { 0 };
        int rc = b ? send_batch(t, b, &err) : 0;
        if (!rc) /* after a batch: produce what it queued and serve reports, without waiting */
            rc = in->ops->poll(in, wait ? POLL_MS : 0, &err);
        publish(t, b, rc, &err);
        if (rc)
            return NULL;
    }
}

/* ---- the owner's side ---- */

/* Under lock: the settlements for the owner, and the counters it shows. */
static void collect(struct sink_thread *t)
{
    if (tokens_move(&t->taken, &t->settled) != 0 && !t->failed)
        t->failed = lme_err_set(&t->failure, LME_ENOMEM, "%s: out of memory", t->base.name);
    struct sink_stats *s = &t->base.stats;
    s->delivered = t->inner_stats.delivered;
    s->dead_lettered = t->inner_stats.dead_lettered;
    s->retried = t->inner_stats.retried;
    s->queue = t->inner_stats.queue;
    s->in_flight_bytes = t->queued_bytes + t->inner_stats.in_flight_bytes +
                         (t->cur ? t->cur->in_flight_bytes : 0);
    s->held_bytes = (uint64_t)(t->n_batches - t->n_spare) * BATCH_BYTES;
}

/* Outside the lock: each settlement to the owner, on its thread (sink.h). */
static void deliver(struct sink_thread *t)
{
    for (size_t i = 0; i < t->taken.n; i++) {
        t->base.stats.in_flight--;
        sink_settle(&t->base, t->taken.v[i]);
    }
    t->taken.n = 0;
}

static int failure(struct sink_thread *t, struct lme_err *err)
{
    if (!t->failed)
        return 0;
    *err = t->failure;
    return t->failed;
}

/* The batch being filled goes to the thread; settlements come back. */
static int hand_over(struct sink_thread *t, struct lme_err *err)
{
    struct batch *b = t->cur;
    bool handed = b && b->n;
    pthread_mutex_lock(&t->lock);
    if (handed) {
        b->next = NULL;
        if (t->queue_tail)
            t->queue_tail->next = b;
        else
            t->queue_head = b;
        t->queue_tail = b;
        t->queued_bytes += b->in_flight_bytes;
        t->cur = NULL;
        pthread_cond_signal(&t->work);
    }
    bool wake = handed && t->in_poll; /* once: the thread sets it again when it waits again */
    if (wake)
        t->in_poll = false;
    collect(t);
    int rc = failure(t, err);
    pthread_mutex_unlock(&t->lock);
    if (wake)
        t->inner->ops->wake(t->inner);
    deliver(t);
    return rc;
}

/* A batch to fill: a spare one, a new one while fewer than MAX_BATCHES exist, or else the first
 * to come back. Settlements that came meanwhile are delivered. */
static int take_batch(struct sink_thread *t, struct lme_err *err)
{
    pthread_mutex_lock(&t->lock);
    while (!t->spare && t->n_batches >= t->max_batches && !t->failed)
        pthread_cond_wait(&t->done, &t->lock);
    struct batch *b = t->spare;
    if (b) {
        t->spare = b->next;
        t->n_spare--;
        b->next = NULL; /* on no list while it is filled */
    } else if (!t->failed && (b = calloc(1, sizeof(*b))) != NULL) {
        t->n_batches++;
        b->all_next = t->all;
        t->all = b;
    }
    collect(t);
    int rc = failure(t, err);
    if (!rc && !b)
        rc = lme_err_set(err, LME_ENOMEM, "%s: out of memory", t->base.name);
    pthread_mutex_unlock(&t->lock);
    t->cur = b;
    deliver(t);
    return rc;
}

/* Whether json[0, len) is what was last appended to b's bytes: encoded there, through
 * sink_thread_json_buffer. */
static bool is_in_place(const struct batch *b, const char *json, uint32_t len)
{
    return len <= b->bytes.len && json == b->bytes.data + (b->bytes.len - len);
}

static int append(struct batch *b, const struct lme_event *ev, const char *json, uint32_t len,
                  uint64_t token, int copies)
{
    bool in_place = is_in_place(b, json, len); /* then it is not copied: the point of it */
    size_t at = in_place ? b->bytes.len - len : b->bytes.len;
    size_t more = ev->host.len + ev->component.len + ev->code.len + (in_place ? 0 : len);
    if (lme_buf_reserve(&b->bytes, more) != 0)
        return LME_ENOMEM;
    if (!in_place)
        lme_buf_append(&b->bytes, json, len);
    lme_buf_append(&b->bytes, ev->host.ptr, ev->host.len);
    lme_buf_append(&b->bytes, ev->component.ptr, ev->component.len);
    lme_buf_append(&b->bytes, ev->code.ptr, ev->code.len);
    b->v[b->n++] = (struct entry){
        .token = token, .time_ms = ev->time_ms, .created_ms = ev->created_ms,
        .flags = ev->flags, .at = (uint32_t)at, .host_len = (uint32_t)ev->host.len,
        .component_len = (uint32_t)ev->component.len, .code_len = (uint32_t)ev->code.len,
        .json_len = len, .copies = copies,
    };
    b->in_flight_bytes += (uint64_t)len * (uint64_t)copies;
    return 0;
}

static int sink_thread_send(struct sink *s, const struct lme_event *ev, const char *json,
                            size_t len, uint64_t token, struct lme_err *err)
{
    struct sink_thread *t = (struct sink_thread *)s;
    if (len + ev->host.len + ev->component.len + ev->code.len > UINT32_MAX / 2)
        return lme_err_set(err, LME_EINVAL, "%s: an event of %zu bytes", s->name, len);
    int rc;
    if (!t->cur && (rc = take_batch(t, err)) != 0)
        return rc;
    int copies = t->inner->ops->copies ? t->inner->ops->copies(t->inner, ev) : 1;
    if (append(t->cur, ev, json, (uint32_t)len, token, copies) != 0)
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", s->name);
    s->stats.accepted += (uint64_t)copies;
    s->stats.in_flight += (uint64_t)copies;
    s->stats.in_flight_bytes += (uint64_t)len * (uint64_t)copies;
    if (t->cur->n == BATCH_EVENTS || t->cur->bytes.len >= BATCH_BYTES) {
        if ((rc = hand_over(t, err)) != 0)
            return rc;
    }
    return copies;
}

/* The batch being filled lends its bytes: an event encoded there is not copied again. */
static int sink_thread_json_buffer(struct sink *s, struct lme_buf **buf, struct lme_err *err)
{
    struct sink_thread *t = (struct sink_thread *)s;
    int rc;
    if (!t->cur && (rc = take_batch(t, err)) != 0)
        return rc;
    struct lme_buf *b = &t->cur->bytes;
    /* The lines the next event will be encoded into, cold since the batch's last round: asked
     * for now, they arrive while this one is encoded (the reading thread's samples, 6% fewer). */
    size_t from = b->len + PREFETCH_AHEAD, to = from + PREFETCH_AHEAD;
    for (size_t at = from; at < to && at < b->cap; at += 64)
        lme_prefetch_for_write(b->data + at);
    *buf = b;
    return 0;
}

static int sink_thread_poll(struct sink *s, int timeout_ms, struct lme_err *err)
{
    struct sink_thread *t = (struct sink_thread *)s;
    int rc = hand_over(t, err);
    if (rc || timeout_ms <= 0 || s->stats.in_flight == 0)
        return rc;
    struct timespec until = deadline_in(timeout_ms);
    pthread_mutex_lock(&t->lock);
    while (!t->settled.n && !t->failed &&
           pthread_cond_timedwait(&t->done, &t->lock, &until) != ETIMEDOUT)
        ;
    collect(t);
    rc = failure(t, err);
    pthread_mutex_unlock(&t->lock);
    deliver(t);
    return rc;
}

static void free_batches(struct batch *b)
{
    while (b) {
        struct batch *next = b->all_next;
        lme_buf_free(&b->bytes);
        free(b);
        b = next;
    }
}

static void sink_thread_destroy(struct sink *s)
{
    struct sink_thread *t = (struct sink_thread *)s;
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    bool wake = t->in_poll;
    pthread_cond_signal(&t->work);
    pthread_mutex_unlock(&t->lock);
    if (wake)
        t->inner->ops->wake(t->inner);
    pthread_join(t->thread, NULL);
    t->inner->released = NULL; /* what it gives back as it ends: the batches go anyway */
    t->inner->ops->destroy(t->inner); /* on this thread now that its own has ended */
    free_batches(t->all);
    free(t->settled.v);
    free(t->taken.v);
    free(t->mine.v);
    pthread_cond_destroy(&t->work);
    pthread_cond_destroy(&t->done);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static const struct sink_ops sink_thread_ops = {
    .type = "thread",
    .send = sink_thread_send,
    .json_buffer = sink_thread_json_buffer,
    .poll = sink_thread_poll,
    .destroy = sink_thread_destroy,
};

static int init_sync(struct sink_thread *t)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
             pthread_mutex_init(&t->lock, NULL) != 0;
    if (!rc && pthread_cond_init(&t->work, &attr) != 0) {
        pthread_mutex_destroy(&t->lock);
        rc = -1;
    }
    if (!rc && pthread_cond_init(&t->done, &attr) != 0) {
        pthread_cond_destroy(&t->work);
        pthread_mutex_destroy(&t->lock);
        rc = -1;
    }
    pthread_condattr_destroy(&attr);
    return rc ? -1 : 0;
}

struct sink *sink_thread_create(struct sink *inner, size_t max_held_bytes, struct lme_err *err)
{
    struct sink_thread *t = calloc(1, sizeof(*t));
    if (!t || init_sync(t) != 0) {
        free(t);
        inner->ops->destroy(inner);
        lme_err_set(err, LME_ENOMEM, "%s: out of memory", inner->name);
        return NULL;
    }
    t->base.ops = &sink_thread_ops;
    memcpy(t->base.name, inner->name, sizeof(t->base.name));
    t->base.json = inner->json;
    t->base.stats.queue = inner->stats.queue;
    t->inner_stats = inner->stats;
    t->inner = inner;
    inner->settled = on_inner_settled;
    inner->settled_ctx = t;
    inner->released = on_inner_released;
    inner->released_ctx = t;
    /* the owner's budget stops it first (held_bytes): these are never all out but at a burst */
    t->max_batches = max_held_bytes / BATCH_BYTES + MIN_BATCHES;
    /* signals go to the owner's thread, whose waits they are meant to cut short */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&t->thread, NULL, thread_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        lme_err_set(err, LME_EIO, "%s: cannot start its thread: %s", inner->name, strerror(e));
        pthread_cond_destroy(&t->work);
        pthread_cond_destroy(&t->done);
        pthread_mutex_destroy(&t->lock);
        inner->ops->destroy(inner);
        free(t);
        return NULL;
    }
    return &t->base;
}
