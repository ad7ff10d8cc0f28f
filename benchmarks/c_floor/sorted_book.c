/* Plain-C floor for the order-book benchmark: the same stream applied to the simplest
   reasonable C book (per side a sorted array with the best level at the end, binary search,
   memmove on insert/delete), reading best bid and best ask after every update.
   Built and loaded by benchmarks/bench_book.py with the system C compiler (ctypes), and timed
   as hftcore's batch is: perf_counter around one call that applies the whole stream to a book
   prepared before (floor_new), so both sides of the ratio pay the same calling convention. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t *key; /* ascending; bids key = price, asks key = -price: best at the end */
    int64_t *qty;
    int64_t n, cap;
} side_t;

typedef struct {
    side_t sides[2];
} floor_book;

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

void floor_free(floor_book *b) {
    int i;
    if (!b) return;
    for (i = 0; i < 2; i++) { free(b->sides[i].key); free(b->sides[i].qty); }
    free(b);
}

/* A book holding the ni initial levels (sides 0/1; prices never negated past int64), or NULL. */
floor_book *floor_new(const int64_t *is, const int64_t *ip, const int64_t *iq, int64_t ni) {
    floor_book *b = calloc(1, sizeof(floor_book));
    int64_t i;
    if (!b) return NULL;
    for (i = 0; i < ni; i++)
        if (set_level(&b->sides[is[i]], is[i] ? -ip[i] : ip[i], iq[i])) { floor_free(b); return NULL; }
    return b;
}

/* Applies n updates, reading best bid and best ask after each; returns a sum of the best prices
   read (so the reads are not optimised away), or -1 when memory ran out. */
int64_t floor_apply(floor_book *b, const int64_t *s, const int64_t *p, const int64_t *q, int64_t n) {
    uint64_t acc = 0; /* unsigned: the sum may wrap, harmlessly */
    int64_t i;
    for (i = 0; i < n; i++) {
        if (set_level(&b->sides[s[i]], s[i] ? -p[i] : p[i], q[i])) return -1;
        if (b->sides[0].n) acc += (uint64_t)b->sides[0].key[b->sides[0].n - 1];
        if (b->sides[1].n) acc -= (uint64_t)b->sides[1].key[b->sides[1].n - 1];
    }
    return (int64_t)(acc >> 1);
}
