/* C helpers of the trading core (hftcore._ext.orders): checked 128-bit money arithmetic,
 * the journal record checksum, clocks, and the journal's background sync thread.
 *
 * hc_i128 is opaque to Cython (declared as a struct there), so Cython code can never convert
 * it to a narrower type by accident: every operation goes through a function below, and the
 * ones that can overflow return 1 instead of wrapping. */
#ifndef HFTCORE_TRADING_H
#define HFTCORE_TRADING_H

#include <stdint.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>

typedef __int128 hc_i128;
typedef unsigned __int128 hc_u128;

static inline int hc_add64(int64_t a, int64_t b, int64_t *r) { return __builtin_add_overflow(a, b, r); }
static inline int hc_sub64(int64_t a, int64_t b, int64_t *r) { return __builtin_sub_overflow(a, b, r); }
static inline hc_i128 hc_from64(int64_t v) { return (hc_i128)v; }
static inline hc_i128 hc_zero(void) { return 0; }
static inline hc_i128 hc_mul64(int64_t a, int64_t b) { return (hc_i128)a * (hc_i128)b; }  /* exact: |a*b| < 2^126 */
static inline int hc_add(hc_i128 a, hc_i128 b, hc_i128 *r) { return __builtin_add_overflow(a, b, r); }
static inline int hc_sub(hc_i128 a, hc_i128 b, hc_i128 *r) { return __builtin_sub_overflow(a, b, r); }
static inline int hc_mul(hc_i128 a, hc_i128 b, hc_i128 *r) { return __builtin_mul_overflow(a, b, r); }
static inline int hc_neg(hc_i128 a, hc_i128 *r) { return __builtin_sub_overflow((hc_i128)0, a, r); }
static inline int hc_sign(hc_i128 v) { return v > 0 ? 1 : (v < 0 ? -1 : 0); }
static inline int hc_eq(hc_i128 a, hc_i128 b) { return a == b; }
static inline int hc_fits64(hc_i128 v) { return v >= (hc_i128)INT64_MIN && v <= (hc_i128)INT64_MAX; }
static inline int64_t hc_to64(hc_i128 v) { return (int64_t)v; }   /* only after hc_fits64 */
/* v == hi * 2^64 + lo */
static inline int64_t hc_hi(hc_i128 v) { return (int64_t)((hc_u128)v >> 64); }
static inline uint64_t hc_lo(hc_i128 v) { return (uint64_t)(hc_u128)v; }
static inline hc_i128 hc_make(int64_t hi, uint64_t lo) {
    return (hc_i128)(((hc_u128)(uint64_t)hi << 64) | (hc_u128)lo);
}

/* round(cost * part / whole) half-even, for 0 < part <= whole (the cost basis a partial close
 * takes off).  cost * part can exceed 128 bits, so: |cost| = q*whole + r, and
 * |cost|*part/whole = q*part + (r*part)/whole, where r*part < whole*part < 2^126.
 * Returns 1 on overflow (only for a basis far beyond any real position). */
static inline int hc_part_half_even(hc_i128 cost, int64_t part, int64_t whole, hc_i128 *out) {
    int neg = cost < 0;
    hc_u128 mag, q, r, t, a, b, res;
    hc_u128 w = (hc_u128)whole, p = (hc_u128)part;
    if (whole <= 0 || part <= 0 || part > whole) return 1;
    if (part == whole) { *out = cost; return 0; }
    mag = neg ? (hc_u128)0 - (hc_u128)cost : (hc_u128)cost;
    q = mag / w;
    r = mag % w;
    if (q != 0 && p > ((hc_u128)1 << 127) / q) return 1;
    res = q * p;
    t = r * p;
    a = t / w;
    b = t % w;
    res += a;
    if (2 * b > w || (2 * b == w && (res & 1))) res += 1;
    if (res > ((hc_u128)1 << 127) - 1) return 1;
    *out = neg ? -(hc_i128)res : (hc_i128)res;
    return 0;
}

/* ceil(value * rate / 10^8): a fee from a rate at 8 decimals, rounded up (toward +inf), exact.
 * value = a*10^8 + b (C truncation, b has value's sign): value*rate/10^8 = a*rate + b*rate/10^8. */
static inline int hc_fee_up(hc_i128 value, int64_t rate, hc_i128 *out) {
    const hc_i128 d = 100000000;
    hc_i128 a = value / d, b = value % d, x, y, q;
    if (__builtin_mul_overflow(a, (hc_i128)rate, &x)) return 1;
    y = b * (hc_i128)rate;                 /* |b| < 10^8, |rate| < 2^63: fits */
    q = y / d;
    if (y % d > 0) q += 1;                 /* truncation is the ceiling for negatives already */
    return __builtin_add_overflow(x, q, out);
}

