/* Mount lookup: see probe_mount.h. A mountinfo line reads
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * (id, parent, major:minor, root, mount point, options, optional fields up to "-", then type,
 * source and the superblock's options); names escape space, tab, newline and '\\' as octal. */
#include "probe_mount.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "err.h"

#define MAX_FIELDS 64

/* Copies a mountinfo field into out, turning its octal escapes ("\040") back into bytes. */
static void unescape(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 1 < size; n++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            out[n] = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            out[n] = *s++;
        }
    }
    out[n] = '\0';
}

/* Splits line at spaces into fields (in place); returns how many. */
static int split(char *line, char **fields)
{
    int n = 0;
    for (char *save = NULL, *t = strtok_r(line, " \n", &save); t && n < MAX_FIELDS;
         t = strtok_r(NULL, " \n", &save))
        fields[n++] = t;
    return n;
}

/* Fills m from one line's fields when its device is dev. Returns 1 when it was. */
static int read_line(char *line, dev_t dev, struct probe_mount *m)
{
    char *f[MAX_FIELDS];
    int n = split(line, f);
    unsigned major, minor;
    if (n < 10 || sscanf(f[2], "%u:%u", &major, &minor) != 2 || makedev(major, minor) != dev)
        return 0;
    int dash = 6;
    while (dash < n && strcmp(f[dash], "-") != 0)
        dash++;
    if (dash + 2 >= n) /* no type and source after the separator */
        return 0;
    unescape(f[4], m->point, sizeof(m->point));
    unescape(f[dash + 1], m->fstype, sizeof(m->fstype));
    unescape(f[dash + 2], m->source, sizeof(m->source));
    snprintf(m->options, sizeof(m->options), "%s%s%s", f[5], dash + 3 < n ? "," : "",
             dash + 3 < n ? f[dash + 3] : "");
    return 1;
}

int probe_mount_find(FILE *f, dev_t dev, struct probe_mount *m)
{
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    memset(m, 0, sizeof(*m));
    while (!found && getline(&line, &cap, f) >= 0)
        found = read_line(line, dev, m);
    free(line);
    return found ? 0 : LME_ENOENT;
}

int probe_mount_of(dev_t dev, struct probe_mount *m)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        memset(m, 0, sizeof(*m));
        return LME_ENOENT;
    }
    int rc = probe_mount_find(f, dev, m);
    fclose(f);
    return rc;
}

static bool has_option(const char *options, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = options; *p;) {
        size_t n = strcspn(p, ",");
        if ((n == len || (n > len && p[len] == '=')) && strncmp(p, name, len) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

int probe_mount_bits_are_the_mounts(const struct probe_mount *m)
{
    if (strcmp(m->fstype, "cifs") == 0 || strcmp(m->fstype, "smb3") == 0)
        return !has_option(m->options, "cifsacl") && !has_option(m->options, "modefromsid");
    return strcmp(m->fstype, "smbfs") == 0 || strcmp(m->fstype, "fuse.smbnetfs") == 0;
}
