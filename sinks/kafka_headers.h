/* The Kafka messages' headers, `lme.schema_version` and `event.code`, built once per code and used
 * again. librdkafka takes a header list with each message and would free it with the message: four
 * allocations and four frees a message, which cost the producer a fifth of its CPU. The sink takes
 * the list back from the delivery report (rd_kafka_message_detach_headers) and keeps it idle for
 * the next message of the same code. Not thread-safe: the sink's thread only. */
#ifndef LME_KAFKA_HEADERS_H
#define LME_KAFKA_HEADERS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

struct kafka_headers;

/* Keeps at most max_idle lists idle (beyond, returned lists are destroyed). NULL: out of memory. */
struct kafka_headers *kafka_headers_create(size_t max_idle);

/* NULL-safe. Destroys the idle lists; lists handed out are their holder's. */
void kafka_headers_destroy(struct kafka_headers *kh);

/* A header list for a message whose event.code is code ("" when it has none: no event.code
 * header), an idle one when there is one. The caller owns it: it hands it to librdkafka with the
 * message, or back with kafka_headers_put. */
rd_kafka_headers_t *kafka_headers_get(struct kafka_headers *kh, const char *code);

/* Takes back a list kafka_headers_get returned for code. */
void kafka_headers_put(struct kafka_headers *kh, rd_kafka_headers_t *h, const char *code);

/* How many lists were built (not taken idle), for tests and the benchmark. */
size_t kafka_headers_built(const struct kafka_headers *kh);

#endif
