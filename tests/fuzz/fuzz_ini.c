/* Fuzz target for the INI reader (enrich/ini.c): the input is a whole Notes.ini or Exchconn.ini.
 * ini_parse, then the lookups the probes make (ini_get of Notes/KeyFileName and
 * Notes/Directory, among others) and ini_foreach_section with a lookup in every section.
 * Checked beyond what ASan and UBSan see, from ini.h's contract:
 *   - text with a NUL byte or starting with a UTF-16 byte-order mark is refused (LME_EINVAL),
 *     any other text is accepted; a refusal leaves *out NULL and a message in err;
 *   - every section ini_foreach_section names can be looked up again (ini_get on it does not
 *     crash, and a name is never NULL). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_ini: %s\n", what);
    abort();
}

/* Touches every byte of a value: ASan catches a value that is not a NUL-terminated string. */
static void touch(const char *value)
{
    if (value && strlen(value) == SIZE_MAX)
        die("impossible length");
}

struct walk {
    const struct ini *ini;
    size_t sections;
};

static int on_section(const char *section, void *ctx)
{
    struct walk *w = ctx;
    if (!section)
        die("ini_foreach_section gave a NULL name");
    touch(section);
    touch(ini_get(w->ini, section, "NOTESSERVER"));
    touch(ini_get(w->ini, section, ""));
    w->sections++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct ini *ini = (struct ini *)1; /* ini_parse must overwrite it */
    struct lme_err err = { 0, "" };
    int rc = ini_parse(text, size, &ini, &err);

    int utf16 = size >= 2 && (memcmp(text, "\xFF\xFE", 2) == 0 || memcmp(text, "\xFE\xFF", 2) == 0);
    int refuse = utf16 || memchr(text, '\0', size) != NULL;
    if (refuse && rc != LME_EINVAL)
        die("text with a NUL byte or a UTF-16 byte-order mark was not refused");
    if (!refuse && rc != 0)
        die("plain text was refused");
    if (rc != 0) {
        if (ini != NULL)
            die("a refusal left *out set");
        if (err.msg[0] == '\0' || err.code != rc)
            die("a refusal without its message");
        return 0;
    }

    touch(ini_get(ini, "Notes", "KeyFileName"));
    touch(ini_get(ini, "Notes", "Directory"));
    touch(ini_get(ini, "notes", "keyfilename"));
    touch(ini_get(ini, "", "KeyFileName"));
    touch(ini_get(ini, "Exchange Connector", "Notes Server"));
    if (ini_get(ini, NULL, "KeyFileName") || ini_get(ini, "Notes", NULL) ||
        ini_get(NULL, "Notes", "x"))
        die("a lookup with a NULL argument found something");

    struct walk w = { ini, 0 };
    ini_foreach_section(ini, on_section, &w);
    ini_free(ini);
    return 0;
}
