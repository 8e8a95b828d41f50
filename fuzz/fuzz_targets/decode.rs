//! Any bytes given to the record decoder give a record or a `DecodeError`,
//! never a panic. The input is tried twice: as a whole file (framing checks),
//! and as a payload wrapped in a valid header and CRC, so the fuzzer reaches
//! the postcard decoding behind the checksum. A record that decodes must
//! re-encode to bytes that decode to the same encoding (compared as bytes, so
//! NaN floats compare equal).
#![no_main]

use edgemark::record::{MAGIC, Record, SCHEMA_VERSION};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    if let Ok(rec) = Record::decode(bytes) {
        let once = rec.encode();
        let twice = Record::decode(&once).expect("an encoded record decodes").encode();
        assert_eq!(once, twice);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut framed = Vec::with_capacity(18 + data.len());
    framed.extend_from_slice(&MAGIC);
    framed.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    framed.extend_from_slice(&(data.len() as u32).to_le_bytes());
    framed.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    framed.extend_from_slice(data);
    check(&framed);
});
