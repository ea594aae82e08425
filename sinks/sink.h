/* The sink interface: where events go. Each sink type implements struct sink_ops; the pipeline
 * hands every event (and its JSON, encoded once for the sinks that want it encoded alike: see
 * struct sink's json) to every sink and polls them for progress.
 * An event is "settled" by a sink when the sink delivered it (a broker acknowledged it, or it
 * was written) or set it aside for good (the dead-letter file). */
#ifndef LME_SINK_H
#define LME_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "event.h"
#include "event_json.h"

/* Counters of one sink; in_flight_* are what it holds that is not settled yet. */
struct sink_stats {
    uint64_t accepted;     /* events handed to the sink */
    uint64_t delivered;    /* acknowledged by the destination */
    uint64_t dead_lettered;
    uint64_t retried;      /* re-sends after transient failures */
    uint64_t in_flight;
    uint64_t in_flight_bytes;
    uint64_t held_bytes;   /* memory holding them, when more than in_flight_bytes (0: no more) */
    int64_t queue;         /* messages in the client library's own queue; -1: none (files) */
};

struct sink;

/* How a sink reports that it settled the event sent with `token` (once per copy it made).
 * Thread: always the one that calls the sink's send and poll, and only inside those calls
 * (a Kafka sink's delivery reports are served by rd_kafka_poll within poll, or within send while
 * it waits for room in librdkafka's queue; a file sink settles inside send). Never from a thread
 * of the sink's own. The callee must not call back into the sink. */
typedef void (*sink_settled_fn)(void *ctx, uint64_t token);

/* How a sink gives back JSON lent to it with send_kept: once for each such send, when it reads
 * that JSON no more (each copy delivered, set aside, or copied into memory of its own), unless
 * the sink is destroyed first. Called as sink_settled_fn is, also inside send_kept itself. */
typedef void (*sink_released_fn)(void *ctx, void *keeper);

struct sink_ops {
    const char *type;
    /* Takes one event; json[0, len) is its encoding as the sink's json options ask (borrowed for
     * the call: copied if kept); token identifies it in settlements. Returns how many
     * settlements of token will follow (1, or 2 when the event also goes to an alerts topic;
     * some may have happened already), or a negative code with err filled when the sink cannot
     * go on (the pipeline stops). A sink may hold the event until its next poll (the Kafka sink
     * produces in bursts): the owner polls every sink before it waits. Of the event, a sink reads
     * only host, component, code, flags, time_ms and created_ms: a sink on a thread of its own
     * (sink_thread.h) is given no other field. */
    int (*send)(struct sink *s, const struct lme_event *ev, const char *json, size_t len,
                uint64_t token, struct lme_err *err);
    /* Optional: send, but json stays valid after the call until the sink calls its released
     * function with keeper (or is destroyed), so the sink can produce from it without copying
     * it. NULL: the owner lends nothing. */
    int (*send_kept)(struct sink *s, const struct lme_event *ev, const char *json, size_t len,
                     uint64_t token, void *keeper, struct lme_err *err);
    /* Optional: a buffer of the sink's own that the next event's JSON may be encoded into,
     * appended to *buf from its len on and then passed to send, which finds it there and does
     * not copy it. Valid until the sink's next send or poll. The owner of several sinks does not
     * use it: one sink's send could move the buffer while another still reads the JSON. Returns
     * 0 or as send. NULL: the owner encodes into a buffer of its own. */
    int (*json_buffer)(struct sink *s, struct lme_buf **buf, struct lme_err *err);
    /* How many settlements send will announce for ev, known before sending it (NULL: always 1):
     * sink_thread answers send for the sink it wraps before that sink sees the event. */
    int (*copies)(const struct sink *s, const struct lme_event *ev);
    /* Serves acknowledgements and retries, waiting at most timeout_ms. Returns 0 or as send. */
    int (*poll)(struct sink *s, int timeout_ms, struct lme_err *err);
    /* Makes a poll that waits, on another thread, return now (or the next one, if none waits):
     * the one op that may be called from a thread other than the one calling send and poll.
     * NULL: the sink's poll cannot be woken, and sink_thread polls it without waiting. */
    void (*wake)(struct sink *s);
    /* NULL-safe. Releases everything; events still in flight are abandoned (counted). */
    void (*destroy)(struct sink *s);
};

struct sink {
    const struct sink_ops *ops;
    char name[64]; /* "kafka[0]", "file[1]": for logs */
    struct sink_stats stats;
    sink_settled_fn settled; /* set by the owner; NULL: nobody listens */
    void *settled_ctx;
    sink_released_fn released; /* set by an owner that uses send_kept */
    void *released_ctx;
    struct event_json_opts json; /* how the sink wants events encoded; set by its create, zero:
                                  * the whole event */
};

static inline void sink_settle(struct sink *s, uint64_t token)
{
    if (s->settled)
        s->settled(s->settled_ctx, token);
}

static inline void sink_release(struct sink *s, void *keeper)
{
    if (s->released)
        s->released(s->released_ctx, keeper);
}

#endif
