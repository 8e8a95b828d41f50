//! `sut` as the user writes it: one word (`synthetic:null`, `builtin`) or an
//! external SUT's command, `exec:PROGRAM ARGS...`, given on the command line
//! as `--sut exec:PROGRAM ARGS... ;` (or last) and in TOML files as a list
//! (`sut = ["exec:python3", "sut.py", "--model", "m.onnx"]`).

use serde::{Deserialize, Deserializer};

use crate::plan::ExecSpec;

/// TOML `sut`: a string or a list of strings.
pub fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Words {
        One(String),
        Many(Vec<String>),
    }
    Ok(Some(match Words::deserialize(d)? {
        Words::One(s) => vec![s],
        Words::Many(v) => v,
    }))
}

/// The external SUT's command when `words` start with `exec:`; None for
/// every other kind of SUT. Errors say what is wrong with the command.
pub fn parse(
    words: &[String],
    inputs: Vec<String>,
    timeout_ms: Option<u64>,
) -> Option<Result<ExecSpec, String>> {
    let first = words.first()?;
    let program = first.strip_prefix("exec:")?;
    Some((|| {
        if program.is_empty() {
            return Err(
                "exec: needs a program, e.g. exec:python3 sut.py (or exec:./my_sut)".into(),
            );
        }
        let timeout_ms = timeout_ms.unwrap_or(super::DEFAULT_QUERY_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err("sut_timeout_ms must be > 0".into());
        }
        let mut command = vec![program.to_string()];
        command.extend(words[1..].iter().cloned());
        Ok(ExecSpec {
            command,
            inputs,
            timeout_ms,
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
        let e = parse(&w(&["exec:python3", "s.py", "--model", "m"]), vec![], None)
            .unwrap()
            .unwrap();
        assert_eq!(e.command, w(&["python3", "s.py", "--model", "m"]));
        assert_eq!(e.timeout_ms, super::super::DEFAULT_QUERY_TIMEOUT_MS);
        assert!(parse(&w(&["synthetic:null"]), vec![], None).is_none());
        assert!(parse(&w(&["exec:"]), vec![], None).unwrap().is_err());
        assert!(parse(&w(&["exec:x"]), vec![], Some(0)).unwrap().is_err());
    }

    #[test]
    fn toml_takes_a_string_or_a_list() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "string_or_list")]
            sut: Option<Vec<String>>,
        }
        let t: T = toml::from_str("sut = \"synthetic:null\"").unwrap();
        assert_eq!(t.sut, Some(w(&["synthetic:null"])));
        let t: T = toml::from_str("sut = [\"exec:./a\", \"-x\"]").unwrap();
        assert_eq!(t.sut, Some(w(&["exec:./a", "-x"])));
        let t: T = toml::from_str("").unwrap();
        assert_eq!(t.sut, None);
        assert!(toml::from_str::<T>("sut = 3").is_err());
    }
}
