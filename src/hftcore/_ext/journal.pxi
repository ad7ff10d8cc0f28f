# The order journal (included by orders.pyx): compact binary records appended to a file through a
# shared memory mapping.
#
# File: a 16-byte header (MAGIC, version, header size), then records, each 8-byte aligned:
#
#     u32 length      total bytes of the record, a multiple of 8; written LAST (the commit)
#     u32 checksum    hc_checksum over the length and every byte after the first 8
#     u16 type        REC_*
#     u8  nfields     int64 fields that follow the header
#     u8  nstrs       strings after the fields: u32 byte length + UTF-8 bytes each
#     u32 reserved    0
#     i64 fields[nfields]
#     strings, then zero padding to the 8-byte boundary
#
# Durability.  A record is copied into the mapping - the kernel's page cache of the file - and
# then its length word is stored: from that store on it survives the process being killed in any
# way (SIGKILL, a crash, the OOM killer), with no system call on the hot path (the journal's
# thread, trading.h, keeps the file allocated and its pages faulted in ahead).  The length word
# is stored last, so a process killed while copying leaves a zero length: no record (recovery
# reports the partial bytes as a torn tail).  Surviving a power loss or a kernel crash needs the
# pages on the device: mode 2 (fsync=True) msyncs each record before the call acts on it; mode 1
# has a background thread fdatasync the file every interval; mode 0 leaves it to the kernel's
# writeback (about 30 s on Linux).  Each record's checksum lets recovery tell a record the
# device got only in part.
from libc.errno cimport errno, EFBIG
from posix.unistd cimport close as c_close, ftruncate, getpid
from posix.fcntl cimport open as c_open, O_RDWR, O_CREAT, O_CLOEXEC
from posix.mman cimport munmap, msync, MS_SYNC
from posix.stat cimport struct_stat, fstat

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

cdef extern from "trading.h":
    uint32_t hc_checksum(const char* rec, uint32_t length) nogil
    void hc_commit_length(char* rec, uint32_t length) nogil
    uint32_t hc_load_u32(const char* p) nogil
    uint16_t hc_load_u16(const char* p) nogil
    int64_t hc_load_i64(const char* p) nogil
    void hc_store_u32(char* p, uint32_t v) nogil
    void hc_store_u16(char* p, uint16_t v) nogil
    void hc_store_i64(char* p, int64_t v) nogil
    int hc_datasync(int fd) nogil
    int hc_jfile_map(hc_jfile* j, size_t size) nogil
    int hc_jfile_grow_locked(hc_jfile* j, size_t need) nogil
    int hc_jfile_grow(hc_jfile* j, size_t need) nogil
    int hc_jfile_start(hc_jfile* j, int64_t interval_ns) nogil
    void hc_jfile_note(hc_jfile* j, size_t end, uint64_t written) nogil
    void hc_jfile_stop(hc_jfile* j) nogil
    uint64_t hc_jfile_synced(hc_jfile* j) nogil
    int hc_jfile_sync_error(hc_jfile* j) nogil
    size_t hc_jfile_size(hc_jfile* j) nogil
    size_t HC_RESERVE
    size_t HC_STEP_MIN

MAGIC = b"HFTCJRNL"
cdef bytes _MAGIC = MAGIC
JOURNAL_VERSION = 2
cdef enum:
    FILE_HEADER = 16
    RECORD_HEADER = 16
    MAX_STRING = 4096             # bytes of one string field (ids, reasons, names)
    MAX_RECORD = 65536
    SYNC_NONE = 0
    SYNC_INTERVAL = 1
    SYNC_ALWAYS = 2

