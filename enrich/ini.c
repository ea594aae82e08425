/* Lenient Windows INI reader: see ini.h. The text is copied once and cut in place: the end of
 * each line, name and value becomes a NUL. Entries stay in file order and are looked up from
 * the end, so a later duplicate wins, also across a repeated section, without any merging. */
#include "ini.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define READ_CHUNK 4096
#define NO_SECTION SIZE_MAX

struct ini_entry {
    size_t section; /* index into ini->sections */
    const char *key;
    const char *value;
};

struct ini {
    char *text;            /* owned; every name and value below points into it */
    const char **sections; /* distinct names, as first written */
    size_t n_sections, cap_sections;
    struct ini_entry *entries;
    size_t n_entries, cap_entries;
};

void ini_free(struct ini *ini)
{
    if (!ini)
        return;
    free(ini->text);
    free(ini->sections);
    free(ini->entries);
    free(ini);
}

/* Case-insensitive for ASCII letters only: the bytes above 0x7F belong to an unknown code page. */
static int names_equal(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = (unsigned char)*a, cb = (unsigned char)*b;
        if (ca >= 'A' && ca <= 'Z')
            ca += 'a' - 'A';
        if (cb >= 'A' && cb <= 'Z')
            cb += 'a' - 'A';
        if (ca != cb)
            return 0;
        if (ca == '\0')
            return 1;
    }
}

static size_t section_find(const struct ini *ini, const char *name)
{
    for (size_t i = 0; i < ini->n_sections; i++)
        if (names_equal(ini->sections[i], name))
            return i;
    return NO_SECTION;
}

/* Sets *idx to the section called name, adding it on first sight. Returns 0 or LME_ENOMEM. */
static int section_use(struct ini *ini, const char *name, size_t *idx)
{
    *idx = section_find(ini, name);
    if (*idx != NO_SECTION)
        return 0;
    if (ini->n_sections == ini->cap_sections) {
        size_t cap = ini->cap_sections ? 2 * ini->cap_sections : 8;
        if (cap > SIZE_MAX / sizeof(*ini->sections))
            return LME_ENOMEM;
        const char **v = realloc(ini->sections, cap * sizeof(*v));
        if (!v)
            return LME_ENOMEM;
        ini->sections = v;
        ini->cap_sections = cap;
    }
    *idx = ini->n_sections;
    ini->sections[ini->n_sections++] = name;
    return 0;
}

static int entry_add(struct ini *ini, size_t section, const char *key, const char *value)
{
    if (ini->n_entries == ini->cap_entries) {
        size_t cap = ini->cap_entries ? 2 * ini->cap_entries : 16;
        if (cap > SIZE_MAX / sizeof(*ini->entries))
            return LME_ENOMEM;
        struct ini_entry *v = realloc(ini->entries, cap * sizeof(*v));
        if (!v)
            return LME_ENOMEM;
        ini->entries = v;
        ini->cap_entries = cap;
    }
    ini->entries[ini->n_entries++] = (struct ini_entry){ section, key, value };
    return 0;
}

/* Trims spaces and tabs from [s, end), cuts the string there and returns its new start. */
static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    return s;
}

static char *unquote(char *v)
{
    size_t n = strlen(v);
    if (n < 2 || v[0] != '"' || v[n - 1] != '"')
        return v;
    v[n - 1] = '\0';
    return v + 1;
}

/* One line, already cut at its end. *section is the current section (NO_SECTION before the
 * first header). Returns 0 or LME_ENOMEM. */
static int parse_line(struct ini *ini, char *line, char *end, size_t *section)
{
    char *s = trim(line, end);
    if (*s == '\0' || *s == ';' || *s == '#')
        return 0;
    if (*s == '[') {
        char *close = strchr(s + 1, ']');
        return section_use(ini, trim(s + 1, close ? close : s + strlen(s)), section);
    }
    char *eq = strchr(s, '=');
    if (!eq)
        return 0;
    char *value = unquote(trim(eq + 1, eq + 1 + strlen(eq + 1)));
    char *key = trim(s, eq);
    if (*key == '\0')
        return 0;
    if (*section == NO_SECTION) {
        int rc = section_use(ini, "", section);
        if (rc)
            return rc;
    }
    return entry_add(ini, *section, key, value);
}

/* Splits [p, end) at CRLF, LF or a lone CR. */
static int parse_lines(struct ini *ini, char *p, char *end)
{
    size_t section = NO_SECTION;
    while (p < end) {
        char *eol = p;
        while (eol < end && *eol != '\r' && *eol != '\n')
            eol++;
        char *next = eol;
        if (next < end && *next == '\r')
            next++;
        if (next < end && *next == '\n')
            next++;
        *eol = '\0';
        int rc = parse_line(ini, p, eol, &section);
        if (rc)
            return rc;
        p = next;
    }
    return 0;
}

/* Refuses what would silently parse as nothing: the connector reads these files as ANSI. */
static int check_text(const char *text, size_t len, const char *name, struct lme_err *err)
{
    if (len >= 2 && (memcmp(text, "\xFF\xFE", 2) == 0 || memcmp(text, "\xFE\xFF", 2) == 0))
        return lme_err_set(err, LME_EINVAL,
                           "%s: UTF-16 text (it starts with a UTF-16 byte-order mark); the "
                           "connector reads INI files as ANSI text: save it as ANSI",
                           name);
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return lme_err_set(err, LME_EINVAL,
                           "%s: NUL byte at offset %zu: not ANSI text (UTF-16 without a "
                           "byte-order mark, or not a text file)",
                           name, (size_t)(nul - text));
    return 0;
}

