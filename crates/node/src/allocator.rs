//! How the node's process takes memory from the kernel.
//!
//! Every program that links this crate (the `equa` binary, B6, the node's own tests) allocates
//! with mimalloc, not the system's allocator: a block allocates and frees many small values, and
//! under glibc's allocator that share of a block's execution grew with the state on disk (18% at
//! 12,000 records, 23% at 1,000,000; see the README's B6).
//!
//! mimalloc asks the kernel for transparent huge pages on the ranges it reserves (`madvise`), and
//! by default hands pages that emptied back to the kernel a second later. Each page it then
//! takes, anew or again, faults in a whole 2 MiB page that the kernel zeroes first, however
//! little of it the allocation uses. The authenticated store's commit allocates and frees large
//! buffers at every block (the slabs its reads from the log land in, the vectors its Merkle batch
//! grows): in a profile of the commit alone at 1,000,000 records, the kernel zeroing huge pages on
//! those faults took 27% of it. So the process turns transparent huge pages off (the README's B6 says
//! what that changed).

/// The allocator of every program that links the node.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process and every process it starts
/// (`prctl(PR_SET_THP_DISABLE)`, which a child inherits across `fork` and `execve`). Call it
/// first thing: memory already faulted in as huge pages stays so until it is freed.
///
/// Fails only where the kernel lacks the call (Linux before 3.15) or a sandbox forbids it; the
/// process then runs as before, with huge pages.
#[cfg(target_os = "linux")]
pub fn small_pages_only() -> std::io::Result<()> {
    rustix::thread::disable_transparent_huge_pages(true).map_err(std::io::Error::from)
}

/// Elsewhere there is nothing to turn off.
#[cfg(not(target_os = "linux"))]
pub fn small_pages_only() -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_process_takes_no_huge_pages_once_told() {
        small_pages_only().expect("the kernel takes the flag");
        assert!(
            rustix::thread::transparent_huge_pages_are_disabled().expect("the kernel reports it")
        );
    }
}