#: What each record type holds: (name, int64 field names, string field names).  The C writers in
#: orders.pyx write the fields in exactly this order; tests/test_journal.py round-trips every type.
RECORD_SCHEMA = {
    REC_SESSION: ("session", ("version", "clock_ns", "wall_ns", "pid", "recovered"),
                  ("session", "prefix", "boot_id", "clock")),
    REC_CLOCK: ("clock", ("clock_ns", "wall_ns"), ()),
    REC_INSTRUMENT: ("inst", ("index", "pd", "sd", "tick", "lot", "min_size", "max_size",
                              "min_notional", "iid"), ("venue", "symbol", "base", "quote")),
    REC_NEW: ("new", ("seq", "inst", "side", "size", "price", "type", "tif", "ts"), ()),
    REC_SUBMIT: ("submit", ("seq", "ts"), ()),
    REC_RISK_REJECT: ("risk_reject", ("seq", "reason", "ts"), ()),
    REC_CANCEL: ("cancel", ("seq", "ts"), ()),
    REC_REPLACE: ("replace", ("seq", "price", "size", "ts"), ()),
    REC_ACK: ("ack", ("seq", "ts"), ("vid",)),
    REC_REJECT: ("reject", ("seq", "ts"), ("reason",)),
    REC_FILL: ("fill", ("seq", "qty", "px", "liq", "has_fee", "fee_hi", "fee_lo", "ts"),
               ("tid",)),
    REC_CANCELED: ("canceled", ("seq", "ts"), ()),
    REC_EXPIRED: ("expired", ("seq", "ts"), ()),
    REC_CANCEL_REJECT: ("cancel_reject", ("seq", "ts"), ("reason",)),
    REC_REPLACE_REJECT: ("replace_reject", ("seq", "ts"), ("reason",)),
    REC_REPLACED: ("replaced", ("seq", "price", "size", "ts"), ("vid",)),
    REC_TIMEOUT: ("timeout", ("seq", "ts"), ()),
    REC_VENUE_STATUS: ("venue_status", ("seq", "status", "ts"), ("vid",)),
}

cdef int _REC_NF[REC_TYPES]
cdef int _REC_NS[REC_TYPES]
for _t, (_n, _f, _s) in RECORD_SCHEMA.items():
    _REC_NF[_t] = len(_f)
    _REC_NS[_t] = len(_s)


cdef inline uint32_t _record_length(int nf, size_t strbytes) noexcept nogil:
    return <uint32_t>((RECORD_HEADER + 8 * nf + strbytes + 7) & ~(<size_t>7))


