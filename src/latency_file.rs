//! Reads latencies for `edgemark stats`: one integer of nanoseconds per line
//! (blank lines and `#` comments skipped), or one JSON array of integers.
//! Errors name the file and, for text, the line.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LatencyFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected one non-negative integer of nanoseconds, got {text:?}")]
    Line {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("{path}: not a JSON array of non-negative integers: {message}")]
    Json { path: PathBuf, message: String },
    #[error("{path}: no latencies in the file")]
    Empty { path: PathBuf },
}

pub fn read(path: &Path) -> Result<Vec<u64>, LatencyFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| LatencyFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let latencies = parse(&text).map_err(|e| match e {
        ParseError::Line { line, text } => LatencyFileError::Line {
            path: path.to_path_buf(),
            line,
            text,
        },
        ParseError::Json(message) => LatencyFileError::Json {
            path: path.to_path_buf(),
            message,
        },
    })?;
    if latencies.is_empty() {
        return Err(LatencyFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(latencies)
}

#[derive(Debug, PartialEq)]
enum ParseError {
    Line { line: usize, text: String },
    Json(String),
}

fn parse(text: &str) -> Result<Vec<u64>, ParseError> {
    if text.trim_start().starts_with('[') {
        return serde_json::from_str::<Vec<u64>>(text).map_err(|e| ParseError::Json(e.to_string()));
    }
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(line.parse::<u64>().map_err(|_| ParseError::Line {
            line: i + 1,
            text: raw.to_string(),
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json() {
        assert_eq!(parse("1\n\n 2 \n# c\n3 # x\n").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse(" [5, 6,7]").unwrap(), vec![5, 6, 7]);
    }

    #[test]
    fn bad_line_is_located() {
        assert_eq!(
            parse("1\n2\n3.5\n").unwrap_err(),
            ParseError::Line {
                line: 3,
                text: "3.5".into()
            }
        );
        assert!(matches!(parse("[1, -2]"), Err(ParseError::Json(_))));
        assert!(matches!(parse("-1"), Err(ParseError::Line { line: 1, .. })));
    }
}
