/* Error record helpers: see err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

int lme_err_set(struct lme_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

void lme_err_clear(struct lme_err *err)
{
    if (!err)
        return;
    err->code = LME_OK;
    err->msg[0] = '\0';
}