/* round(a / b) half-even for b > 0 (average price): exact in 128 bits. */
static inline hc_i128 hc_div_half_even(hc_i128 a, hc_i128 b) {
    int neg = a < 0;
    hc_u128 m = neg ? (hc_u128)0 - (hc_u128)a : (hc_u128)a;
    hc_u128 ub = (hc_u128)b, q = m / ub, r = m % ub;
    if (2 * r > ub || (2 * r == ub && (q & 1))) q += 1;
    return neg ? -(hc_i128)q : (hc_i128)q;
}

/* -- journal records ------------------------------------------------------------------------ */

/* Checksum of a record: its length and every 8-byte word after the first (the length and
 * checksum word).  Not cryptographic: it detects a record the kernel wrote back only in part
 * (power loss) and bit rot, at ~1 ns per word. */
static inline uint32_t hc_checksum(const char *rec, uint32_t length) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)length, w;
    uint32_t i;
    for (i = 8; i + 8 <= length; i += 8) {
        memcpy(&w, rec + i, 8);
        h ^= w;
        h *= 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    h ^= h >> 29;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* The length word is written last: a record is visible (to the next reader of the file) only
 * once all of it is.  A SIGKILL between two stores leaves the length 0, i.e. no record. */
static inline void hc_commit_length(char *rec, uint32_t length) {
    __atomic_store_n((uint32_t *)(void *)rec, length, __ATOMIC_RELEASE);
}

static inline uint32_t hc_load_u32(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t hc_load_u16(const char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline int64_t hc_load_i64(const char *p) { int64_t v; memcpy(&v, p, 8); return v; }
static inline void hc_store_u32(char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void hc_store_u16(char *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void hc_store_i64(char *p, int64_t v) { memcpy(p, &v, 8); }

static inline int hc_populate(char *p, size_t n) {
#ifdef MADV_POPULATE_WRITE
    return madvise(p, n, MADV_POPULATE_WRITE);
#else
    (void)p; (void)n; return 0;
#endif
}

/* -- clocks --------------------------------------------------------------------------------- */
static inline int64_t hc_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static inline int64_t hc_wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#if defined(__APPLE__)
#define hc_datasync(fd) fsync(fd)
#else
#define hc_datasync(fd) fdatasync(fd)
#endif

/* -- the journal's sync thread: fdatasync every interval while there is something new ------
 * Linux writes pages dirtied through a shared file mapping back on fsync/fdatasync of the
 * descriptor, so the thread needs neither the mapping nor the GIL. */
typedef struct {
    int fd;
    int64_t interval_ns;
    int stop;                 /* set by the owner, read by the thread */
    int error;                /* errno of a failed fdatasync (0: none) */
    uint64_t written;         /* records written (owner) */
    uint64_t synced;          /* records known durable (thread) */
    pthread_t thread;
    int running;
    pid_t owner;              /* the process that started the thread (a fork does not copy it) */
} hc_syncer;

static void *hc_syncer_main(void *arg) {
    hc_syncer *s = (hc_syncer *)arg;
    struct timespec ts;
    uint64_t w;
    ts.tv_sec = (time_t)(s->interval_ns / 1000000000);
    ts.tv_nsec = (long)(s->interval_ns % 1000000000);
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        nanosleep(&ts, NULL);
        w = __atomic_load_n(&s->written, __ATOMIC_ACQUIRE);
        if (w != __atomic_load_n(&s->synced, __ATOMIC_RELAXED)) {
            if (hc_datasync(s->fd) != 0) __atomic_store_n(&s->error, errno, __ATOMIC_RELEASE);
            else __atomic_store_n(&s->synced, w, __ATOMIC_RELEASE);
        }
    }
    return NULL;
}

static inline int hc_syncer_start(hc_syncer *s) {
    int rc;
    s->stop = 0;
    s->error = 0;
    rc = pthread_create(&s->thread, NULL, hc_syncer_main, s);
    s->running = rc == 0;
    s->owner = getpid();
    return rc;
}

static inline void hc_syncer_stop(hc_syncer *s) {
    if (!s->running) return;
    if (s->owner != getpid()) { s->running = 0; return; }  /* a forked child: no thread here */
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    pthread_join(s->thread, NULL);
    s->running = 0;
}

static inline void hc_syncer_note(hc_syncer *s, uint64_t written) {
    __atomic_store_n(&s->written, written, __ATOMIC_RELEASE);
}
static inline uint64_t hc_syncer_synced(hc_syncer *s) { return __atomic_load_n(&s->synced, __ATOMIC_ACQUIRE); }
static inline int hc_syncer_error(hc_syncer *s) { return __atomic_load_n(&s->error, __ATOMIC_ACQUIRE); }

#endif
