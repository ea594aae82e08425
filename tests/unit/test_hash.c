/* Unit tests of lme_hash64 (ingest/core/hash.c) and the event id built from it (lme_event_id in
 * ingest/core/event.c): pinned known answers, so ids stay stable across versions and machines. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "event.h"
#include "hash.h"

#define S(lit) ((struct lme_str){ (lit), sizeof(lit) - 1 })

static const char fox[] = "The quick brown fox jumps over the lazy dog";

/* Pinned values. Computed once from the implementation and cross-checked against an independent
 * MurmurHash64A (little-endian word reads). If one of these changes, every event.id changes. */
static void test_hash_known_answers_are_pinned(void **state)
{
    (void)state;
    unsigned char all[256];
    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (unsigned char)i;
    unsigned char ff[7];
    memset(ff, 0xff, sizeof(ff));
    static const struct {
        const char *data;
        size_t len;
        uint64_t seed;
        uint64_t want;
    } cases[] = {
        { "", 0, 0, 0x0000000000000000ULL },
        { "", 0, 1, 0xc6a4a7935bd064dcULL },
        { "a", 1, 0, 0x071717d2d36b6b11ULL },
        { "abc", 3, 0, 0x9cc9c33498a95efbULL },
        { "abcdefgh", 8, 0, 0xafdb0257ff41aa98ULL },
        { "abcdefghi", 9, 0, 0xc9b9d84356146ac2ULL },
        { fox, sizeof(fox) - 1, 0, 0x5589ca33042a861bULL },
        { fox, sizeof(fox) - 1, 0x6c6d652d696e6765ULL, 0x0f7f60940a620601ULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t got = lme_hash64(cases[i].data, cases[i].len, cases[i].seed);
        if (got != cases[i].want)
            fail_msg("case %zu: got 0x%016llx, want 0x%016llx", i, (unsigned long long)got,
                     (unsigned long long)cases[i].want);
    }
    /* High bytes, all byte values and a tail: the words are read little-endian, unsigned. */
    assert_true(lme_hash64(all, sizeof(all), 0x123456789abcdef0ULL) == 0x5a35f371008323ceULL);
    assert_true(lme_hash64(ff, sizeof(ff), UINT64_MAX) == 0xf4bcf3698401546bULL);
}

static void test_hash_is_deterministic_and_independent_of_alignment(void **state)
{
    (void)state;
    unsigned char src[80], shifted[96];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof(src); len++) {
        uint64_t ref = lme_hash64(src, len, 42);
        assert_true(lme_hash64(src, len, 42) == ref);
        for (size_t off = 1; off < 8; off++) {
            memset(shifted, 0xAA, sizeof(shifted));
            memcpy(shifted + off, src, len);
            if (lme_hash64(shifted + off, len, 42) != ref)
                fail_msg("len %zu at misalignment %zu hashes differently", len, off);
        }
    }
}

/* MurmurHash64A as published, its tail read a byte at a time: lme_hash64 reads a tail after a
 * whole word as the word that ends the data, which must come to the same. */
static uint64_t reference_hash64(const unsigned char *p, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    uint64_t h = seed ^ ((uint64_t)len * m);
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t k = 0;
        for (int i = 0; i < 8; i++)
            k |= (uint64_t)p[i] << (8 * i);
        k *= m;
        k ^= k >> 47;
        k *= m;
        h ^= k;
        h *= m;
    }
    switch (len) {
    case 7: h ^= (uint64_t)p[6] << 48; /* fall through */
    case 6: h ^= (uint64_t)p[5] << 40; /* fall through */
    case 5: h ^= (uint64_t)p[4] << 32; /* fall through */
    case 4: h ^= (uint64_t)p[3] << 24; /* fall through */
    case 3: h ^= (uint64_t)p[2] << 16; /* fall through */
    case 2: h ^= (uint64_t)p[1] << 8; /* fall through */
    case 1: h ^= (uint64_t)p[0]; h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return h;
}

