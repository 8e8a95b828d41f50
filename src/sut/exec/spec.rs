//! `sut` as the user writes it: one word (`synthetic:null`, `builtin`) or an
//! external SUT's command, `exec:PROGRAM ARGS...`. On the command line it is
//! one argument split into words like a shell does (`--sut 'exec:python3
//! sut.py m.onnx'`; quotes and backslashes work), so `--sut` takes no
//! flags that belong to edgemark; in TOML files it is a string (split the
//! same way) or a list of words (`sut = ["exec:python3", "sut.py"]`).

use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::plan::ExecSpec;

/// The `sut` setting's words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SutWords(pub Vec<String>);

impl SutWords {
    /// The first word (`synthetic:...`, `builtin`, `model`, `exec:...`).
    pub fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }
}

/// What is wrong with a `sut` value or an `exec:` SUT's settings (a usage
/// error: settings name the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    #[error("unclosed ' in {0:?}")]
    UnclosedSingle(String),
    #[error("unclosed \" in {0:?}")]
    UnclosedDouble(String),
    #[error("trailing \\ in {0:?}")]
    TrailingBackslash(String),
    #[error("empty SUT")]
    Empty,
    #[error("exec: needs a program, e.g. exec:python3 sut.py (or exec:./my_sut)")]
    NoProgram,
    #[error("sut_timeout_ms must be > 0")]
    ZeroTimeout,
    #[error("sut_transport: expected pipe, socketpair or spin, got {0:?}")]
    Transport(String),
}

impl FromStr for SutWords {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<SutWords, SpecError> {
        let words = split_words(s)?;
        if words.is_empty() {
            return Err(SpecError::Empty);
        }
        Ok(SutWords(words))
    }
}

impl<'de> Deserialize<'de> for SutWords {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SutWords, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Words {
            One(String),
            Many(Vec<String>),
        }
        match Words::deserialize(d)? {
            Words::One(s) => s.parse().map_err(serde::de::Error::custom),
            Words::Many(v) if v.is_empty() => Err(serde::de::Error::custom("empty SUT list")),
            Words::Many(v) => Ok(SutWords(v)),
        }
    }
}

/// Splits like a POSIX shell without expansions: whitespace separates,
/// '...' keeps everything, "..." and unquoted text take backslash escapes.
pub fn split_words(s: &str) -> Result<Vec<String>, SpecError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(SpecError::UnclosedSingle(s.to_owned())),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => cur.push(c),
                            None => return Err(SpecError::TrailingBackslash(s.to_owned())),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(SpecError::UnclosedDouble(s.to_owned())),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err(SpecError::TrailingBackslash(s.to_owned())),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// The external SUT's command when `words` start with `exec:`; None for
/// every other kind of SUT. Errors say what is wrong with the command.
pub fn parse(
    words: &[String],
    inputs: Vec<String>,
    timeout_ms: Option<u64>,
    transport: Option<&str>,
) -> Option<Result<ExecSpec, SpecError>> {
    let first = words.first()?;
    let program = first.strip_prefix("exec:")?;
    Some((|| {
        if program.is_empty() {
            return Err(SpecError::NoProgram);
        }
        let timeout_ms = timeout_ms.unwrap_or(super::DEFAULT_QUERY_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err(SpecError::ZeroTimeout);
        }
        let transport = match transport {
            None => None,
            Some(t) => Some(
                crate::plan::SutTransport::parse(t)
                    .ok_or_else(|| SpecError::Transport(t.to_owned()))?,
            ),
        };
        let mut command = vec![program.to_string()];
        command.extend(words[1..].iter().cloned());
        Ok(ExecSpec {
            command,
            inputs,
            timeout_ms,
            transport,
        })
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn exec_words_become_a_command() {
        let e = parse(
            &w(&["exec:python3", "s.py", "--model", "m"]),
            vec![],
            None,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.command, w(&["python3", "s.py", "--model", "m"]));
        assert_eq!(e.timeout_ms, super::super::DEFAULT_QUERY_TIMEOUT_MS);
        assert_eq!(e.transport, None);
        assert!(parse(&w(&["synthetic:null"]), vec![], None, None).is_none());
        assert!(parse(&w(&["exec:"]), vec![], None, None).unwrap().is_err());
        assert!(
            parse(&w(&["exec:x"]), vec![], Some(0), None)
                .unwrap()
                .is_err()
        );
        let spin = parse(&w(&["exec:x"]), vec![], None, Some("spin")).unwrap();
        assert_eq!(
            spin.unwrap().transport,
            Some(crate::plan::SutTransport::Spin)
        );
        let bad = parse(&w(&["exec:x"]), vec![], None, Some("carrier-pigeon")).unwrap();
        assert!(bad.unwrap_err().to_string().contains("carrier-pigeon"));
    }

    #[test]
    fn toml_takes_a_string_or_a_list() {
        #[derive(Deserialize)]
        struct T {
            sut: Option<SutWords>,
        }
        let t: T = toml::from_str("sut = \"synthetic:null\"").unwrap();
        assert_eq!(t.sut, Some(SutWords(w(&["synthetic:null"]))));
        let t: T = toml::from_str("sut = \"exec:python3 'my sut.py' m\"").unwrap();
        assert_eq!(
            t.sut,
            Some(SutWords(w(&["exec:python3", "my sut.py", "m"])))
        );
        let t: T = toml::from_str("sut = [\"exec:./a b\", \"-x\"]").unwrap();
        assert_eq!(t.sut, Some(SutWords(w(&["exec:./a b", "-x"]))));
        let t: T = toml::from_str("").unwrap();
        assert_eq!(t.sut, None);
        assert!(toml::from_str::<T>("sut = 3").is_err());
        assert!(toml::from_str::<T>("sut = []").is_err());
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(split_words("  a  b\tc ").unwrap(), w(&["a", "b", "c"]));
        assert_eq!(
            split_words(r#"exec:x 'a b' "c \" d" e\ f ''"#).unwrap(),
            w(&["exec:x", "a b", "c \" d", "e f", ""])
        );
        assert!(split_words("'open").is_err());
        assert!(split_words("\"open").is_err());
        assert!("".parse::<SutWords>().is_err());
    }
}
