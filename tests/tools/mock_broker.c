/* lme-mock-broker: a Kafka-protocol cluster on loopback, built on librdkafka's mock cluster, for
 * the integration tests and the quick start. Prints "bootstrap=HOST:PORT,..." on its first line,
 * then obeys commands read from standard input, one a line, until killed or told "quit":
 *   down | up                          take every broker down / bring them back
 *   produce-errors COUNT CODE...       the next COUNT Produce requests fail with the codes given
 *                                      (numeric librdkafka error codes), cycled
 *   rtt MS                             every broker answers MS milliseconds late (a far cluster)
 * At the end of standard input it keeps running until SIGTERM/SIGINT. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRODUCE_API 0 /* Kafka protocol ApiKey of Produce */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: lme-mock-broker [--brokers N] [--topic NAME[:PARTITIONS]]...\n");
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *spec)
{
    char name[256];
    int partitions = 1;
    snprintf(name, sizeof(name), "%s", spec);
    char *colon = strchr(name, ':');
    if (colon) {
        *colon = '\0';
        partitions = atoi(colon + 1);
    }
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, partitions, 1);
    if (err) {
        fprintf(stderr, "lme-mock-broker: topic %s: %s\n", name, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static void set_all(rd_kafka_mock_cluster_t *mc, int brokers, int up)
{
    for (int id = 1; id <= brokers; id++) {
        if (up)
            rd_kafka_mock_broker_set_up(mc, id);
        else
            rd_kafka_mock_broker_set_down(mc, id);
    }
}

static void produce_errors(rd_kafka_mock_cluster_t *mc, char *args)
{
    rd_kafka_resp_err_t codes[64];
    size_t n = 0, count = strtoul(strtok(args, " \n") ? args : "0", NULL, 10);
    for (char *tok = strtok(NULL, " \n"); tok && n < 64; tok = strtok(NULL, " \n"))
        codes[n++] = (rd_kafka_resp_err_t)atoi(tok);
    if (n == 0)
        return;
    rd_kafka_resp_err_t *all = calloc(count, sizeof(*all));
    for (size_t i = 0; all && i < count; i++)
        all[i] = codes[i % n];
    if (all)
        rd_kafka_mock_push_request_errors_array(mc, PRODUCE_API, count, all);
    free(all);
}

static void serve(rd_kafka_mock_cluster_t *mc, int brokers)
{
    char line[1024];
    while (!stop && fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "down", 4) == 0)
            set_all(mc, brokers, 0);
        else if (strncmp(line, "up", 2) == 0)
            set_all(mc, brokers, 1);
        else if (strncmp(line, "produce-errors ", 15) == 0)
            produce_errors(mc, line + 15);
        else if (strncmp(line, "rtt ", 4) == 0)
            for (int id = 1; id <= brokers; id++)
                rd_kafka_mock_broker_set_rtt(mc, id, atoi(line + 4));
        else if (strncmp(line, "quit", 4) == 0)
            return;
        else
            continue;
        printf("ok\n");
        fflush(stdout);
    }
    /* stdin closed: wait for a signal. Blocked while stop is checked, so that one arriving
     * just before the wait still ends it (pause() would miss it and hang). */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    while (!stop)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(int argc, char **argv)
{
    int brokers = 3;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "lme-mock-broker: %s\n", errstr);
        return 1;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            brokers = atoi(argv[++i]);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "lme-mock-broker: cannot start the mock cluster\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
            if (create_topic(mc, argv[++i]) != 0)
                return 1;
        } else if (strcmp(argv[i], "--brokers") == 0) {
            i++;
        } else {
            usage();
            return 2;
        }
    }
    printf("bootstrap=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    serve(mc, brokers);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
