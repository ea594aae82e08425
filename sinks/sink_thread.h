/* A sink on a thread of its own: wraps another sink (the inner one) so that its send and poll run
 * on a thread it starts, while the owner's thread only puts each event into a batch (its JSON
 * encoded there, when the owner uses the batch it lends: sink.h's json_buffer). Reading,
 * parsing and encoding then overlap with producing: on two cores, the Kafka sink's share of the
 * work (librdkafka's produce path, delivery reports) no longer waits behind the parser's.
 *
 * To the owner it is a sink like any other (sink.h): settlements reach it on its own thread,
 * inside send and poll, and its stats count what it holds in batches and what the inner sink
 * holds. The inner sink sees only the fields of an event sink.h lets a sink read. */
#ifndef LME_SINK_THREAD_H
#define LME_SINK_THREAD_H

#include "err.h"
#include "sink.h"

/* Takes inner over (its name and json options are the wrapper's from now on; it is destroyed
 * with the wrapper, also when this fails) and starts its thread. An inner sink with send_kept
 * produces from the batches themselves, which then stay out until it released every event of
 * them: the stats' held_bytes counts the batches out, and max_held_bytes (what the owner lets
 * it reach: sink.h) sets how many batches there may be. Returns NULL with err filled. */
struct sink *sink_thread_create(struct sink *inner, size_t max_held_bytes, struct lme_err *err);

#endif
