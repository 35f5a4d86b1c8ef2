/* Long-double arithmetic for INCRBYFLOAT, so results match Redis digit for digit: Redis
 * parses with strtold, adds in 80-bit long double and prints "%.17Lf" with trailing zeros
 * trimmed. Rust has no long double, so this one function is C. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

static int string2ld(const char *s, size_t slen, long double *dp) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    char *eptr;
    long double value;
    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf, s, slen);
    buf[slen] = '\0';
    errno = 0;
    value = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr[0] != '\0' || (size_t)(eptr - buf) != slen ||
        ((errno == ERANGE) && (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) ||
        errno == EINVAL || isnan(value))
        return 0;
    *dp = value;
    return 1;
}

/* Returns the length written to out (at least MAX_LONG_DOUBLE_CHARS bytes), or
 * -1 when an operand is not a valid float, -2 when the result is NaN or infinite. */
long tollgate_incrbyfloat(const char *cur, size_t curlen, const char *incr, size_t incrlen, char *out, size_t outlen) {
    long double value = 0, by;
    if (cur != NULL && !string2ld(cur, curlen, &value)) return -1;
    if (!string2ld(incr, incrlen, &by)) return -1;
    value += by;
    if (isnan(value) || isinf(value)) return -2;
    int l = snprintf(out, outlen, "%.17Lf", value);
    if (l < 0 || (size_t)l + 1 > outlen) return 0;
    if (memchr(out, '.', (size_t)l) != NULL) {
        char *p = out + l - 1;
        while (*p == '0') { p--; l--; }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; l = 1; }
    return l;
}