static void test_hash_matches_the_reference_at_every_length(void **state)
{
    (void)state;
    unsigned char src[300];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (unsigned char)(i * 131 + 7);
    for (size_t len = 0; len <= sizeof(src); len++)
        for (size_t start = 0; start < 9 && start + len <= sizeof(src); start++)
            if (lme_hash64(src + start, len, 0x6c6d652d696e6765ULL) !=
                reference_hash64(src + start, len, 0x6c6d652d696e6765ULL))
                fail_msg("len %zu from %zu differs from the reference", len, start);
}

static void test_hash_reads_only_len_bytes(void **state)
{
    (void)state;
    char a[32] = "0123456789abcdefXXXXXXXXXXXXXXX";
    char b[32] = "0123456789abcdefYYYYYYYYYYYYYYY";
    for (size_t len = 0; len <= 16; len++)
        assert_true(lme_hash64(a, len, 7) == lme_hash64(b, len, 7));
}

static void test_every_length_0_to_64_of_one_input_hashes_distinctly(void **state)
{
    (void)state;
    unsigned char text[64], zeros[64];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (unsigned char)('a' + i % 26);
    memset(zeros, 0, sizeof(zeros));
    /* Zero bytes matter most: a trailing zero leaves the tail word unchanged, only the length
     * tells "a" from "a\0". */
    const unsigned char *inputs[] = { text, zeros };
    for (size_t k = 0; k < 2; k++) {
        uint64_t h[65];
        for (size_t len = 0; len <= 64; len++) {
            h[len] = lme_hash64(inputs[k], len, 0);
            for (size_t j = 0; j < len; j++)
                if (h[j] == h[len])
                    fail_msg("input %zu: lengths %zu and %zu collide", k, j, len);
        }
    }
}

static void test_every_single_bit_flip_changes_the_hash(void **state)
{
    (void)state;
    unsigned char buf[67]; /* 8 words and a 3-byte tail */
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 7);
    uint64_t ref = lme_hash64(buf, sizeof(buf), 0);
    for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (lme_hash64(buf, sizeof(buf), 0) == ref)
            fail_msg("flipping bit %zu does not change the hash", bit);
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    assert_true(lme_hash64(buf, sizeof(buf), 0) == ref);
}

static void test_seed_changes_the_hash(void **state)
{
    (void)state;
    static const uint64_t seeds[] = { 0, 1, 2, 0x80000000ULL, 0x100000000ULL, 0x6c6d652d696e6765ULL,
                                      UINT64_MAX };
    const size_t n = sizeof(seeds) / sizeof(seeds[0]);
    static const size_t lens[] = { 0, 3, 8, 43 };
    for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (lme_hash64(fox, lens[l], seeds[i]) == lme_hash64(fox, lens[l], seeds[j]))
                    fail_msg("len %zu: seeds %zu and %zu give the same hash", lens[l], i, j);
    }
}

static void test_null_pointer_with_length_0_hashes_like_the_empty_string(void **state)
{
    (void)state;
    assert_true(lme_hash64(NULL, 0, 99) == lme_hash64("", 0, 99));
}

/* ---- lme_event_id ---- */

static const char ex_original[] =
    "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes\r\nSession Open\r\n"
    ">> ntshcs(2317)";

static struct lme_event example_event(void)
{
    struct lme_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.path = S("/logs/exch01/980317ZZ.log");
    ev.host = S("exch01");
    ev.timezone = S("America/New_York");
    ev.file_dev = 2049;
    ev.file_ino = 1234567;
    ev.offset = 1187;
    ev.end_offset = 1187 + sizeof(ex_original) - 1 + 2;
    ev.time_ms = 890191370000;
    ev.created_ms = 1795985221123;
    ev.original = S(ex_original);
    ev.message = S("Error: no Notes Session Open");
    ev.code = S("41220");
    ev.component = S("LME-NOTES-MEXNTS");
    ev.origin_file = S("ntshcs");
    ev.error_type = (struct lme_str){ NULL, 0 };
    ev.thread_id = 0x18b;
    ev.origin_line = 2317;
    ev.severity = 1;
    ev.shape = LME_SHAPE_BROWSE;
    return ev;
}

