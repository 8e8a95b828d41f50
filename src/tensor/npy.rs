//! A small reader/writer for NumPy `.npy` files, read into and written from
//! the crate's one [`Tensor`]: the tensor exchange format of `edgemark infer`,
//! of `--inputs` and of `.npy` data sets. Supports format versions 1-3,
//! little-endian (or byte-order-free) f32/f64/i8/u8/i32/i64 in C order, which is
//! what `numpy.save` writes for the tensors models take. Anything else is
//! rejected with the path and the reason, never guessed at.

use std::path::{Path, PathBuf};

use super::{DType, Tensor, TensorData, element_count};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// numpy's `descr` string for `dtype`.
pub fn descr(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
    }
}

/// The element type numpy's `descr` names (little-endian or byte-order-free).
fn dtype_of_descr(d: &str) -> Result<DType, FormatError> {
    // One-byte types have no byte order; numpy writes '|' but '<' and '=' are
    // equally valid for them.
    // By char, not byte: a descr starting with a multi-byte character
    // panicked in `split_at(1)` (found by fuzzing).
    let mut chars = d.chars();
    let order = chars.next();
    let ty = chars.as_str();
    let little = match order {
        Some('<' | '|') => true,
        // '=' is native order; every platform edgemark targets is little-endian.
        Some('=') => cfg!(target_endian = "little"),
        Some('>') => false,
        _ => return Err(FormatError::Descr(d.to_owned())),
    };
    let dt = match ty {
        "f4" => DType::F32,
        "f8" => DType::F64,
        "i1" => DType::I8,
        "u1" => DType::U8,
        "i4" => DType::I32,
        "i8" => DType::I64,
        _ => return Err(FormatError::Dtype(d.to_owned())),
    };
    if !little && dt.size() > 1 {
        return Err(FormatError::BigEndian(d.to_owned()));
    }
    Ok(dt)
}

/// Why bytes are not a `.npy` file edgemark reads ([`NpyError::Format`] and
/// the data sets add the path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    #[error("missing the \\x93NUMPY magic")]
    Magic,
    #[error("truncated header length")]
    TruncatedHeaderLength,
    #[error("unsupported format version {major}.{minor}")]
    Version { major: u8, minor: u8 },
    #[error("header of {0} bytes runs past the end of the file")]
    HeaderPastEnd(usize),
    #[error("header is not text")]
    HeaderNotText,
    /// The header dict, and what is wrong with it.
    #[error("malformed header {header:?}: {why}")]
    Header { header: String, why: HeaderSyntax },
    #[error("Fortran-order arrays are not supported (save with C order)")]
    FortranOrder,
    #[error("unsupported dtype descr {0:?}")]
    Descr(String),
    #[error("unsupported dtype {0:?} (supported: f32, f64, i8, u8, i32, i64)")]
    Dtype(String),
    #[error("big-endian dtype {0:?} is not supported")]
    BigEndian(String),
    #[error("shape overflows")]
    ShapeOverflow,
    #[error("shape {shape:?} of {dtype} needs {want} data bytes, file has {got}")]
    DataLength {
        shape: Vec<usize>,
        dtype: &'static str,
        want: usize,
        got: usize,
    },
}

/// What is wrong in a header's Python dict literal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderSyntax {
    #[error("expected '{0}'")]
    Expected(char),
    #[error("expected a string")]
    String,
    #[error("expected a quoted string")]
    Quoted,
    #[error("unterminated string")]
    Unterminated,
    #[error("expected True or False")]
    Bool,
    #[error("expected a dimension")]
    Dimension,
    #[error("unexpected key {0:?}")]
    Key(String),
    #[error("trailing characters after the dict")]
    Trailing,
    /// A key numpy always writes is missing.
    #[error("no '{0}'")]
    Missing(&'static str),
}

/// Why a `.npy` file could not be read or written; always names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a usable .npy file: {why}", path.display())]
    Format { path: PathBuf, why: FormatError },
    #[error("{}: no .npy files in this folder", path.display())]
    EmptyFolder { path: PathBuf },
}

/// Reads a whole `.npy` file.
pub fn read(path: &Path) -> Result<Tensor, NpyError> {
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes).map_err(|why| NpyError::Format {
        path: path.to_owned(),
        why,
    })
}

