//! A SQLite VFS under which killing the process is a power loss: every write that was not
//! synced dies with the process.
//!
//! Why: SIGKILL alone loses nothing that `write(2)` handed to the kernel, because the page
//! cache outlives the process. A crash test that only kills the service therefore cannot tell
//! an engine that syncs its commits from one that does not (`PRAGMA synchronous = OFF` passes
//! it). Like the `crash` VFS of SQLite's own crash tests (`src/test6.c`), this VFS keeps each
//! file's writes and truncates in process memory, as an ordered list of pending operations,
//! and hands them to the real file only when SQLite syncs it. A SIGKILL then drops exactly
//! what a power cut would drop: everything written since the file's last sync.
//!
//! The model:
//! - It wraps the default VFS ("unix"); `install` registers it as the new default before
//!   the engine opens its database, so the engine runs unchanged.
//! - Only the files SQLite must sync to be durable are buffered: the main database, its WAL
//!   and its rollback journal. Temporary files pass through untouched.
//! - Pending operations belong to the path, not to one open handle, as the page cache does:
//!   the engine's writer and its readers open the same files separately, and a reader must
//!   see what the writer wrote (SQLite relies on it: a reader of the WAL reads frames that
//!   the writer appended). Closing a handle keeps the pending operations (closing does not
//!   sync); deleting the file drops them.
//! - Reads and sizes see the pending operations laid over the real file.
//! - Locks and shared memory (`xShm*`, the WAL index) pass through. The WAL index is rebuilt
//!   from the WAL by the first connection after a crash (SQLite truncates the `-shm` file when
//!   it finds no other connection), so what it held when the process died does not matter.
//! - A sync applies the pending operations in order, then syncs the real file. A kill in the
//!   middle of that leaves a prefix applied: a power cut during a sync may persist any part.

use libsqlite3_sys as ffi;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The name the VFS is registered under.
const NAME: &CStr = c"crash-lossy";

/// One write or truncate that the real file has not seen yet.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PendingOp {
    Write { offset: u64, data: Vec<u8> },
    Truncate { size: u64 },
}

/// What a file's holders wrote since its last sync, oldest first.
#[derive(Debug, Default)]
struct PendingFile {
    ops: Vec<PendingOp>,
}

impl PendingFile {
    fn write(&mut self, offset: u64, data: &[u8]) {
        // SQLite rewrites the same page or header again and again between syncs: replacing
        // the newest operation when it covers the same bytes keeps the list short and changes
        // nothing that a read can see.
        if let Some(PendingOp::Write {
            offset: last_offset,
            data: last,
        }) = self.ops.last_mut()
        {
            if *last_offset == offset && last.len() == data.len() {
                last.copy_from_slice(data);
                return;
            }
        }
        self.ops.push(PendingOp::Write {
            offset,
            data: data.to_vec(),
        });
    }

    fn truncate(&mut self, size: u64) {
        self.ops.push(PendingOp::Truncate { size });
    }

    /// The file's size once the pending operations apply to a real file of `real_size`.
    fn size(&self, real_size: u64) -> u64 {
        self.ops.iter().fold(real_size, |size, op| match op {
            PendingOp::Write { offset, data } => size.max(offset + data.len() as u64),
            PendingOp::Truncate { size: cut } => *cut,
        })
    }

    /// Lays the pending operations over `buffer`, which holds the real file's bytes from
    /// `offset` on (zeros past its end): in order, writes copy their overlap and truncates
    /// zero what they cut, so bytes a truncate cut and a later write did not restore read as
    /// zeros, as they would from the file.
    fn overlay(&self, offset: u64, buffer: &mut [u8]) {
        let end = offset + buffer.len() as u64;
        for op in &self.ops {
            match op {
                PendingOp::Write { offset: at, data } => {
                    let from = offset.max(*at);
                    let to = end.min(at + data.len() as u64);
                    if from < to {
                        buffer[(from - offset) as usize..(to - offset) as usize]
                            .copy_from_slice(&data[(from - at) as usize..(to - at) as usize]);
                    }
                }
                PendingOp::Truncate { size } => {
                    if *size < end {
                        let from = size.saturating_sub(offset) as usize;
                        buffer[from..].fill(0);
                    }
                }
            }
        }
    }
}

type Shared = Arc<Mutex<PendingFile>>;

/// The pending operations of every buffered path, kept after the last handle closes.
static PENDING: Mutex<BTreeMap<String, Shared>> = Mutex::new(BTreeMap::new());

/// The real VFS, set once by `install`.
static REAL: OnceLock<RealVfs> = OnceLock::new();