static void id_of(const struct lme_event *ev, char out[33])
{
    memset(out, 'Z', 33);
    lme_event_id(ev, out);
}

static void test_event_id_is_32_lowercase_hex_digits_and_a_nul(void **state)
{
    (void)state;
    struct lme_event ev = example_event();
    char id[33];
    for (int v = 0; v < 50; v++) {
        ev.offset = (uint64_t)v * 977;
        id_of(&ev, id);
        assert_int_equal(id[32], '\0');
        for (int i = 0; i < 32; i++)
            if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
                fail_msg("id %s: character %d is not lowercase hex", id, i);
    }
}

/* Pinned: the id of a record must never change between versions (consumers drop duplicates by it). */
static void test_event_id_known_answers_are_pinned(void **state)
{
    (void)state;
    struct lme_event ev = example_event();
    char id[33];
    id_of(&ev, id);
    assert_string_equal(id, "f6522c783b4c419c2277b7a1b8bd1928");

    struct lme_event empty;
    memset(&empty, 0, sizeof(empty));
    id_of(&empty, id);
    assert_string_equal(id, "81505908caf6671e4646d617e7b6a91b");
}

static void test_same_identity_fields_give_the_same_id(void **state)
{
    (void)state;
    /* Equal content at other addresses: the id depends on bytes, not pointers. */
    char host[] = "exch01";
    char original[sizeof(ex_original)];
    memcpy(original, ex_original, sizeof(ex_original));
    struct lme_event a = example_event(), b = example_event();
    b.host = (struct lme_str){ host, 6 };
    b.original = (struct lme_str){ original, sizeof(ex_original) - 1 };
    char ia[33], ib[33], ia2[33];
    id_of(&a, ia);
    id_of(&b, ib);
    id_of(&a, ia2);
    assert_string_equal(ia, ib);
    assert_string_equal(ia, ia2);
}

static void assert_id_differs(const struct lme_event *changed, const char *what)
{
    struct lme_event ref = example_event();
    char a[33], b[33];
    id_of(&ref, a);
    id_of(changed, b);
    if (strcmp(a, b) == 0)
        fail_msg("changing %s does not change the id (%s)", what, a);
}

static void test_changing_any_identity_field_changes_the_id(void **state)
{
    (void)state;
    struct lme_event ev;

    ev = example_event();
    ev.host = S("exch02");
    assert_id_differs(&ev, "host");
    ev = example_event();
    ev.host = S("exch0");
    assert_id_differs(&ev, "host (prefix)");
    ev = example_event();
    ev.host = (struct lme_str){ NULL, 0 };
    assert_id_differs(&ev, "host (absent)");

    ev = example_event();
    ev.file_dev ^= 1;
    assert_id_differs(&ev, "file_dev (low bit)");
    ev = example_event();
    ev.file_dev ^= 1ULL << 63;
    assert_id_differs(&ev, "file_dev (high bit)");

    ev = example_event();
    ev.file_ino += 1;
    assert_id_differs(&ev, "file_ino");
    ev = example_event();
    ev.file_ino ^= 1ULL << 40;
    assert_id_differs(&ev, "file_ino (high bit)");

    ev = example_event();
    ev.offset += 1;
    assert_id_differs(&ev, "offset");
    ev = example_event();
    ev.offset += 1ULL << 32;
    assert_id_differs(&ev, "offset (above 4 GiB)");

    /* copy-truncate: a different record at the same place */
    ev = example_event();
    ev.original = S("1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes");
    assert_id_differs(&ev, "original (shorter)");
    ev = example_event();
    char orig[sizeof(ex_original)];
    memcpy(orig, ex_original, sizeof(orig));
    orig[sizeof(orig) - 3] ^= 0x01; /* a byte in the tail, past the last full word */
    ev.original = (struct lme_str){ orig, sizeof(orig) - 1 };
    assert_id_differs(&ev, "original (one bit near the end)");
    ev = example_event();
    ev.original = (struct lme_str){ NULL, 0 };
    assert_id_differs(&ev, "original (absent)");
}

