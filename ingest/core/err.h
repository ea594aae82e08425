/* Error codes and the error record every fallible function fills for its caller.
 * Functions return 0 or a negative LME_E* code; the message says what failed in words a user can act on. */
#ifndef LME_ERR_H
#define LME_ERR_H

enum {
    LME_OK = 0,
    LME_EINVAL = -1,  /* bad argument, bad config value, bad input */
    LME_ENOMEM = -2,  /* allocation failed */
    LME_EIO = -3,     /* read/write/open failed */
    LME_ENOENT = -4,  /* a named thing does not exist */
    LME_ERANGE = -5,  /* value out of range */
};

#define LME_ERR_MSG_MAX 1024

/* Owned by the caller, filled by the callee. */
struct lme_err {
    int code;
    char msg[LME_ERR_MSG_MAX];
};

/* Fills err (when not NULL) with code and a printf-style message; returns code so callers can
 * write `return lme_err_set(err, LME_EINVAL, "...")`. */
int lme_err_set(struct lme_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resets err to "no error". */
void lme_err_clear(struct lme_err *err);

#endif
