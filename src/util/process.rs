//! Process-wide settings made once at start-up: the allocator's and the thread pools'.

/// Keep freed memory in the process instead of returning it to the kernel.
///
/// Training allocates and frees many tensors of a few hundred kilobytes per step; with glibc's
/// default thresholds each one is a fresh `mmap`, and the page faults cost more than the
/// arithmetic (docs/benchmarks.md, "Speed"). Raising the thresholds makes those
/// allocations reuse memory. Called when a model starts training ([`model::worker::run`]),
/// not at start-up: while logs are read, glibc's defaults hand the large buffers that grow
/// and are freed (occurrence lists, hash tables) back to the kernel, which keeps the peak
/// lower (docs/benchmarks.md, "Speed"). Idempotent; a no-op off glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters (glibc serialises it with the arena
    // locks); it takes no pointers.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 512 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

/// Thread setup for the binary: one rayon worker per core for parsing (the evtx crate), one
/// thread for the model's matrix products.
///
/// candle asks `RAYON_NUM_THREADS` on every matrix product; for models this small one thread
/// is faster than two (docs/benchmarks.md, "Speed"), and
/// it leaves the other core to parsing and the UI. The variable is set first, while no other
/// thread exists; the global rayon pool is then built with an explicit count of every core,
/// which the variable does not shrink. Call at the very start of `main`.
pub fn init_threads() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return; // the user chose
    }
    // SAFETY: called first thing in main, before any other thread exists (the rayon pool is
    // built below, after this), so nothing reads the environment concurrently.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    // The global pool takes every core all the same: an explicit count overrides the variable.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build_global();
}