/// The default VFS that this one wraps.
struct RealVfs(*mut ffi::sqlite3_vfs);

// SAFETY: the pointer is to SQLite's static "unix" VFS, which is never written after
// registration and whose methods may be called from any thread.
unsafe impl Send for RealVfs {}
unsafe impl Sync for RealVfs {}

fn real_vfs() -> *mut ffi::sqlite3_vfs {
    REAL.get()
        .expect("the lossy VFS runs only once installed")
        .0
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside SQLite's callbacks aborts the process (they are `extern "C"`), so a
    // poisoned lock can only come from `install`'s thread; its data is still whole.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn shared_of(path: &str) -> Option<Shared> {
    lock(&PENDING).get(path).cloned()
}

/// Registers the lossy VFS as SQLite's default. Call it before any database opens; later
/// calls do nothing.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // SAFETY: `sqlite3_vfs_find(NULL)` initialises SQLite and returns the default VFS,
        // which lives as long as the process.
        let real = unsafe { ffi::sqlite3_vfs_find(std::ptr::null()) };
        assert!(!real.is_null(), "SQLite has no default VFS");
        // SAFETY: `real` is a valid VFS (checked above); it is only read.
        let (real_size, max_path) = unsafe { ((*real).szOsFile, (*real).mxPathname) };
        REAL.get_or_init(|| RealVfs(real));
        let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
            iVersion: 2,
            // Room for our handle and, right after it, the real VFS's (see `LossyFile`).
            szOsFile: REAL_OFFSET as c_int + real_size,
            mxPathname: max_path,
            pNext: std::ptr::null_mut(),
            zName: NAME.as_ptr(),
            pAppData: std::ptr::null_mut(),
            xOpen: Some(vfs_open),
            xDelete: Some(vfs_delete),
            xAccess: Some(vfs_access),
            xFullPathname: Some(vfs_full_pathname),
            xDlOpen: Some(vfs_dl_open),
            xDlError: Some(vfs_dl_error),
            xDlSym: Some(vfs_dl_sym),
            xDlClose: Some(vfs_dl_close),
            xRandomness: Some(vfs_randomness),
            xSleep: Some(vfs_sleep),
            xCurrentTime: Some(vfs_current_time),
            xGetLastError: Some(vfs_get_last_error),
            xCurrentTimeInt64: Some(vfs_current_time_int64),
            xSetSystemCall: None,
            xGetSystemCall: None,
            xNextSystemCall: None,
        }));
        // SAFETY: `vfs` is leaked, so it outlives every connection, as SQLite requires.
        let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 1) };
        assert_eq!(rc, ffi::SQLITE_OK, "registering the lossy VFS");
    });
}

/// An open buffered file. SQLite allocates `szOsFile` bytes for it and hands us a pointer to
/// the start, which is `base`; the real VFS's file lives in the same allocation, at
/// `REAL_OFFSET`.
///
/// Invariant: from a successful `vfs_open` until `file_close`, `real` points to the open real
/// file and `pending` is initialised; SQLite calls no method after `xClose`.
#[repr(C)]
struct LossyFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    pending: Shared,
}

/// Where the real file starts in SQLite's allocation: after `LossyFile`, 8-byte aligned as
/// SQLite aligns its allocations and the real file's fields need.
const REAL_OFFSET: usize = std::mem::size_of::<LossyFile>().next_multiple_of(8);

/// The files that must reach the disk for a commit to be durable.
const BUFFERED: c_int =
    ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_MAIN_JOURNAL | ffi::SQLITE_OPEN_WAL;

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    // Version 2: shared memory (WAL needs it), no memory-mapped I/O (which would bypass reads).
    iVersion: 2,
    xClose: Some(file_close),
    xRead: Some(file_read),
    xWrite: Some(file_write),
    xTruncate: Some(file_truncate),
    xSync: Some(file_sync),
    xFileSize: Some(file_size),
    xLock: Some(file_lock),
    xUnlock: Some(file_unlock),
    xCheckReservedLock: Some(file_check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(file_sector_size),
    xDeviceCharacteristics: Some(file_device_characteristics),
    xShmMap: Some(file_shm_map),
    xShmLock: Some(file_shm_lock),
    xShmBarrier: Some(file_shm_barrier),
    xShmUnmap: Some(file_shm_unmap),
    xFetch: None,
    xUnfetch: None,
};

