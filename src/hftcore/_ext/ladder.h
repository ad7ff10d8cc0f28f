/* C helpers of the price ladder (ladder.pxd) and the books built on it: bit scans over the
   occupancy words, and exact sums that may pass the int64 range (a 128-bit integer kept as two
   64-bit halves, so Cython sees its real layout instead of a 64-bit stand-in). */
#ifndef HFTCORE_LADDER_H
#define HFTCORE_LADDER_H

#include <stdint.h>
#include <string.h>

/* Index (0..63) of the highest / lowest set bit of a word that is not zero. */
static inline int highest_set_bit(uint64_t word) { return 63 - __builtin_clzll(word); }
static inline int lowest_set_bit(uint64_t word) { return __builtin_ctzll(word); }

/* A signed 128-bit integer: value = high * 2**64 + low. */
typedef struct {
    uint64_t low;
    int64_t high;
} wide_int;

static inline __int128 wide_get(const wide_int *w) {
    /* through unsigned: shifting a negative signed value is undefined */
    unsigned __int128 u = ((unsigned __int128)(uint64_t)w->high << 64) | w->low;
    return (__int128)u;
}

static inline void wide_set(wide_int *w, __int128 v) {
    unsigned __int128 u = (unsigned __int128)v;
    w->low = (uint64_t)u;
    w->high = (int64_t)(uint64_t)(u >> 64);
}

/* w += v. Returns 1 (w unchanged) when the sum leaves the 128-bit range. */
static inline int wide_add(wide_int *w, int64_t v) {
    __int128 r;
    if (__builtin_add_overflow(wide_get(w), (__int128)v, &r)) return 1;
    wide_set(w, r);
    return 0;
}

/* w += a * b (the product of two int64 always fits in 128 bits). Returns 1 (w unchanged) when
   the sum leaves the 128-bit range. */
static inline int wide_add_product(wide_int *w, int64_t a, int64_t b) {
    __int128 r;
    if (__builtin_add_overflow(wide_get(w), (__int128)a * (__int128)b, &r)) return 1;
    wide_set(w, r);
    return 0;
}

#endif
