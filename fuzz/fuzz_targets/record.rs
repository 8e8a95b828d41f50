//! See `edgemark::fuzzing::record`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: edgemark::fuzzing::install_panic_hook(true),
    |data: &[u8]| edgemark::fuzzing::record(data)
);