/* Takes ownership of text (len bytes followed by a NUL); name is for messages. */
static int parse_owned(char *text, size_t len, const char *name, struct ini **out,
                       struct lme_err *err)
{
    int rc = check_text(text, len, name, err);
    if (rc) {
        free(text);
        return rc;
    }
    struct ini *ini = calloc(1, sizeof(*ini));
    if (!ini) {
        free(text);
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", name);
    }
    ini->text = text;
    size_t bom = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    if (parse_lines(ini, text + bom, text + len) != 0) {
        ini_free(ini);
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", name);
    }
    *out = ini;
    return 0;
}

int ini_parse(const char *text, size_t len, struct ini **out, struct lme_err *err)
{
    *out = NULL;
    if (!text && len > 0)
        return lme_err_set(err, LME_EINVAL, "INI text: NULL with a length of %zu", len);
    if (len == SIZE_MAX)
        return lme_err_set(err, LME_ENOMEM, "INI text: out of memory");
    char *copy = malloc(len + 1);
    if (!copy)
        return lme_err_set(err, LME_ENOMEM, "INI text: out of memory");
    if (len > 0)
        memcpy(copy, text, len);
    copy[len] = '\0';
    return parse_owned(copy, len, "INI text", out, err);
}

/* ---- reading files ---- */

static int open_error(const char *path, int e, struct lme_err *err)
{
    if (e == ENOENT || e == ENOTDIR)
        return lme_err_set(err, LME_ENOENT, "%s: no such file", path);
    if (e == ENXIO || e == ENODEV || e == EISDIR) /* ENXIO: a socket */
        return lme_err_set(err, LME_EINVAL, "%s: not a regular file: name the INI file itself", path);
    if (e == EACCES || e == EPERM)
        return lme_err_set(err, LME_EIO, "%s: cannot open: %s (give the daemon's account read access)",
                           path, strerror(e));
    return lme_err_set(err, LME_EIO, "%s: cannot open: %s", path, strerror(e));
}

static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a file";
}

/* Checks fd is a regular file of at most max_bytes; sets *size. */
static int check_regular(int fd, const char *path, size_t max_bytes, size_t *size,
                         struct lme_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return lme_err_set(err, LME_EIO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return lme_err_set(err, LME_EINVAL, "%s: not a regular file (%s): name the INI file itself",
                           path, file_kind(st.st_mode));
    if ((uintmax_t)st.st_size > max_bytes)
        return lme_err_set(err, LME_ERANGE, "%s: %jd bytes, more than the %zu-byte limit for INI files",
                           path, (intmax_t)st.st_size, max_bytes);
    *size = (size_t)st.st_size;
    return 0;
}

/* Reads to the end, never holding more than max_bytes + 1 bytes: the file may grow after fstat. */
static int read_capped(int fd, const char *path, size_t max_bytes, size_t size_hint,
                       struct lme_buf *b, struct lme_err *err)
{
    if (lme_buf_reserve(b, size_hint + 1) != 0)
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", path);
    for (;;) {
        if (b->len == b->cap && lme_buf_reserve(b, READ_CHUNK) != 0)
            return lme_err_set(err, LME_ENOMEM, "%s: out of memory", path);
        size_t want = b->cap - b->len;
        if (max_bytes - b->len < want)
            want = max_bytes - b->len + 1;
        ssize_t n = read(fd, b->data + b->len, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return lme_err_set(err, LME_EIO, "%s: cannot read: %s", path, strerror(errno));
        if (n == 0)
            return 0;
        b->len += (size_t)n;
        if (b->len > max_bytes)
            return lme_err_set(err, LME_ERANGE,
                               "%s: grew past the %zu-byte limit for INI files while being read", path,
                               max_bytes);
    }
}

int ini_load(const char *path, size_t max_bytes, struct ini **out, struct lme_err *err)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return open_error(path, errno, err);
    struct lme_buf b = LME_BUF_INIT;
    size_t size = 0;
    int rc = check_regular(fd, path, max_bytes, &size, err);
    if (!rc)
        rc = read_capped(fd, path, max_bytes, size, &b, err);
    close(fd);
    if (!rc && lme_buf_reserve(&b, 1) != 0)
        rc = lme_err_set(err, LME_ENOMEM, "%s: out of memory", path);
    if (rc) {
        lme_buf_free(&b);
        return rc;
    }
    b.data[b.len] = '\0';
    return parse_owned(b.data, b.len, path, out, err);
}

/* ---- lookups ---- */

const char *ini_get(const struct ini *ini, const char *section, const char *key)
{
    if (!ini || !section || !key)
        return NULL;
    size_t s = section_find(ini, section);
    if (s == NO_SECTION)
        return NULL;
    for (size_t i = ini->n_entries; i-- > 0;)
        if (ini->entries[i].section == s && names_equal(ini->entries[i].key, key))
            return ini->entries[i].value;
    return NULL;
}

void ini_foreach_section(const struct ini *ini, int (*fn)(const char *section, void *ctx), void *ctx)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->n_sections; i++)
        if (fn(ini->sections[i], ctx) != 0)
            return;
}
