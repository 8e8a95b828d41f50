//! CPU pinning for model instances (nix `sched_setaffinity` on the calling
//! thread). Pinning keeps each Offline instance on its own core so instances do
//! not migrate onto each other, and lets big.LITTLE users choose the big cores.

use nix::errno::Errno;
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

pub use crate::boards::allowed_cpus;

/// Why the calling thread's affinity could not be read or set.
#[derive(Debug, thiserror::Error)]
pub enum AffinityError {
    #[error("sched_getaffinity: {0}")]
    Get(Errno),
    #[error("cpu {cpu}: {errno}")]
    Cpu { cpu: u32, errno: Errno },
    #[error("sched_setaffinity: {0}")]
    Set(Errno),
    #[error("pinning to cpus {cpus:?}: sched_setaffinity: {errno}")]
    Pin { cpus: Vec<u32>, errno: Errno },
}

/// The calling thread's current affinity.
pub fn current() -> Result<CpuSet, AffinityError> {
    sched_getaffinity(Pid::from_raw(0)).map_err(AffinityError::Get)
}

/// Pins the calling thread to `cpus`.
pub fn pin_current(cpus: &[u32]) -> Result<(), AffinityError> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu as usize)
            .map_err(|errno| AffinityError::Cpu { cpu, errno })?;
    }
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|errno| AffinityError::Pin {
        cpus: cpus.to_vec(),
        errno,
    })
}

pub fn set_current(set: &CpuSet) -> Result<(), AffinityError> {
    sched_setaffinity(Pid::from_raw(0), set).map_err(AffinityError::Set)
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
