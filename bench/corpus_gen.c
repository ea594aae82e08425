/* corpus-gen N [SEED]: writes N browse-log records to standard output, byte-identical for the
 * same N and SEED, for the benchmark (bench/run.sh). The mix imitates a real connector day: CRLF,
 * right-aligned components, debug-heavy levels, ~10% wrapped records, a few Connectivity
 * Controller lines and a few junk lines (which continue the record before them). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct message {
    const char *code, *text, *module;
    int line;
};

/* Real code/message pairs from the Knowledge Base excerpts in tests/fixtures/samples. */
static const struct message messages[] = {
    { "41220", "Error: no Notes Session Open", "ntshcs", 2317 },
    { "00510", "Error {Mail system failure}: The application failed to initialize.", "stdmain", 863 },
    { "00505", "LME-NOTES-MEXNTS is ending, last return code was {Mail system failure}.", "stdmain", 958 },
    { "01211", "Error {Timeout on resource lock}: Unable to lock the LME-NOTESOPEN shared memory object", "ntshcs", 1765 },
    { "64210", "Unable to connect to to the Notes Server SERVERNAME/NOTESWAY.", "ntshcdb", 116 },
    { "41207", "Successfully Initialized Notes Interface", "ntshcs", 1480 },
    { "41210", "Terminating Notes Interface", "ntshcs", 1596 },
    { "00019", "The value of the NOTESSERVER keyword in the LME-NOTES-NTSMEX section is 'Test/Notes'", "ntshcs", 3935 },
    { "41262", "Performing consistency check, validating items, and automatically removing old deleted note stubs on Test/Notes!!Exchange.box...", "ntshcs", 1814 },
    { "62501", "Starting DX work item 327 for agent LINKAGE(DXAMEX): RequestDXAUpdates Full", "dxmpo", 417 },
    { "60277", "Opening the MIF read queue dxm.in", "mif", 362 },
    { "60277", "Opening the MIF write queue router.in", "mif", 362 },
    { "67130", "Completed Outbound processing cycle", "msxdxapo", 677 },
    { "04107", "Queue DXAMEX.IN has been opened (physical location is q\\DXAMEX.IN)", "qm", 1884 },
    { "04108", "Queue DXAMEX.IN has been closed", "qm", 2003 },
    { "67037", "Completed Inbound Processing", "msxdxapi", 364 },
    { "62309", "Begin Inbound processing", "dxmpi", 572 },
    { "04113", "Queue item q\\dxm.in\\50000017.rdy has been opened in queue dxm.in", "qm", 3480 },
    { "60331", "Closing MIF file 'c:\\linkage\\q\\archive\\a41296e2.mif', type 'read'", "mif", 1048 },
    { "60248", "Searching directory c:\\linkage\\q\\archive\\ for MIF partition block files", "mifmpb", 1648 },
    { "23703", "NJE client starts receiving", "njeclnt", 3002 },
    { "40510", "Received an OV/VM distribution", "vm2dia", 1300 },
    { "44794", "Mapped VM/CMS distribution correlation", "ndt2dia", 1622 },
    { "41301", "Notes returned code: b0 (hex)", "ntshcint", 1008 },
    { "41300", "Notes Package ID: Main (MAIN). Extended Reason String: None", "ntshcint", 1025 },
    { "54004", "Error {Invalid format}: Cannot parse Notes message", "nts2mex", 2452 },
    { "41351", "Message is missing an originator", "ntshcm", 2546 },
    { "02002", "Error {WIN32:5(Access is denied.)}: Could not create connection 1 for \\\\.\\pipe\\lsi\\control", "rcspipe", 1111 },
    { "60350", "Error {Invalid syntax}: Failed to read next transaction", "mifppars", 590 },
    { "10153", "Subtask DXANOTES(lsdxants.exe) has ended with return code 1", "subtask", 441 },
};

static const char *const components[] = {
    "LME-NOTES-NTSMEX", "LME-NOTES-MEXNTS", "LME-NOTES-DXANOTES", "DXM", "DXAMEX",
    "LME-PROFS-VMDIA", "CONTROL-SERVICE", "LDE", "LME-NOTES", "control",
};

static const char *const controller_lines[] = {
    "08226 Process LME-NOTES-NTSMEX terminated abnormally",
    "08277 Shutting down LME-NOTES-Service",
    "31900 Call Product Support, error=invalid parameter",
};

static uint64_t rng_state;

static uint64_t next_random(void) /* splitmix64: fixed output for a fixed seed on every machine */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned below(unsigned n)
{
    return (unsigned)(next_random() % n);
}

/* Debug-heavy like real logs: 5% errors, 15% warnings, 35% info, 45% debug. */
static int pick_level(void)
{
    unsigned r = below(100);
    return r < 5 ? 1 : r < 20 ? 2 : r < 55 ? 3 : 4;
}

static void put_junk_line(void)
{
    unsigned n = 20 + below(60);
    for (unsigned i = 0; i < n; i++) {
        unsigned r = below(100);
        putchar(r < 5 ? 0xA0 : r < 8 ? 0x80 + (int)below(32) : ' ' + (int)below(95));
    }
    fputs("\r\n", stdout);
}

/* Prints text wrapped after a word near the middle, as the connector wraps long messages. */
static void put_wrapped(const char *text)
{
    size_t len = strlen(text);
    const char *cut = strchr(text + len / 2, ' ');
    if (!cut)
        cut = strchr(text, ' ');
    if (!cut) {
        printf("%s\r\n", text);
        return;
    }
    printf("%.*s\r\n%s\r\n", (int)(cut - text), text, cut + 1);
}

static void put_record(uint64_t t)
{
    const struct message *m = &messages[below(sizeof(messages) / sizeof(messages[0]))];
    const char *comp = components[below(sizeof(components) / sizeof(components[0]))];
    uint64_t day = t / 86400, s = t % 86400;
    printf("1998/%02" PRIu64 "/%02" PRIu64 " %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64, 3 + day / 28,
           1 + day % 28, s / 3600, s / 60 % 60, s % 60);
    if (below(2))
        printf("-%24s", comp); /* unaltered logs right-align the component */
    else
        printf(" - %s", comp);
    printf("(%04x) %d %s:", below(0x400), pick_level(), m->code);
    if (below(10) == 0) { /* wrapped, trailer on its own line */
        put_wrapped(m->text);
        printf(" >> %s(%d)\r\n", m->module, m->line);
        return;
    }
    printf("%s >> %s(%d)\r\n", m->text, m->module, m->line);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: corpus-gen N [SEED]\n");
        return 2;
    }
    uint64_t n = strtoull(argv[1], NULL, 10);
    rng_state = argc == 3 ? strtoull(argv[2], NULL, 10) : 1998;
    static char out[1 << 20];
    setvbuf(stdout, out, _IOFBF, sizeof(out));

    uint64_t t = 0;
    for (uint64_t i = 0; i < n; i++) {
        t += below(4) == 0; /* about four records a second */
        if (below(200) == 0)
            printf("%s\r\n", controller_lines[below(3)]);
        else
            put_record(t);
        if (below(200) == 0)
            put_junk_line(); /* continues the record before it */
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