unsafe extern "C" fn vfs_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real_vfs = real_vfs();
    let real_open = (*real_vfs).xOpen.expect("a VFS has xOpen");
    if name.is_null() || flags & BUFFERED == 0 {
        // Not needed for durability: the real file takes our whole allocation, which is
        // larger than it needs, and SQLite calls the real methods directly.
        return real_open(real_vfs, name, file, flags, out_flags);
    }
    let lossy = file.cast::<LossyFile>();
    // SAFETY: SQLite allocated `szOsFile` bytes at `file`: our struct, then the real file.
    let real = file
        .cast::<u8>()
        .add(REAL_OFFSET)
        .cast::<ffi::sqlite3_file>();
    let rc = real_open(real_vfs, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        // No methods: SQLite will not call xClose on a file that failed to open.
        (*file).pMethods = std::ptr::null();
        return rc;
    }
    // `name` is the full path (SQLite passes what xFullPathname made, with "-wal" or
    // "-journal" appended), the same for every handle of the file.
    let path = CStr::from_ptr(name).to_string_lossy().into_owned();
    let pending = lock(&PENDING).entry(path).or_default().clone();
    lossy.write(LossyFile {
        base: ffi::sqlite3_file { pMethods: &METHODS },
        real,
        pending,
    });
    ffi::SQLITE_OK
}

unsafe extern "C" fn vfs_delete(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    // What was never synced goes with the file; deleting is durable at once (SQLite deletes
    // a file only once what it held is no longer needed).
    if !name.is_null() {
        lock(&PENDING).remove(CStr::from_ptr(name).to_string_lossy().as_ref());
    }
    let real_vfs = real_vfs();
    (*real_vfs).xDelete.expect("a VFS has xDelete")(real_vfs, name, sync_dir)
}

unsafe extern "C" fn vfs_access(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    // The unix VFS says an empty file does not exist; a file whose content is all pending
    // (a fresh WAL, say) must exist for this process.
    if flags == ffi::SQLITE_ACCESS_EXISTS && !name.is_null() {
        let path = CStr::from_ptr(name).to_string_lossy();
        if let Some(shared) = shared_of(&path) {
            let pending = lock(&shared);
            if !pending.ops.is_empty() {
                let real_size = std::fs::metadata(path.as_ref()).map_or(0, |m| m.len());
                *out = c_int::from(pending.size(real_size) > 0);
                return ffi::SQLITE_OK;
            }
        }
    }
    let real_vfs = real_vfs();
    (*real_vfs).xAccess.expect("a VFS has xAccess")(real_vfs, name, flags, out)
}

// The rest of the VFS passes through to the real one.

unsafe extern "C" fn vfs_full_pathname(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    size: c_int,
    out: *mut c_char,
) -> c_int {
    let real = real_vfs();
    (*real).xFullPathname.expect("a VFS has xFullPathname")(real, name, size, out)
}

unsafe extern "C" fn vfs_dl_open(_vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    let real = real_vfs();
    (*real)
        .xDlOpen
        .map_or(std::ptr::null_mut(), |f| f(real, name))
}

unsafe extern "C" fn vfs_dl_error(_vfs: *mut ffi::sqlite3_vfs, size: c_int, out: *mut c_char) {
    let real = real_vfs();
    if let Some(f) = (*real).xDlError {
        f(real, size, out);
    }
}

type Symbol = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn vfs_dl_sym(
    _vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> Option<Symbol> {
    let real = real_vfs();
    (*real).xDlSym.and_then(|f| f(real, handle, symbol))
}

unsafe extern "C" fn vfs_dl_close(_vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    let real = real_vfs();
    if let Some(f) = (*real).xDlClose {
        f(real, handle);
    }
}

unsafe extern "C" fn vfs_randomness(
    _vfs: *mut ffi::sqlite3_vfs,
    size: c_int,
    out: *mut c_char,
) -> c_int {
    let real = real_vfs();
    (*real).xRandomness.expect("a VFS has xRandomness")(real, size, out)
}

unsafe extern "C" fn vfs_sleep(_vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    let real = real_vfs();
    (*real).xSleep.expect("a VFS has xSleep")(real, micros)
}

unsafe extern "C" fn vfs_current_time(_vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let real = real_vfs();
    (*real).xCurrentTime.expect("a VFS has xCurrentTime")(real, out)
}

unsafe extern "C" fn vfs_get_last_error(
    _vfs: *mut ffi::sqlite3_vfs,
    size: c_int,
    out: *mut c_char,
) -> c_int {
    let real = real_vfs();
    (*real).xGetLastError.map_or(0, |f| f(real, size, out))
}

unsafe extern "C" fn vfs_current_time_int64(
    _vfs: *mut ffi::sqlite3_vfs,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    let real = real_vfs();
    (*real)
        .xCurrentTimeInt64
        .expect("the unix VFS has xCurrentTimeInt64")(real, out)
}

// The methods of a buffered file. SQLite calls them only on a file that `vfs_open` opened
// with `METHODS` and that `file_close` has not closed, one call at a time per file; the
// pending operations, shared between files of the same path, are behind their mutex.

/// Our handle and the real file's, from the pointer SQLite passes to our methods.
///
/// SAFETY: `file` must be a file that `vfs_open` opened with `METHODS` and that is not
/// closed yet (SQLite calls our methods only on such files).
unsafe fn parts<'a>(file: *mut ffi::sqlite3_file) -> (&'a LossyFile, *mut ffi::sqlite3_file) {
    let lossy = &*file.cast::<LossyFile>();
    (lossy, lossy.real)
}

