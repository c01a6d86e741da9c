//! Claims on the bench's network-namespace slots, so that bench processes running at once (two
//! researchers, two test binaries in CI) never pick the same subnet or the same interface names.
//!
//! A slot is claimed by holding an exclusive `flock` on `<dir>/slot-<n>.lock` for the cluster's life.
//! The kernel drops the lock when the holder closes the file or dies, so a crashed run's slot is free
//! again at once; whatever it left behind (namespaces, links) is the next claimant's to remove. Lock
//! files are never deleted: unlinking one while another process opens it would let two hold "the" lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Where the claims live: `/run` is a tmpfs (claims do not outlive a reboot, nor do namespaces) and
/// root-only, as namespaces are.
pub const DIR: &str = "/run/p2pfaas-bench";

/// Number of slots: subnets `10.213.20.0/24` to `10.213.219.0/24`.
pub const SLOTS: u16 = 200;

/// A slot held by this process until dropped.
#[derive(Debug)]
pub struct Claim {
    slot: u16,
    /// Holds the lock (released when closed, on drop or at exit).
    _lock: File,
}

impl Claim {
    /// Claims the first free slot from `first` on (wrapping), skipping those `usable` turns down (it runs
    /// with the claim held); `Ok(None)` when every slot is taken.
    pub fn take(
        dir: &Path,
        first: u16,
        mut usable: impl FnMut(u16) -> bool,
    ) -> std::io::Result<Option<Self>> {
        std::fs::create_dir_all(dir)?;
        for k in 0..SLOTS {
            let slot = (first % SLOTS + k) % SLOTS;
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path(dir, slot))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(e)) => return Err(e),
            }
            if usable(slot) {
                return Ok(Some(Self { slot, _lock: file }));
            }
        }
        Ok(None)
    }

    /// The slot held.
    pub fn slot(&self) -> u16 {
        self.slot
    }
}

fn path(dir: &Path, slot: u16) -> PathBuf {
    dir.join(format!("slot-{slot}.lock"))
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    /// A fresh directory for a test's claims, removed when dropped (a failed assertion included).
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("p2pfaas-bench-claim-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    fn take(dir: &Path, first: u16) -> Claim {
        Claim::take(dir, first, |_| true)
            .expect("io")
            .expect("a slot")
    }

    #[test]
    fn two_claimants_from_one_slot_get_two_and_a_dropped_slot_is_free_again() {
        let scratch = scratch("two");
        let dir = &scratch.0;
        let (a, b) = (take(dir, 7), take(dir, 7));
        assert_eq!((a.slot(), b.slot()), (7, 8));
        // A slot the caller finds in use by someone else is skipped, and left free.
        let c = Claim::take(dir, 7, |s| s != 9)
            .expect("io")
            .expect("a slot");
        assert_eq!(c.slot(), 10);
        drop(a);
        assert_eq!(take(dir, 7).slot(), 7);
        let _a = take(dir, 7);
        assert_eq!(take(dir, 7).slot(), 9);
        // Wraps past the last slot.
        let last = take(dir, SLOTS - 1);
        assert_eq!(last.slot(), SLOTS - 1);
        assert_eq!(take(dir, SLOTS - 1).slot(), 0);
    }

    #[test]
    fn another_process_holds_a_slot_until_it_dies() {
        let scratch = scratch("crash");
        let dir = &scratch.0;
        std::fs::create_dir_all(dir).expect("dir");
        // flock(1) takes the same lock as this module, from another process, which then holds it
        // alone (the lock belongs to the open file, which only `sleep` keeps).
        if Command::new("flock").arg("--version").output().is_err() {
            eprintln!("skipped: no flock(1)");
            return;
        }
        let mut holder = Command::new("sh")
            .args(["-c", "exec 9>>\"$1\" && flock 9 && exec sleep 60", "sh"])
            .arg(path(dir, 3))
            .stdout(Stdio::null())
            .spawn()
            .expect("sh");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut taken = take(dir, 3);
        while taken.slot() == 3 && Instant::now() < deadline {
            drop(taken);
            std::thread::sleep(Duration::from_millis(20));
            taken = take(dir, 3);
        }
        assert_eq!(taken.slot(), 4, "slot 3 is the other process's");
        // A crash (SIGKILL) releases it: the slot is claimable again.
        let _ = holder.kill();
        let _ = holder.wait();
        assert_eq!(take(dir, 3).slot(), 3);
    }
}
