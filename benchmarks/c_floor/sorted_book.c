/* Plain-C floor for the order-book benchmark: the same stream applied to the simplest
   reasonable C book (per side a sorted array with the best level at the end, binary search,
   memmove on insert/delete), reading best bid and best ask after every update.
   Built and loaded by benchmarks/bench_book.py with the system C compiler (ctypes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int64_t *key; /* ascending; bids key = price, asks key = -price: best at the end */
    int64_t *qty;
    int64_t n, cap;
} side_t;

static int grow(side_t *s) {
    int64_t c = s->cap ? s->cap * 2 : 1024;
    int64_t *k = realloc(s->key, (size_t)c * sizeof(int64_t));
    if (!k) return -1;
    s->key = k;
    int64_t *q = realloc(s->qty, (size_t)c * sizeof(int64_t));
    if (!q) return -1;
    s->qty = q;
    s->cap = c;
    return 0;
}

static int64_t lower_bound(const side_t *s, int64_t key) {
    int64_t lo = 0, hi = s->n;
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (s->key[mid] < key) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static int set_level(side_t *s, int64_t key, int64_t q) {
    int64_t i = lower_bound(s, key);
    int found = i < s->n && s->key[i] == key;
    if (q == 0) {
        if (found) {
            memmove(s->key + i, s->key + i + 1, (size_t)(s->n - i - 1) * sizeof(int64_t));
            memmove(s->qty + i, s->qty + i + 1, (size_t)(s->n - i - 1) * sizeof(int64_t));
            s->n--;
        }
        return 0;
    }
    if (found) { s->qty[i] = q; return 0; }
    if (s->n == s->cap && grow(s)) return -1;
    memmove(s->key + i + 1, s->key + i, (size_t)(s->n - i) * sizeof(int64_t));
    memmove(s->qty + i + 1, s->qty + i, (size_t)(s->n - i) * sizeof(int64_t));
    s->key[i] = key;
    s->qty[i] = q;
    s->n++;
    return 0;
}

/* Applies init rows untimed, then the n stream rows timed; writes seconds to *secs and
   returns a sum of the best prices read (so the reads are not optimised away), or -1. */
int64_t floor_run(const int64_t *is, const int64_t *ip, const int64_t *iq, int64_t ni,
                  const int64_t *s, const int64_t *p, const int64_t *q, int64_t n, double *secs) {
    side_t sides[2] = {{0}, {0}};
    struct timespec t0, t1;
    int64_t acc = 0, i;
    for (i = 0; i < ni; i++)
        if (set_level(&sides[is[i]], is[i] ? -ip[i] : ip[i], iq[i])) return -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++) {
        if (set_level(&sides[s[i]], s[i] ? -p[i] : p[i], q[i])) return -1;
        if (sides[0].n) acc += sides[0].key[sides[0].n - 1];
        if (sides[1].n) acc -= sides[1].key[sides[1].n - 1];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    for (i = 0; i < 2; i++) { free(sides[i].key); free(sides[i].qty); }
    return acc;
}