/// The real file's methods.
///
/// SAFETY: `real` must be an open real file.
unsafe fn real_methods<'a>(real: *mut ffi::sqlite3_file) -> &'a ffi::sqlite3_io_methods {
    &*(*real).pMethods
}

unsafe fn real_size(real: *mut ffi::sqlite3_file) -> Result<u64, c_int> {
    let mut size: ffi::sqlite3_int64 = 0;
    match real_methods(real).xFileSize.expect("xFileSize")(real, &mut size) {
        ffi::SQLITE_OK => Ok(size as u64),
        rc => Err(rc),
    }
}

unsafe extern "C" fn file_close(file: *mut ffi::sqlite3_file) -> c_int {
    let (_, real) = parts(file);
    let rc = real_methods(real).xClose.expect("xClose")(real);
    // Drops our reference to the pending operations; they stay in `PENDING` (see above).
    std::ptr::drop_in_place(file.cast::<LossyFile>());
    rc
}

unsafe extern "C" fn file_read(
    file: *mut ffi::sqlite3_file,
    buffer: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let (lossy, real) = parts(file);
    // Held across the real read so that a sync by another handle cannot apply operations
    // between the real bytes and the overlay.
    let pending = lock(&lossy.pending);
    let rc = real_methods(real).xRead.expect("xRead")(real, buffer, amount, offset);
    if pending.ops.is_empty() || (rc != ffi::SQLITE_OK && rc != ffi::SQLITE_IOERR_SHORT_READ) {
        return rc;
    }
    // A short read zero-filled the rest of `buffer`, as the overlay needs.
    let real_size = match real_size(real) {
        Ok(size) => size,
        Err(rc) => return rc,
    };
    // SAFETY: SQLite hands a buffer of `amount` bytes.
    let bytes = std::slice::from_raw_parts_mut(buffer.cast::<u8>(), amount as usize);
    let offset = offset as u64;
    pending.overlay(offset, bytes);
    let size = pending.size(real_size);
    if offset + amount as u64 > size {
        // SQLite requires the missing part to be zeros, which the overlay left.
        ffi::SQLITE_IOERR_SHORT_READ
    } else {
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn file_write(
    file: *mut ffi::sqlite3_file,
    buffer: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let (lossy, _) = parts(file);
    // SAFETY: SQLite hands a buffer of `amount` bytes.
    let bytes = std::slice::from_raw_parts(buffer.cast::<u8>(), amount as usize);
    lock(&lossy.pending).write(offset as u64, bytes);
    ffi::SQLITE_OK
}

unsafe extern "C" fn file_truncate(
    file: *mut ffi::sqlite3_file,
    size: ffi::sqlite3_int64,
) -> c_int {
    let (lossy, _) = parts(file);
    lock(&lossy.pending).truncate(size as u64);
    ffi::SQLITE_OK
}

unsafe extern "C" fn file_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let (lossy, real) = parts(file);
    let methods = real_methods(real);
    let mut pending = lock(&lossy.pending);
    let ops = std::mem::take(&mut pending.ops);
    for (done, op) in ops.iter().enumerate() {
        let rc = match op {
            PendingOp::Write { offset, data } => methods.xWrite.expect("xWrite")(
                real,
                data.as_ptr().cast(),
                data.len() as c_int,
                *offset as ffi::sqlite3_int64,
            ),
            PendingOp::Truncate { size } => {
                methods.xTruncate.expect("xTruncate")(real, *size as ffi::sqlite3_int64)
            }
        };
        if rc != ffi::SQLITE_OK {
            // What did not reach the file stays pending, in order.
            pending.ops = ops[done..].to_vec();
            return rc;
        }
    }
    methods.xSync.expect("xSync")(real, flags)
}

unsafe extern "C" fn file_size(
    file: *mut ffi::sqlite3_file,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    let (lossy, real) = parts(file);
    let pending = lock(&lossy.pending);
    match real_size(real) {
        Ok(size) => {
            *out = pending.size(size) as ffi::sqlite3_int64;
            ffi::SQLITE_OK
        }
        Err(rc) => rc,
    }
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    // A size hint may grow the real file behind the pending operations; it is only a hint.
    if op == ffi::SQLITE_FCNTL_SIZE_HINT {
        return ffi::SQLITE_OK;
    }
    let (_, real) = parts(file);
    real_methods(real).xFileControl.expect("xFileControl")(real, op, arg)
}

// Locks, sector size, device characteristics and shared memory pass through to the real file.

unsafe extern "C" fn file_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (_, real) = parts(file);
    real_methods(real).xLock.expect("xLock")(real, level)
}