static void test_identity_fields_do_not_stand_in_for_each_other(void **state)
{
    (void)state;
    char a[33], b[33];
    struct lme_event x = example_event(), y = example_event();
    /* device and inode swapped */
    x.file_dev = 5;
    x.file_ino = 9;
    y.file_dev = 9;
    y.file_ino = 5;
    id_of(&x, a);
    id_of(&y, b);
    assert_string_not_equal(a, b);
    /* a byte moved from the host to the record */
    x = example_event();
    y = example_event();
    x.host = S("ab");
    x.original = S("c");
    y.host = S("a");
    y.original = S("bc");
    id_of(&x, a);
    id_of(&y, b);
    assert_string_not_equal(a, b);
    /* inode and offset swapped */
    x = example_event();
    y = example_event();
    x.file_ino = 0;
    y.offset = 0;
    x.offset = 1234567;
    id_of(&x, a);
    id_of(&y, b);
    assert_string_not_equal(a, b);
}

static void test_fields_outside_the_identity_do_not_change_the_id(void **state)
{
    (void)state;
    struct lme_event ref = example_event();
    char want[33], got[33];
    id_of(&ref, want);

    struct lme_event ev = example_event();
    ev.message = S("another message");
    ev.time_ms = -1;
    ev.created_ms = 0;
    ev.path = S("/elsewhere/980317ZZ.log.1"); /* a rotated file keeps its records' ids */
    ev.timezone = S("Europe/Berlin");
    ev.end_offset = 1;
    ev.code = S("00510");
    ev.component = (struct lme_str){ NULL, 0 };
    ev.origin_file = (struct lme_str){ NULL, 0 };
    ev.error_type = S("Unknown");
    ev.thread_id = -1;
    ev.origin_line = -1;
    ev.severity = 0;
    ev.shape = LME_SHAPE_UNPARSED;
    ev.flags = LME_EV_PARSE_FAILURE | LME_EV_TRUNCATED | LME_EV_NO_TIMESTAMP;
    ev.truncated_bytes = 123;
    id_of(&ev, got);
    assert_string_equal(got, want);
}

static void test_absent_slices_hash_like_empty_ones(void **state)
{
    (void)state;
    struct lme_event a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    b.host = (struct lme_str){ "", 0 };
    b.original = (struct lme_str){ "ignored", 0 };
    char ia[33], ib[33];
    id_of(&a, ia);
    id_of(&b, ib);
    assert_string_equal(ia, ib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_known_answers_are_pinned),
        cmocka_unit_test(test_hash_is_deterministic_and_independent_of_alignment),
        cmocka_unit_test(test_hash_matches_the_reference_at_every_length),
        cmocka_unit_test(test_hash_reads_only_len_bytes),
        cmocka_unit_test(test_every_length_0_to_64_of_one_input_hashes_distinctly),
        cmocka_unit_test(test_every_single_bit_flip_changes_the_hash),
        cmocka_unit_test(test_seed_changes_the_hash),
        cmocka_unit_test(test_null_pointer_with_length_0_hashes_like_the_empty_string),
        cmocka_unit_test(test_event_id_is_32_lowercase_hex_digits_and_a_nul),
        cmocka_unit_test(test_event_id_known_answers_are_pinned),
        cmocka_unit_test(test_same_identity_fields_give_the_same_id),
        cmocka_unit_test(test_changing_any_identity_field_changes_the_id),
        cmocka_unit_test(test_identity_fields_do_not_stand_in_for_each_other),
        cmocka_unit_test(test_fields_outside_the_identity_do_not_change_the_id),
        cmocka_unit_test(test_absent_slices_hash_like_empty_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