/// Expands files and folders of `.npy` files (each folder's, sorted by name)
/// into the list of files, in order: `--inputs` of the tract and exec SUTs.
pub fn expand_paths(paths: &[String]) -> Result<Vec<PathBuf>, NpyError> {
    let mut out = vec![];
    for p in paths {
        let path = PathBuf::from(p);
        if !path.is_dir() {
            out.push(path);
            continue;
        }
        let rd = std::fs::read_dir(&path).map_err(|source| NpyError::Io {
            path: path.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")))
            .collect();
        if files.is_empty() {
            return Err(NpyError::EmptyFolder { path });
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

/// Writes `array` as a version 1.0 `.npy` file (2.0 if the header needs it).
pub fn write(path: &Path, array: &Tensor) -> Result<(), NpyError> {
    std::fs::write(path, to_bytes(array)).map_err(|source| NpyError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Parses the bytes of a `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<Tensor, FormatError> {
    if bytes.len() < 8 || &bytes[..6] != MAGIC {
        return Err(FormatError::Magic);
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, header_start) = match major {
        1 => {
            let b = bytes.get(8..10).ok_or(FormatError::TruncatedHeaderLength)?;
            (u16::from_le_bytes([b[0], b[1]]) as usize, 10usize)
        }
        2 | 3 => {
            let b = bytes.get(8..12).ok_or(FormatError::TruncatedHeaderLength)?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        _ => return Err(FormatError::Version { major, minor }),
    };
    let header_end = header_start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or(FormatError::HeaderPastEnd(header_len))?;
    let header = std::str::from_utf8(&bytes[header_start..header_end])
        .map_err(|_| FormatError::HeaderNotText)?;
    let header = parse_header(header)?;
    if header.fortran_order {
        return Err(FormatError::FortranOrder);
    }
    let dtype = dtype_of_descr(&header.descr)?;
    let count = element_count(&header.shape).ok_or(FormatError::ShapeOverflow)?;
    let want = (count.checked_mul(dtype.size())).ok_or(FormatError::ShapeOverflow)?;
    let body = &bytes[header_end..];
    if body.len() != want {
        return Err(FormatError::DataLength {
            shape: header.shape,
            dtype: dtype.name(),
            want,
            got: body.len(),
        });
    }
    let data = decode(dtype, body);
    Ok(Tensor {
        shape: header.shape,
        data,
        quant: None,
    })
}

fn decode(dtype: DType, body: &[u8]) -> TensorData {
    macro_rules! le {
        ($t:ty, $n:expr) => {
            body.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk size")))
                .collect()
        };
    }
    match dtype {
        DType::F32 => TensorData::F32(le!(f32, 4)),
        DType::F64 => TensorData::F64(le!(f64, 8)),
        DType::I8 => TensorData::I8(body.iter().map(|&b| b as i8).collect()),
        DType::U8 => TensorData::U8(body.to_vec()),
        DType::I32 => TensorData::I32(le!(i32, 4)),
        DType::I64 => TensorData::I64(le!(i64, 8)),
    }
}

/// Serialises `array` to `.npy` bytes.
pub fn to_bytes(array: &Tensor) -> Vec<u8> {
    let shape = match array.shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", array.shape[0]),
        _ => format!(
            "({})",
            array
                .shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr(array.data.dtype())
    );
    // The header (with its newline) is padded with spaces so the data starts on a
    // 64-byte boundary, as numpy does.
    let pad_to = |prefix: usize| {
        let unpadded = prefix + dict.len() + 1;
        let total = unpadded.div_ceil(64) * 64;
        total - prefix
    };
    let (mut out, header_len) = if pad_to(10) <= u16::MAX as usize {
        let len = pad_to(10);
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(len as u16).to_le_bytes());
        (out, len)
    } else {
        let len = pad_to(12);
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(len as u32).to_le_bytes());
        (out, len)
    };
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + header_len - dict.len() - 1, b' ');
    out.push(b'\n');
    match &array.data {
        TensorData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
        TensorData::U8(v) => out.extend_from_slice(v),
        TensorData::I32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorData::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    out
}

#[derive(Debug)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the Python dict literal of the header: exactly the three keys numpy
/// writes, in any order.
fn parse_header(text: &str) -> Result<Header, FormatError> {
    let mut p = Lexer {
        s: text.trim_end_matches(['\n', ' ', '\0']).as_bytes(),
        i: 0,
    };
    let bad = |why: HeaderSyntax| FormatError::Header {
        header: text.to_owned(),
        why,
    };
    p.expect(b'{').map_err(bad)?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string().map_err(bad)?;
        p.expect(b':').map_err(bad)?;
        match key.as_str() {
            "descr" => descr = Some(p.string().map_err(bad)?),
            "fortran_order" => fortran = Some(p.boolean().map_err(bad)?),
            "shape" => shape = Some(p.tuple().map_err(bad)?),
            other => return Err(bad(HeaderSyntax::Key(other.to_owned()))),
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.expect(b'}').map_err(bad)?;
            break;
        }
    }
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(bad(HeaderSyntax::Trailing));
    }
    Ok(Header {
        descr: descr.ok_or_else(|| bad(HeaderSyntax::Missing("descr")))?,
        fortran_order: fortran.ok_or_else(|| bad(HeaderSyntax::Missing("fortran_order")))?,
        shape: shape.ok_or_else(|| bad(HeaderSyntax::Missing("shape")))?,
    })
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), HeaderSyntax> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(HeaderSyntax::Expected(c as char))
        }
    }
    fn string(&mut self) -> Result<String, HeaderSyntax> {
        self.skip_ws();
        let q = *self.s.get(self.i).ok_or(HeaderSyntax::String)?;
        if q != b'\'' && q != b'"' {
            return Err(HeaderSyntax::Quoted);
        }
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == q)
            .ok_or(HeaderSyntax::Unterminated)?;
        self.i = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }
    fn boolean(&mut self) -> Result<bool, HeaderSyntax> {
        self.skip_ws();
        for (word, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(v);
            }
        }
        Err(HeaderSyntax::Bool)
    }
    fn tuple(&mut self) -> Result<Vec<usize>, HeaderSyntax> {
        self.expect(b'(')?;
        let mut dims = vec![];
        loop {
            if self.eat(b')') {
                return Ok(dims);
            }
            self.skip_ws();
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            // numpy 1.x on some platforms wrote `3L`.
            let digits = std::str::from_utf8(&self.s[start..self.i]).expect("ascii digits");
            if self.s.get(self.i) == Some(&b'L') {
                self.i += 1;
            }
            dims.push(digits.parse().map_err(|_| HeaderSyntax::Dimension)?);
            if !self.eat(b',') {
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes(major: u8, dict: &str) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[major, 0]);
        if major == 1 {
            out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(dict.as_bytes());
        out
    }

    #[test]
    fn round_trips_every_dtype_and_rank() {
        let arrays = [
            Tensor::new(
                vec![2, 3],
                TensorData::F32(vec![0.5, -1.0, 2.25, f32::MAX, 0.0, -0.0]),
            )
            .unwrap(),
            Tensor::new(vec![3], TensorData::F64(vec![1e300, -2.5, 0.1])).unwrap(),
            Tensor::new(vec![1, 1, 4], TensorData::I8(vec![-128, -1, 0, 127])).unwrap(),
            Tensor::new(vec![4], TensorData::U8(vec![0, 1, 254, 255])).unwrap(),
            Tensor::new(vec![2, 2], TensorData::I32(vec![i32::MIN, -1, 0, i32::MAX])).unwrap(),
            Tensor::new(vec![], TensorData::I64(vec![i64::MIN])).unwrap(),
            Tensor::new(vec![0, 5], TensorData::F32(vec![])).unwrap(),
        ];
        for a in arrays {
            let bytes = to_bytes(&a);
            let header_end = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!(header_end % 64, 0, "data must start 64-byte aligned");
            assert_eq!(bytes[header_end - 1], b'\n');
            assert_eq!(parse(&bytes).unwrap(), a);
        }
    }

    /// Found by fuzzing: a descr starting with a multi-byte character was
    /// split inside it (a panic); it is an unsupported dtype like any other.
    #[test]
    fn non_ascii_descr_is_an_error_not_a_panic() {
        let found = include_bytes!("../../fuzz/regressions/npy/descr-multibyte-first-char.npy");
        let e = parse(found).unwrap_err().to_string();
        assert!(e.contains("unsupported dtype descr \"Ĕ4\""), "{e}");
        for descr in ["é", "€f4", "<"] {
            let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}");
            assert!(parse(&header_bytes(1, &dict)).is_err(), "{descr}");
        }
    }

    #[test]
    fn writes_what_numpy_writes() {
        // numpy.save(f, numpy.array([[1, 2]], dtype='<i4')) produces exactly this header.
        let a = Tensor::new(vec![1, 2], TensorData::I32(vec![1, 2])).unwrap();
        let bytes = to_bytes(&a);
        let dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }";
        assert_eq!(&bytes[..6], MAGIC);
        assert_eq!(&bytes[6..10], &[1, 0, 118, 0]);
        assert_eq!(&bytes[10..10 + dict.len()], dict.as_bytes());
        assert_eq!(&bytes[128..], &[1, 0, 0, 0, 2, 0, 0, 0]);
        // 1-D shapes need Python's trailing comma.
        let one = to_bytes(&Tensor::new(vec![3], TensorData::U8(vec![1, 2, 3])).unwrap());
        assert!(String::from_utf8_lossy(&one).contains("'shape': (3,)"));
    }

    #[test]
    fn reads_v2_headers_any_key_order_and_double_quotes() {
        let dict = "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f8\"}\n";
        let mut bytes = header_bytes(2, dict);
        bytes.extend_from_slice(&1.5f64.to_le_bytes());
        bytes.extend_from_slice(&(-2.0f64).to_le_bytes());
        let a = parse(&bytes).unwrap();
        assert_eq!(a.shape, vec![2]);
        assert_eq!(a.data, TensorData::F64(vec![1.5, -2.0]));
    }

    #[test]
    fn one_byte_types_accept_any_byte_order_mark() {
        for descr in ["|i1", "<i1", "=i1"] {
            let mut bytes = header_bytes(
                1,
                &format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}"),
            );
            bytes.push(0xff);
            assert_eq!(
                parse(&bytes).unwrap().data,
                TensorData::I8(vec![-1]),
                "{descr}"
            );
        }
    }

    #[test]
    fn rejects_malformed_files_with_reasons() {
        let ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"PK\x03\x04 not npy".to_vec(), "magic"),
            (MAGIC.to_vec(), "magic"),
            (header_bytes(1, ok_dict)[..20].to_vec(), "runs past the end"),
            (header_bytes(1, ok_dict), "needs 8 data bytes, file has 0"),
            (
                [header_bytes(1, ok_dict), vec![0; 12]].concat(),
                "needs 8 data bytes, file has 12",
            ),
            (
                [header_bytes(1, &ok_dict.replace("<f4", ">f4")), vec![0; 8]].concat(),
                "big-endian",
            ),
            (
                [header_bytes(1, &ok_dict.replace("<f4", "<c8")), vec![0; 16]].concat(),
                "unsupported dtype",
            ),
            (
                [
                    header_bytes(1, &ok_dict.replace("False", "True")),
                    vec![0; 8],
                ]
                .concat(),
                "Fortran",
            ),
            (
                header_bytes(1, "{'descr': '<f4', 'shape': (2,)}"),
                "no 'fortran_order'",
            ),
            (
                header_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,"),
                "malformed",
            ),
            (header_bytes(9, ok_dict), "version 9"),
        ];
        for (bytes, want) in cases {
            let err = parse(&bytes).unwrap_err().to_string();
            assert!(err.contains(want), "expected {want:?} in {err:?}");
        }
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = std::env::temp_dir().join(format!("edgemark-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.npy");
        std::fs::write(&bad, b"garbage").unwrap();
        let msg = read(&bad).unwrap_err().to_string();
        assert!(msg.contains("bad.npy") && msg.contains("magic"), "{msg}");
        let missing = dir.join("missing.npy");
        let msg = read(&missing).unwrap_err().to_string();
        assert!(msg.contains("missing.npy"), "{msg}");
        let good = dir.join("good.npy");
        let a = Tensor::new(vec![2], TensorData::F32(vec![1.0, 2.0])).unwrap();
        write(&good, &a).unwrap();
        assert_eq!(read(&good).unwrap(), a);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn input_paths_expand_folders_sorted_and_empty_folders_are_errors() {
        let dir = std::env::temp_dir().join(format!("edgemark-npy-expand-{}", std::process::id()));
        let (full, empty) = (dir.join("full"), dir.join("empty"));
        std::fs::create_dir_all(&full).unwrap();
        std::fs::create_dir_all(&empty).unwrap();
        for f in ["b.npy", "a.NPY", "c.txt"] {
            std::fs::write(full.join(f), b"").unwrap();
        }
        let one = dir.join("one.npy").to_string_lossy().into_owned();
        let got = expand_paths(&[one.clone(), full.to_string_lossy().into_owned()]).unwrap();
        assert_eq!(
            got,
            [PathBuf::from(&one), full.join("a.NPY"), full.join("b.npy")]
        );
        let msg = expand_paths(&[empty.to_string_lossy().into_owned()])
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            format!("{}: no .npy files in this folder", empty.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_shared_reference_inputs() {
        // Written by numpy itself; only checked when present (the tract tests need them in CI).
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/models/reference/mobilenetv2-fp32.onnx/chelsea.input.npy");
        let Ok(bytes) = std::fs::read(&p) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} missing in CI",
                p.display()
            );
            eprintln!("SKIPPED: {} missing", p.display());
            return;
        };
        let a = parse(&bytes).unwrap();
        assert_eq!(a.shape, vec![1, 3, 224, 224]);
        assert_eq!(a.data.dtype(), DType::F32);
        // Our writer reproduces numpy's bytes exactly.
        assert_eq!(to_bytes(&a), bytes);
    }
}