unsafe extern "C" fn file_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (_, real) = parts(file);
    real_methods(real).xUnlock.expect("xUnlock")(real, level)
}

unsafe extern "C" fn file_check_reserved_lock(
    file: *mut ffi::sqlite3_file,
    out: *mut c_int,
) -> c_int {
    let (_, real) = parts(file);
    real_methods(real)
        .xCheckReservedLock
        .expect("xCheckReservedLock")(real, out)
}

unsafe extern "C" fn file_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let (_, real) = parts(file);
    real_methods(real).xSectorSize.expect("xSectorSize")(real)
}

unsafe extern "C" fn file_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let (_, real) = parts(file);
    real_methods(real)
        .xDeviceCharacteristics
        .expect("xDeviceCharacteristics")(real)
}

unsafe extern "C" fn file_shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (_, real) = parts(file);
    real_methods(real).xShmMap.expect("xShmMap")(real, region, size, extend, out)
}

unsafe extern "C" fn file_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    let (_, real) = parts(file);
    real_methods(real).xShmLock.expect("xShmLock")(real, offset, n, flags)
}

unsafe extern "C" fn file_shm_barrier(file: *mut ffi::sqlite3_file) {
    let (_, real) = parts(file);
    real_methods(real).xShmBarrier.expect("xShmBarrier")(real)
}

unsafe extern "C" fn file_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let (_, real) = parts(file);
    real_methods(real).xShmUnmap.expect("xShmUnmap")(real, delete)
}

#[cfg(test)]
mod tests {
    use super::PendingFile;

    fn read(pending: &PendingFile, real: &[u8], offset: usize, len: usize) -> (Vec<u8>, bool) {
        let mut buffer = vec![0; len];
        for (i, byte) in buffer.iter_mut().enumerate() {
            *byte = real.get(offset + i).copied().unwrap_or(0);
        }
        pending.overlay(offset as u64, &mut buffer);
        let short = (offset + len) as u64 > pending.size(real.len() as u64);
        (buffer, short)
    }

    #[test]
    fn reads_see_pending_writes_over_the_real_bytes() {
        let mut pending = PendingFile::default();
        pending.write(2, b"xy");
        pending.write(6, b"zz");
        assert_eq!(
            read(&pending, b"abcdef", 0, 8),
            (b"abxyefzz".to_vec(), false)
        );
        assert_eq!(read(&pending, b"abcdef", 1, 2), (b"bx".to_vec(), false));
        assert_eq!(read(&pending, b"abcdef", 6, 4), (b"zz\0\0".to_vec(), true));
        assert_eq!(pending.size(6), 8);
    }

    #[test]
    fn a_truncate_then_a_write_past_it_leaves_zeros_between() {
        let mut pending = PendingFile::default();
        pending.truncate(2);
        assert_eq!(pending.size(6), 2);
        assert_eq!(read(&pending, b"abcdef", 0, 4), (b"ab\0\0".to_vec(), true));
        pending.write(4, b"q");
        assert_eq!(pending.size(6), 5);
        assert_eq!(
            read(&pending, b"abcdef", 0, 5),
            (b"ab\0\0q".to_vec(), false)
        );
    }

    #[test]
    fn a_rewrite_of_the_same_bytes_replaces_the_newest_write_only() {
        let mut pending = PendingFile::default();
        pending.write(0, b"aa");
        pending.write(0, b"bb");
        assert_eq!(pending.ops.len(), 1);
        pending.truncate(1);
        pending.write(0, b"cc");
        assert_eq!(
            pending.ops.len(),
            3,
            "a write after a truncate keeps the order"
        );
        assert_eq!(read(&pending, b"", 0, 2), (b"cc".to_vec(), false));
    }
}