@cython.final
cdef class JournalWriter:
    """Appends binary records to a journal file through a shared mapping (see journal.pxi).

    Parameters
    ----------
    path : str
        The journal file; created if absent.  An existing file is appended to after ``end``
        (its logical end, from :func:`scan_journal`), and anything after ``end`` is cut off.
    mode : int
        0: leave writeback to the kernel; 1: fdatasync every ``interval_ns`` in the journal's
        thread; 2: msync every record before returning.  The thread runs in every mode: it keeps
        the file allocated and faulted in ahead of the writer.
    """

    def __cinit__(self, *args, **kwargs):
        memset(&self.jf, 0, sizeof(hc_jfile))
        self.jf.fd = -1
        self.base = NULL
        self.end = 0
        self.records = 0
        self.synced = 0
        self.mode = 0
        self.error = 0

    def __init__(self, path, int mode=0, int64_t interval_ns=0, end=None, clear_to=None):
        cdef struct_stat st
        cdef bytes bpath = os.fsencode(path)
        cdef char header[FILE_HEADER]
        cdef size_t dirty
        cdef int rc
        if mode < SYNC_NONE or mode > SYNC_ALWAYS:
            raise ValueError(f"mode must be 0, 1 or 2, got {mode}")
        if mode == SYNC_INTERVAL and interval_ns <= 0:
            raise ValueError(f"interval_ns must be positive with mode 1, got {interval_ns}")
        self.path = os.fspath(path)
        self.mode = mode
        self.jf.fd = c_open(bpath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if self.jf.fd < 0:
            raise OSError(errno, os.strerror(errno), self.path)
        if fstat(self.jf.fd, &st) != 0:
            self._fail_open(errno)
        if st.st_size == 0:
            rc = hc_jfile_map(&self.jf, 0)
            if rc == 0:
                rc = hc_jfile_grow_locked(&self.jf, FILE_HEADER)   # no thread yet
            if rc:
                self._fail_open(rc)
            self.base = self.jf.base
            memset(header, 0, FILE_HEADER)
            memcpy(header, <const char*>_MAGIC, 8)
            hc_store_u32(header + 8, JOURNAL_VERSION)
            hc_store_u32(header + 12, FILE_HEADER)
            memcpy(self.base, header, FILE_HEADER)
            self.end = FILE_HEADER
        else:
            if end is None or end < FILE_HEADER or end > st.st_size:
                c_close(self.jf.fd)
                self.jf.fd = -1
                raise ValueError(f"{self.path}: an existing journal needs its logical end")
            if <size_t>st.st_size > HC_RESERVE:
                self._fail_open(EFBIG)
            rc = hc_jfile_map(&self.jf, <size_t>st.st_size)
            if rc:
                self._fail_open(rc)
            self.base = self.jf.base
            self.end = end
            # what follows the last record (a torn write) must read as zeros again: the next
            # record's length word has to stay 0 until that record is complete
            dirty = <size_t>(end if clear_to is None else min(max(clear_to, end), st.st_size))
            if dirty > self.end:
                memset(self.base + self.end, 0, dirty - self.end)
        rc = hc_jfile_start(&self.jf, interval_ns if mode == SYNC_INTERVAL else 0)
        if rc:
            munmap(self.base, HC_RESERVE)
            self.base = NULL
            self._fail_open(rc)
        hc_jfile_note(&self.jf, self.end, 0)

    cdef int _fail_open(self, int e) except -1:
        if self.jf.fd >= 0:
            c_close(self.jf.fd)
            self.jf.fd = -1
        raise OSError(e, os.strerror(e), self.path)

    cdef int _grow(self, size_t need) except -1:
        """The writer outran the journal thread: extend the file now (blocks allocated first,
        so that a full disk is an error here, not a SIGBUS on a store)."""
        cdef int rc = hc_jfile_grow(&self.jf, need)
        if rc:
            raise OSError(rc, f"journal: cannot extend the file ({os.strerror(rc)})", self.path)
        return 0

    cdef char* reserve(self, uint32_t length) except NULL:
        """Where a record of ``length`` bytes goes (not yet visible)."""
        if self.base == NULL:
            raise ValueError("journal is closed")
        if self.error:
            raise OSError(self.error, f"journal: an earlier sync failed ({os.strerror(self.error)})",
                          self.path)
        if self.end + length > hc_jfile_size(&self.jf):
            self._grow(self.end + length)
        return self.base + self.end

    cdef int commit(self, char* rec, uint32_t length) except -1:
        """Checksum, then the length word: the record exists from this store on."""
        cdef size_t start
        hc_store_u32(rec + 4, hc_checksum(rec, length))
        hc_commit_length(rec, length)
        self.end += length
        self.records += 1
        if self.mode == SYNC_ALWAYS:
            start = (<size_t>(rec - self.base)) & ~(self.jf.page - 1)
            if msync(self.base + start, self.end - start, MS_SYNC) != 0:
                self.error = errno    # the record is written; the next append reports it
            else:
                self.synced = self.records
        hc_jfile_note(&self.jf, self.end, <uint64_t>self.records)
        if self.mode == SYNC_INTERVAL:
            self.error = hc_jfile_sync_error(&self.jf)
        return 0

    cdef int write_record(self, int rtype, const int64_t* fields, int nf, tuple strs) except -1:
        """One record: ``nf`` int64 fields and the strings of ``strs`` (str objects)."""
        cdef Py_ssize_t ns = 0 if strs is None else len(strs)
        cdef Py_ssize_t i, n
        cdef const char* data
        cdef size_t strbytes = 0
        cdef const char* ptrs[8]
        cdef Py_ssize_t lens[8]
        cdef char* rec
        cdef char* q
        cdef uint32_t length
        if ns > 8 or nf > 255:
            raise ValueError("journal: too many fields")
        for i in range(ns):
            s = strs[i]
            data = PyUnicode_AsUTF8AndSize(s, &n)
            if n > MAX_STRING:
                raise ValueError(f"journal: a text field is longer than {MAX_STRING} bytes")
            ptrs[i] = data
            lens[i] = n
            strbytes += 4 + <size_t>n
        length = _record_length(nf, strbytes)
        rec = self.reserve(length)
        hc_store_u16(rec + 8, <uint16_t>rtype)
        rec[10] = <char>nf
        rec[11] = <char>ns
        hc_store_u32(rec + 12, 0)
        q = rec + RECORD_HEADER
        if nf:
            memcpy(q, fields, 8 * nf)
            q += 8 * nf
        for i in range(ns):
            hc_store_u32(q, <uint32_t>lens[i])
            memcpy(q + 4, ptrs[i], lens[i])
            q += 4 + lens[i]
        memset(q, 0, <size_t>(rec + length - q))
        return self.commit(rec, length)

    cdef int write_text(self, int rtype, const int64_t* fields, int nf, str text) except -1:
        """One record with ``nf`` int64 fields and at most one string (None: none): the order
        records, without the tuple of the general writer."""
        cdef Py_ssize_t n = 0
        cdef const char* data = NULL
        cdef char* rec
        cdef char* q
        cdef uint32_t length
        if text is not None:
            if PyUnicode_IS_ASCII(text):     # ids are ASCII: their bytes are the UTF-8
                data = <const char*>PyUnicode_DATA(text)
                n = PyUnicode_GET_LENGTH(text)
            else:
                data = PyUnicode_AsUTF8AndSize(text, &n)
            if n > MAX_STRING:
                raise ValueError(f"journal: a text field is longer than {MAX_STRING} bytes")
        length = _record_length(nf, 0 if text is None else 4 + <size_t>n)
        rec = self.reserve(length)
        hc_store_i64(rec + length - 8, 0)    # the padding (the record may overwrite it)
        hc_store_u16(rec + 8, <uint16_t>rtype)
        rec[10] = <char>nf
        rec[11] = <char>(0 if text is None else 1)
        hc_store_u32(rec + 12, 0)
        q = rec + RECORD_HEADER
        memcpy(q, fields, 8 * nf)
        if text is not None:
            q += 8 * nf
            hc_store_u32(q, <uint32_t>n)
            memcpy(q + 4, data, n)
        return self.commit(rec, length)

    def append(self, int rtype, fields, strs=()):
        """Append one record of type ``rtype`` (ints ``fields``, str ``strs``), checked against
        :data:`RECORD_SCHEMA`."""
        cdef int64_t f[32]
        cdef Py_ssize_t i, nf = len(fields)
        if rtype not in RECORD_SCHEMA:
            raise ValueError(f"unknown journal record type {rtype}")
        if nf != _REC_NF[rtype] or len(strs) != _REC_NS[rtype]:
            raise ValueError(f"record type {rtype} takes {_REC_NF[rtype]} ints and "
                             f"{_REC_NS[rtype]} strings")
        for i in range(nf):
            f[i] = int64_arg(fields[i], "field")
        for s in strs:
            if not isinstance(s, str):
                raise TypeError(f"journal strings must be str, got {type(s).__name__}")
        self.write_record(rtype, f, <int>nf, tuple(strs))

    @property
    def synced_records(self):
        """Records known to be on the device (modes 1 and 2; mode 0 does not know)."""
        if self.mode == SYNC_INTERVAL:
            return <int64_t>hc_jfile_synced(&self.jf)
        return self.synced

    @property
    def closed(self):
        return self.base == NULL

    @property
    def end_offset(self):
        """Bytes of the journal in use (header and records)."""
        return self.end

    def sync(self):
        """Put every record written so far on the device now (fdatasync)."""
        if self.jf.fd >= 0 and hc_datasync(self.jf.fd) != 0:
            raise OSError(errno, os.strerror(errno), self.path)

    def close(self):
        """Stop the journal thread, unmap, cut a large preallocated tail, sync (modes 1, 2),
        close."""
        cdef int e = 0
        if self.jf.fd < 0:
            return
        hc_jfile_stop(&self.jf)
        if self.base != NULL:
            munmap(self.base, HC_RESERVE)
            self.base = NULL
        # cut the preallocated zeros off a large file (ext4 flushes a file cut shorter, so a
        # small tail stays: readers stop at the zeros)
        if hc_jfile_size(&self.jf) - self.end > HC_STEP_MIN * 16 and \
                ftruncate(self.jf.fd, <long>self.end) != 0:
            e = errno
        if self.mode != SYNC_NONE and hc_datasync(self.jf.fd) != 0 and e == 0:
            e = errno
        c_close(self.jf.fd)
        self.jf.fd = -1
        if e:
            raise OSError(e, os.strerror(e), self.path)

    def __dealloc__(self):
        hc_jfile_stop(&self.jf)
        if self.base != NULL:
            munmap(self.base, HC_RESERVE)
        if self.jf.fd >= 0:
            c_close(self.jf.fd)


# -- reading -------------------------------------------------------------------------------------
cdef inline bint _record_at(const char* p, Py_ssize_t off, Py_ssize_t n,
                            uint32_t* length) noexcept:
    """Whether a complete record with a good checksum starts at ``off``."""
    cdef uint32_t L
    cdef int nf, ns
    if off + RECORD_HEADER > n:
        return False
    L = hc_load_u32(p + off)
    if L < RECORD_HEADER or L > MAX_RECORD or (L & 7) or off + <Py_ssize_t>L > n:
        return False
    if hc_checksum(p + off, L) != hc_load_u32(p + off + 4):
        return False
    nf = <unsigned char>p[off + 10]
    ns = <unsigned char>p[off + 11]
    if RECORD_HEADER + 8 * nf + 4 * ns > <int>L:
        return False
    length[0] = L
    return True


@cython.final
cdef class JournalScanner:
    """Iterates over the records of a journal held in a buffer (bytes, or an ``mmap`` of the
    file), one ``(offset, length, type, fields, strings)`` tuple at a time.

    While it goes it notes what is not a record: ``damaged`` lists ``(offset, length)`` spans
    between good records; once it is exhausted, ``end`` is the offset just after the last good
    record and ``data_end`` the end of the data (trailing zeros - preallocated space - left out),
    so ``[end, data_end)`` is the torn tail.  A string that is not UTF-8 makes its record
    damaged.  ``ValueError`` when the buffer is not a journal.
    """
    cdef const unsigned char[::1] buf
    cdef const char* p
    cdef Py_ssize_t n
    cdef Py_ssize_t off
    cdef readonly Py_ssize_t end
    cdef readonly Py_ssize_t data_end
    cdef readonly list damaged

    def __cinit__(self, data):
        cdef Py_ssize_t last
        self.buf = data
        self.n = self.buf.shape[0]
        self.p = <const char*>&self.buf[0] if self.n else NULL
        if self.n < FILE_HEADER or memcmp(self.p, <const char*>_MAGIC, 8) != 0:
            raise ValueError("not an hftcore order journal (bad magic)")
        if hc_load_u32(self.p + 8) != JOURNAL_VERSION:
            raise ValueError(f"journal version {hc_load_u32(self.p + 8)} is not {JOURNAL_VERSION}")
        last = self.n
        while last > FILE_HEADER and self.p[last - 1] == 0:
            last -= 1
        self.data_end = last
        self.off = FILE_HEADER
        self.end = FILE_HEADER
        self.damaged = []

    def __iter__(self):
        return self

    def __next__(self):
        cdef const char* p = self.p
        cdef Py_ssize_t off = self.off, q, scan
        cdef uint32_t L = 0, slen
        cdef int nf, ns, i
        while off < self.data_end:
            if _record_at(p, off, self.n, &L):
                q = off + RECORD_HEADER
                nf = <unsigned char>p[off + 10]
                ns = <unsigned char>p[off + 11]
                fields = tuple([hc_load_i64(p + q + 8 * i) for i in range(nf)])
                q += 8 * nf
                strs = []
                ok = True
                for i in range(ns):
                    if q + 4 > off + L:
                        ok = False
                        break
                    slen = hc_load_u32(p + q)
                    if q + 4 + slen > off + L:
                        ok = False
                        break
                    try:
                        strs.append(PyUnicode_DecodeUTF8(p + q + 4, slen, NULL))
                    except UnicodeDecodeError:
                        ok = False
                        break
                    q += 4 + slen
                if ok:
                    if self.end < off:
                        self.damaged.append((self.end, off - self.end))
                    self.off = off + L
                    self.end = off + L
                    return (off, L, hc_load_u16(p + off + 8), fields, tuple(strs))
            # not a record here: look for the next one on the 8-byte grid
            scan = off + 8
            while scan < self.data_end and not _record_at(p, scan, self.n, &L):
                scan += 8
            off = scan
        self.off = off
        raise StopIteration


def scan_journal(data):
    """Split a journal's bytes into records.

    Returns ``(records, end, torn, damaged)``: ``records`` a list of
    ``(offset, length, type, fields, strings)`` in file order; ``end`` the offset just after
    the last good record; ``torn`` the bytes after it that hold no complete record (the write a
    crash interrupted), or ``b""``; ``damaged`` a list of ``(offset, bytes)`` spans between good
    records that are not records (a page the device lost, bit rot).  See
    :class:`JournalScanner` to go through a large journal without holding every record.
    """
    cdef JournalScanner sc = JournalScanner(data)
    records = list(sc)
    mv = memoryview(data)
    torn = bytes(mv[sc.end:sc.data_end]) if sc.end < sc.data_end else b""
    damaged = [(o, bytes(mv[o:o + k])) for o, k in sc.damaged]
    return records, sc.end, torn, damaged
