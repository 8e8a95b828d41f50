//! The timed SingleStream loop allocates nothing: a counting global allocator is
//! read by the SUT at every issue, and no allocation may happen between the
//! first and the last one. (Its own file: the counter is process-wide.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use edgemark::loadgen::{Control, FakeClock, MonotonicClock, single_stream};
use edgemark::settings::{RawSettings, validate};
use edgemark::sut::{Sut, SutError, SutInfo};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Default)]
struct Probe {
    first: Option<u64>,
    last: u64,
    issues: u64,
}

impl Sut for Probe {
    fn info(&self) -> SutInfo {
        SutInfo::default()
    }
    fn load_samples(&mut self, _: &[usize]) -> Result<(), SutError> {
        Ok(())
    }
    fn warm_up(&mut self, _: usize) -> Result<(), SutError> {
        Ok(())
    }
    fn issue(&mut self, _: usize) -> Result<(), SutError> {
        let n = ALLOCS.load(Ordering::Relaxed);
        self.first.get_or_insert(n);
        self.last = n;
        self.issues += 1;
        Ok(())
    }
}

#[test]
fn timed_loop_allocates_nothing() {
    let plan = validate(
        RawSettings::from_toml("min_duration_ms = 0\nmin_query_count = 50000").unwrap(),
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bare")),
    )
    .unwrap();
    let loaded: Vec<usize> = (0..1024).collect();
    let control = Control::default();
    for clock in [
        &MonotonicClock::new() as &dyn edgemark::loadgen::Clock,
        &FakeClock::new(0),
    ] {
        let mut sut = Probe::default();
        let run = single_stream::run(&mut sut, &plan.settings, &loaded, clock, &control).unwrap();
        assert_eq!(sut.issues, 50_000);
        assert_eq!(run.latency_ns.len(), 50_000);
        assert_eq!(
            sut.first,
            Some(sut.last),
            "allocations happened inside the timed loop"
        );
    }
    // The probe itself would see an allocation if one happened between issues.
    let before = ALLOCS.load(Ordering::Relaxed);
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(10));
    assert!(ALLOCS.load(Ordering::Relaxed) > before && v.capacity() >= 10);
}
