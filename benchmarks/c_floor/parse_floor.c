/* The floor for hftcore.fixed.parse_many: a plain C loop over newline-separated decimals with
 * no validation, no sign, no exponent, no rounding, no overflow checks: the least work that
 * turns "01803.4063\n" into 18034063.  What hftcore does beyond it is the price of exactness.
 * (Unsigned arithmetic: wrapping is defined, where a signed overflow would be undefined.) */
#include <stdint.h>

int64_t floor_parse(const char *buf, int64_t n, int64_t *out) {
    int64_t count = 0;
    uint64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') {
            out[count++] = (int64_t)m;
            m = 0;
        } else if (c != '.') {
            m = m * 10 + (uint64_t)(c - '0');
        }
    }
    if (n > 0 && buf[n - 1] != '\n') out[count++] = (int64_t)m;
    return count;
}
