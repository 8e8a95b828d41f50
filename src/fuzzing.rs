//! One entry point per parser of untrusted bytes, shared by the cargo-fuzz
//! targets (`fuzz/`, nightly, libFuzzer) and the corpus replay test
//! (`tests/fuzz_corpus.rs`, stable, in CI), so both exercise exactly the same
//! code. Each takes arbitrary bytes and must return without panicking; where a
//! parser has an inverse, what it accepts must survive the round trip.
//!
//! Not part of the supported API.

use std::path::Path;

/// An entry point: the fuzz target's name (its `fuzz/corpus/<name>/` folder)
/// and the function it calls.
pub type Target = (&'static str, fn(&[u8]));

/// Every target; the model loaders only with the tract engine.
pub const TARGETS: &[Target] = &[
    ("record", record),
    ("settings_toml", settings_toml),
    ("daemon_config", daemon_config),
    ("board_profile", board_profile),
    ("npy", npy),
    ("jpeg", jpeg),
    ("image", image),
    ("labels", labels),
    #[cfg(feature = "tract")]
    ("onnx", onnx),
    #[cfg(feature = "tract")]
    ("tflite", tflite),
];

/// Where untrusted text is expected: files that are not UTF-8 are refused
/// before parsing (as `read_to_string` does), so only text reaches the parser.
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A record file (`report`, `export`), whole and as a payload behind a valid
/// header and CRC, so the fuzzer reaches the postcard decoding behind the
/// checksum. A record that decodes re-encodes to bytes that decode to the same
/// encoding (compared as bytes, so NaN floats compare equal).
pub fn record(data: &[u8]) {
    use crate::record::{MAGIC, Record, SCHEMA_VERSION};
    let check = |bytes: &[u8]| {
        if let Ok(rec) = Record::decode(bytes) {
            let once = rec.encode();
            let twice = Record::decode(&once)
                .expect("an encoded record decodes")
                .encode();
            assert_eq!(once, twice);
        }
    };
    check(data);
    let mut framed = Vec::with_capacity(18 + data.len());
    framed.extend_from_slice(&MAGIC);
    framed.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    framed.extend_from_slice(&(data.len() as u32).to_le_bytes());
    framed.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    framed.extend_from_slice(data);
    check(&framed);
}

/// A settings file (`run --config`) or a daemon job: TOML, then validation
/// into a plan. The root has no board, so validation reads nothing real.
pub fn settings_toml(data: &[u8]) {
    let Some(t) = text(data) else { return };
    if let Ok(raw) = crate::settings::RawSettings::from_toml(t) {
        let _ = crate::settings::validate(raw, Path::new("/nonexistent-fuzz-root"));
    }
}

/// The daemon's configuration file.
pub fn daemon_config(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let _ = crate::daemon::config::DaemonConfig::parse(t, Path::new("/etc/edgemark/fuzz.toml"));
}

/// A board profile (built in, or a drop-in file).
pub fn board_profile(data: &[u8]) {
    let Some(t) = text(data) else { return };
    if let Ok(b) = crate::boards::Board::from_toml(t, "fuzz.toml") {
        let _ = crate::boards::format_list(std::slice::from_ref(&b), Some(&b.name));
    }
}

/// A `.npy` tensor (`--inputs`, preprocessed data sets). What parses writes
/// back to the same bytes' meaning: parse(write(a)) writes as write(a).
pub fn npy(data: &[u8]) {
    if let Ok(a) = crate::npy::parse(data) {
        let bytes = crate::npy::to_bytes(&a);
        let again = crate::npy::parse(&bytes).expect("written .npy parses");
        assert_eq!(crate::npy::to_bytes(&again), bytes);
    }
    let _ = crate::dataset::npy::parse(data);
}

/// edgemark's own baseline JPEG decoder (data set images).
pub fn jpeg(data: &[u8]) {
    if let Ok(Some((w, h, rgb))) = crate::dataset::jpeg::decode(data) {
        assert_eq!(rgb.len(), w * h * 3, "{w}x{h}");
    }
}

/// A data set image as the data set reads it: format sniffing, the JPEG
/// decoder or the `image` crate's PNG/JPEG decoders.
pub fn image(data: &[u8]) {
    if let Ok(img) = crate::dataset::image::decode_bytes(data, Path::new("fuzz.img")) {
        assert_eq!(img.data.len(), img.width * img.height * 3);
    }
}

/// A labels file; the first byte picks the format (JSON, CSV, val_map text),
/// as the file's extension would.
pub fn labels(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Some(t) = text(rest) else { return };
    let name = match kind % 3 {
        0 => "labels.json",
        1 => "labels.csv",
        _ => "val_map.txt",
    };
    if let Ok(l) = crate::dataset::labels::Labels::parse(Path::new(name), t) {
        let _ = l.check_classes(1000);
    }
}

/// An ONNX model file: tract's protobuf import, analysis and optimisation,
/// as `run --model x.onnx` loads it.
#[cfg(feature = "tract")]
pub fn onnx(data: &[u8]) {
    let _ = crate::engine::tract::load::load_model("fuzz.onnx", data, &[], false);
}

/// A TFLite model file: the inspection (`inspect`), then the load path with
/// edgemark's rewrite pass before tract-tflite's import.
#[cfg(feature = "tract")]
pub fn tflite(data: &[u8]) {
    let _ = crate::engine::tract::tflite::inspect(data);
    let _ = crate::engine::tract::load::load_model("fuzz.tflite", data, &[], false);
}

/// Panics in edgemark's own code seen by the hook since the last call (the
/// replay test checks this after every file: a guard may have caught them).
pub fn take_own_panics() -> Vec<String> {
    std::mem::take(&mut *OWN_PANICS.lock().unwrap_or_else(|e| e.into_inner()))
}

static OWN_PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A panic hook for fuzzing: panics inside dependencies (tract, flatbuffers,
/// prost) are caught by edgemark's guards around model loading and become
/// errors naming the file, so they are printed (once per place) and tolerated;
/// a panic in edgemark's own code, or anywhere not attributable to a
/// dependency, is a bug even when a guard catches it: with `abort` (libFuzzer)
/// the process aborts so the fuzzer reports the input, else it is kept for
/// [`take_own_panics`]. A panic no guard catches fails either way.
pub fn install_panic_hook(abort: bool) {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    std::panic::set_hook(Box::new(move |info| {
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if !loc.contains("registry/src/") {
            eprintln!("edgemark fuzz: panic in edgemark's own code: {info}");
            if abort {
                std::process::abort();
            }
            OWN_PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(info.to_string());
            return;
        }
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get_or_insert_with(HashSet::new).insert(loc) {
            eprintln!("edgemark fuzz: panic inside a dependency, caught by the guard: {info}");
        }
    }));
}

#[cfg(test)]
mod tests {
    /// Writes small JPEG and PNG files as seeds of the `jpeg` and `image`
    /// fuzz targets: `EDGEMARK_FUZZ_SEEDS=fuzz/corpus cargo test --lib
    /// write_image_fuzz_seeds -- --ignored`.
    #[test]
    #[ignore = "writes fuzz seeds; run by hand"]
    fn write_image_fuzz_seeds() {
        use image::codecs::{jpeg::JpegEncoder, png::PngEncoder};
        use image::{ExtendedColorType, ImageEncoder};
        let Some(dir) = std::env::var_os("EDGEMARK_FUZZ_SEEDS") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        let pixels = |w: u32, h: u32, ch: u32| -> Vec<u8> {
            (0..w * h * ch).map(|i| (i * 37 % 251) as u8).collect()
        };
        let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
        for (name, w, h, color, ch, quality) in [
            ("rgb-8x8-q90.jpg", 8, 8, ExtendedColorType::Rgb8, 3, 90),
            ("rgb-17x13-q50.jpg", 17, 13, ExtendedColorType::Rgb8, 3, 50),
            ("grey-16x9-q75.jpg", 16, 9, ExtendedColorType::L8, 1, 75),
        ] {
            let mut out = Vec::new();
            JpegEncoder::new_with_quality(&mut out, quality)
                .write_image(&pixels(w, h, ch), w, h, color)
                .unwrap();
            seeds.push((name, out));
        }
        for (name, w, h, color, ch) in [
            ("rgb-5x3.png", 5, 3, ExtendedColorType::Rgb8, 3),
            ("rgba-4x4.png", 4, 4, ExtendedColorType::Rgba8, 4),
            ("grey-3x3.png", 3, 3, ExtendedColorType::L8, 1),
            ("rgb16-2x2.png", 2, 2, ExtendedColorType::Rgb16, 6),
        ] {
            let mut out = Vec::new();
            PngEncoder::new(&mut out)
                .write_image(&pixels(w, h, ch), w, h, color)
                .unwrap();
            seeds.push((name, out));
        }
        for target in ["jpeg", "image"] {
            let d = dir.join(target);
            std::fs::create_dir_all(&d).unwrap();
            for (name, bytes) in &seeds {
                if target == "image" || name.ends_with(".jpg") {
                    std::fs::write(d.join(name), bytes).unwrap();
                }
            }
        }
    }
}
