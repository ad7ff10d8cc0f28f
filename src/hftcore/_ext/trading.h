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

/* -- the journal's file: a stable mapping, grown and faulted in ahead by a background thread --
 *
 * The whole journal lives in one reserved range of address space (PROT_NONE, nothing
 * committed); the file is mapped into it piece by piece with MAP_FIXED as it grows, so the
 * writer's base pointer never changes.  The thread keeps the file allocated (posix_fallocate: a
 * full disk is an error there, not a SIGBUS on a store) and its pages faulted in writable
 * (MADV_POPULATE_WRITE) HC_AHEAD bytes beyond the writer's end, so that a record's memcpy
 * touches neither the file system nor the page tables; and, with an interval, fdatasyncs the
 * file.  Linux writes pages dirtied through a shared file mapping back on fdatasync of the
 * descriptor, so the thread needs neither the GIL nor the writer's cooperation.  The writer
 * grows the file itself (under the lock) only if it ever outruns the thread. */
#define HC_RESERVE ((size_t)256 << 30)     /* address space for one journal: 256 GiB */
#define HC_AHEAD ((size_t)1 << 20)        /* faulted in ahead of the writer */
#define HC_STEP_MIN ((size_t)64 << 10)
#define HC_STEP_MAX ((size_t)64 << 20)

typedef struct {
    int fd;
    char *base;               /* HC_RESERVE bytes of address space */
    size_t size;              /* file bytes allocated and mapped (grows; under lock) */
    size_t populated;         /* faulted in up to here */
    size_t end;               /* the writer's end (the writer stores, the thread loads) */
    size_t page;              /* the system's page size */
    int64_t interval_ns;      /* fdatasync period; 0: none */
    int sync_error;           /* errno of a failed fdatasync */
    int grow_error;           /* errno of a failed extension (the writer retries and reports) */
    uint64_t written;         /* records written (writer) */
    uint64_t synced;          /* records known durable (thread) */
    int stop;
    int running;
    pid_t owner;              /* the process that started the thread (a fork does not copy it) */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
} hc_jfile;

static inline int hc_populate(char *p, size_t n) {
#ifdef MADV_POPULATE_WRITE
    return madvise(p, n, MADV_POPULATE_WRITE);
#else
    (void)p; (void)n; return 0;
#endif
}

/* Map the file's first `size` bytes (already allocated) into a fresh reservation. */
static inline int hc_jfile_map(hc_jfile *j, size_t size) {
    void *r = mmap(NULL, HC_RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) return errno;
    j->page = (size_t)sysconf(_SC_PAGESIZE);
    j->base = (char *)r;
    j->size = 0;
    j->populated = 0;
    if (size) {
        if (mmap(j->base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, j->fd, 0) == MAP_FAILED) {
            int e = errno;
            munmap(j->base, HC_RESERVE);
            j->base = NULL;
            return e;
        }
        j->size = size;
    }
    return 0;
}

/* Extend the file and the mapping to at least `need` bytes (caller holds the lock). */
static inline int hc_jfile_grow_locked(hc_jfile *j, size_t need) {
    size_t step, target, old = j->size;
    int rc;
    if (need <= old) return 0;
    step = old < HC_STEP_MIN ? HC_STEP_MIN : (old > HC_STEP_MAX ? HC_STEP_MAX : old);
    target = need + step;
    target = (target + HC_STEP_MIN - 1) & ~(HC_STEP_MIN - 1);
    if (target > HC_RESERVE) {
        if (need > HC_RESERVE) return EFBIG;
        target = HC_RESERVE;
    }
    rc = posix_fallocate(j->fd, (off_t)old, (off_t)(target - old));
    if (rc) return rc;
    old &= ~(j->page - 1);    /* map from a page boundary (an existing file may end anywhere) */
    if (mmap(j->base + old, target - old, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, j->fd,
             (off_t)old) == MAP_FAILED)
        return errno;
    __atomic_store_n(&j->size, target, __ATOMIC_RELEASE);
    return 0;
}

