//! Background work off the request path (the expiry sweep) gives way to
//! the workers: on a small machine it would otherwise take turns with the
//! threads that answer requests, and checks would wait for it. (Not the
//! file store's ingester: once both write buffers are full, reports wait
//! for it.)

/// Lowers the calling thread's scheduling priority (nice 10 on Linux,
/// where `setpriority` with a thread id applies to that thread only);
/// elsewhere, or if refused, the thread keeps its priority.
pub(crate) fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    // SAFETY: gettid and setpriority take and return plain integers and
    // touch no memory of ours.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The thread's nice value goes up by 10; other threads keep theirs.
    #[test]
    fn lowers_this_thread_only() {
        let nice = || std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // field 19 of stat is the nice value
        let field = |s: String| -> i64 {
            let after = s.rsplit_once(')').unwrap().1;
            after.split_whitespace().nth(16).unwrap().parse().unwrap()
        };
        let before = field(nice());
        let inside = std::thread::spawn(move || {
            super::lower_thread_priority();
            field(nice())
        })
        .join()
        .unwrap();
        assert_eq!(inside, (before + 10).min(19));
        assert_eq!(field(nice()), before);
    }
}
