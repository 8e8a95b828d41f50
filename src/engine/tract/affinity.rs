//! CPU pinning for model instances (nix `sched_setaffinity` on the calling
//! thread). Pinning keeps each Offline instance on its own core so instances do
//! not migrate onto each other, and lets big.LITTLE users choose the big cores.

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

pub use crate::boards::allowed_cpus;

/// The calling thread's current affinity.
pub fn current() -> Result<CpuSet, String> {
    sched_getaffinity(Pid::from_raw(0)).map_err(|e| format!("sched_getaffinity: {e}"))
}

/// Pins the calling thread to `cpus`.
pub fn pin_current(cpus: &[u32]) -> Result<(), String> {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c as usize).map_err(|e| format!("cpu {c}: {e}"))?;
    }
    set_current(&set).map_err(|e| format!("pinning to cpus {cpus:?}: {e}"))
}

pub fn set_current(set: &CpuSet) -> Result<(), String> {
    sched_setaffinity(Pid::from_raw(0), set).map_err(|e| format!("sched_setaffinity: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_a_thread_restricts_it_and_can_be_undone() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty());
        let first = allowed[0];
        std::thread::spawn(move || {
            let before = current().unwrap();
            pin_current(&[first]).unwrap();
            let now = current().unwrap();
            assert!(now.is_set(first as usize).unwrap());
            let count = (0..CpuSet::count())
                .filter(|&c| now.is_set(c).unwrap())
                .count();
            assert_eq!(count, 1);
            set_current(&before).unwrap();
            assert_eq!(allowed_cpus(), allowed);
        })
        .join()
        .unwrap();
        assert!(pin_current(&[100_000]).is_err());
    }
}