static inline int hc_jfile_grow(hc_jfile *j, size_t need) {
    int rc;
    pthread_mutex_lock(&j->lock);
    rc = hc_jfile_grow_locked(j, need);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

static void *hc_jfile_main(void *arg) {
    hc_jfile *j = (hc_jfile *)arg;
    struct timespec now, until;
    int64_t next_sync = 0, t;
    uint64_t w;
    size_t want, from, to;
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        want = __atomic_load_n(&j->end, __ATOMIC_ACQUIRE) + HC_AHEAD;
        if (want > j->size) {
            int rc = hc_jfile_grow_locked(j, want);
            if (rc) j->grow_error = rc;
        }
        to = want < j->size ? want : j->size;
        if (j->populated < to) {
            from = j->populated & ~(j->page - 1);
            pthread_mutex_unlock(&j->lock);
            hc_populate(j->base + from, to - from);
            pthread_mutex_lock(&j->lock);
            if (to > j->populated) __atomic_store_n(&j->populated, to, __ATOMIC_RELEASE);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        t = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        if (j->interval_ns > 0 && t >= next_sync) {
            w = __atomic_load_n(&j->written, __ATOMIC_ACQUIRE);
            if (w != j->synced) {
                pthread_mutex_unlock(&j->lock);
                int rc = hc_datasync(j->fd);
                int e = errno;
                pthread_mutex_lock(&j->lock);
                if (rc) __atomic_store_n(&j->sync_error, e, __ATOMIC_RELEASE);
                else __atomic_store_n(&j->synced, w, __ATOMIC_RELEASE);
            }
            next_sync = t + j->interval_ns;
        }
        /* sleep until the next sync, or 5 ms, or until the writer nears the faulted range */
        t += 5000000;
        if (j->interval_ns > 0 && next_sync < t) t = next_sync;
        clock_gettime(CLOCK_REALTIME, &until);
        {
            int64_t d = t - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
            int64_t ns = (int64_t)until.tv_nsec + (d > 0 ? d : 0);
            until.tv_sec += (time_t)(ns / 1000000000);
            until.tv_nsec = (long)(ns % 1000000000);
        }
        if (!j->stop) pthread_cond_timedwait(&j->wake, &j->lock, &until);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static inline int hc_jfile_start(hc_jfile *j, int64_t interval_ns) {
    int rc;
    j->interval_ns = interval_ns;
    j->stop = 0;
    j->sync_error = 0;
    j->grow_error = 0;
    j->synced = 0;
    j->written = 0;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    rc = pthread_create(&j->thread, NULL, hc_jfile_main, j);
    j->running = rc == 0;
    j->owner = getpid();
    return rc;
}

/* The writer moved its end: wake the thread when it nears the end of the faulted range. */
static inline void hc_jfile_note(hc_jfile *j, size_t end, uint64_t written) {
    __atomic_store_n(&j->end, end, __ATOMIC_RELEASE);
    __atomic_store_n(&j->written, written, __ATOMIC_RELEASE);
    if (end + HC_AHEAD / 2 > __atomic_load_n(&j->populated, __ATOMIC_RELAXED))
        pthread_cond_signal(&j->wake);
}

static inline void hc_jfile_stop(hc_jfile *j) {
    if (!j->running) return;
    j->running = 0;
    if (j->owner != getpid()) return;   /* a forked child: the thread is not here */
    pthread_mutex_lock(&j->lock);
    j->stop = 1;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
}

static inline uint64_t hc_jfile_synced(hc_jfile *j) { return __atomic_load_n(&j->synced, __ATOMIC_ACQUIRE); }
static inline int hc_jfile_sync_error(hc_jfile *j) { return __atomic_load_n(&j->sync_error, __ATOMIC_ACQUIRE); }
static inline size_t hc_jfile_size(hc_jfile *j) { return __atomic_load_n(&j->size, __ATOMIC_ACQUIRE); }

#endif
