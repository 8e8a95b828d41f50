//! Ground truth for classification: which classes count as right for each file.
//! Reads ImageNet's `val_map.txt` style (`file label` per line), CSV (`file,label`,
//! optional header, extra label columns = more accepted classes) and JSON (a list of
//! `{file, label}` or `{file, accept: [..], kind}` as in the shared `labels.json`, or
//! an object `{file: label}`); class names come from a text file, one per line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::DatasetError;

/// How a label is scored. `Coarse`: the data set has no exact class, near classes
/// are accepted; `Unscored`: run the sample, but leave it out of accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelKind {
    Strict,
    Coarse,
    Unscored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelEntry {
    pub file: String,
    /// Classes counted as right; the first is the one reported as "the" label.
    pub accept: Vec<usize>,
    pub kind: LabelKind,
}

/// A labels file, parsed and checked (no duplicates, no empty scored entries).
#[derive(Debug, Clone)]
pub struct Labels {
    pub path: PathBuf,
    pub entries: Vec<LabelEntry>,
    by_name: HashMap<String, usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntry {
    file: String,
    #[serde(default)]
    label: Option<usize>,
    #[serde(default)]
    accept: Option<Vec<usize>>,
    #[serde(default)]
    kind: Option<LabelKind>,
    // Free-text fields of the shared labels.json; accepted and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonLabels {
    List(Vec<JsonEntry>),
    Map(std::collections::BTreeMap<String, usize>),
}

impl Labels {
    /// Read a labels file; the format follows the extension (`.json`, `.csv`, else
    /// whitespace-separated text). A missing file is an error naming the path.
    pub fn load(path: &Path) -> Result<Self, DatasetError> {
        let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// [`Labels::load`] for text already read; `path` picks the format by its
    /// extension and names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, DatasetError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let entries = match ext.as_str() {
            "json" => parse_json(text),
            "csv" => parse_lines(text, ','),
            _ => parse_lines(text, ' '),
        }
        .map_err(|why| DatasetError::Labels {
            path: path.to_owned(),
            why: why.to_string(),
        })?;
        Self::from_entries(path, entries)
    }

    pub fn from_entries(path: &Path, entries: Vec<LabelEntry>) -> Result<Self, DatasetError> {
        let err = |why| DatasetError::Labels {
            path: path.to_owned(),
            why,
        };
        let mut by_name = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            if e.accept.is_empty() && e.kind != LabelKind::Unscored {
                return Err(err(format!("{}: no label", e.file)));
            }
            if by_name.insert(e.file.clone(), i).is_some() {
                return Err(err(format!("{}: listed twice", e.file)));
            }
        }
        if entries.is_empty() {
            return Err(err("no labels".into()));
        }
        Ok(Labels {
            path: path.to_owned(),
            entries,
            by_name,
        })
    }

    /// Every label must name one of the model's `num_classes` outputs; checked
    /// before anything runs so a wrong labels file never costs a measurement.
    pub fn check_classes(&self, num_classes: usize) -> Result<(), DatasetError> {
        for e in &self.entries {
            if let Some(&bad) = e.accept.iter().find(|&&c| c >= num_classes) {
                return Err(DatasetError::Labels {
                    path: self.path.clone(),
                    why: format!(
                        "{}: label {bad} is outside the model's {num_classes} classes (0..{})",
                        e.file,
                        num_classes.saturating_sub(1)
                    ),
                });
            }
        }
        Ok(())
    }

    /// The label of a sample: by exact file name, else by stem, so `chelsea.npy`
    /// finds `chelsea.png`'s label.
    pub fn get(&self, name: &str) -> Option<&LabelEntry> {
        if let Some(&i) = self.by_name.get(name) {
            return Some(&self.entries[i]);
        }
        let stem = |s: &str| {
            let base = s.rsplit('/').next().unwrap_or(s);
            base.rsplit_once('.')
                .map(|(a, _)| a.to_owned())
                .unwrap_or(base.to_owned())
        };
        let want = stem(name);
        let mut hits = self.entries.iter().filter(|e| stem(&e.file) == want);
        match (hits.next(), hits.next()) {
            (Some(e), None) => Some(e),
            _ => None,
        }
    }

    pub fn files(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.file.clone()).collect()
    }
}

/// Why a labels file's text is not labels (`DatasetError::Labels` names the file).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabelsSyntaxError {
    #[error("not a labels JSON (a list of {{file, label | accept, kind}} or {{file: label}}): {0}")]
    Json(#[from] serde_json::Error),
    #[error("empty line")]
    EmptyLine,
    /// `line` (1-based) is not `file<sep>label...`.
    #[error("line {line}: expected `file{sep}label`, got {text:?}")]
    Line {
        line: usize,
        sep: char,
        text: String,
    },
}

fn parse_json(text: &str) -> Result<Vec<LabelEntry>, LabelsSyntaxError> {
    let parsed: JsonLabels = serde_json::from_str(text)?;
    match parsed {
        JsonLabels::Map(m) => Ok(m
            .into_iter()
            .map(|(file, l)| LabelEntry {
                file,
                accept: vec![l],
                kind: LabelKind::Strict,
            })
            .collect()),
        JsonLabels::List(list) => list
            .into_iter()
            .map(|e| {
                let accept = match (e.label, e.accept) {
                    (Some(l), None) => vec![l],
                    (None, Some(a)) => a,
                    (None, None) => Vec::new(),
                    (Some(l), Some(mut a)) => {
                        // `label` first, so it is the one reported.
                        a.retain(|&x| x != l);
                        a.insert(0, l);
                        a
                    }
                };
                Ok(LabelEntry {
                    file: e.file,
                    accept,
                    kind: e.kind.unwrap_or(LabelKind::Strict),
                })
            })
            .collect(),
    }
}

/// `file label [label...]` per line (val_map.txt), or comma-separated (CSV). Blank
/// lines and `#` comments are skipped; a first line whose labels are not numbers
/// is taken as a header.
fn parse_lines(text: &str, sep: char) -> Result<Vec<LabelEntry>, LabelsSyntaxError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = if sep == ' ' {
            line.split_whitespace().collect()
        } else {
            line.split(sep).map(str::trim).collect()
        };
        let (file, rest) = fields.split_first().ok_or(LabelsSyntaxError::EmptyLine)?;
        let accept: Result<Vec<usize>, _> = rest
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<usize>())
            .collect();
        match accept {
            Ok(a) if !a.is_empty() => out.push(LabelEntry {
                file: file.trim_matches('"').to_owned(),
                accept: a,
                kind: LabelKind::Strict,
            }),
            _ if out.is_empty() && n == first_content_line(text) => continue, // header
            _ => {
                return Err(LabelsSyntaxError::Line {
                    line: n + 1,
                    sep: if sep == ' ' { ' ' } else { ',' },
                    text: line.to_owned(),
                });
            }
        }
    }
    Ok(out)
}

fn first_content_line(text: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        })
        .unwrap_or(0)
}

/// Class names, line i naming class i.
pub fn load_class_names(path: &Path) -> Result<Vec<String>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(text.lines().map(|l| l.trim().to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn val_map_csv_and_json() {
        let v = parse_lines("a.JPEG 65\n\n# c\nb.JPEG 970\n", ' ').unwrap();
        assert_eq!(
            v[1],
            LabelEntry {
                file: "b.JPEG".into(),
                accept: vec![970],
                kind: LabelKind::Strict
            }
        );
        let c = parse_lines("file,label\na.png,3,4\nb.png, 7\n", ',').unwrap();
        assert_eq!(
            (c.len(), &c[0].accept, &c[1].accept),
            (2, &vec![3, 4], &vec![7])
        );
        assert!(
            parse_lines("a.png,3\nb.png,x\n", ',')
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        let j = parse_json(r#"[{"file":"a.png","accept":[1,2],"kind":"coarse","note":"n"},
                               {"file":"b.png","label":5},{"file":"c.png","accept":[],"kind":"unscored"}]"#)
            .unwrap();
        assert_eq!(j[0].kind, LabelKind::Coarse);
        assert_eq!(j[1].accept, vec![5]);
        assert_eq!(j[2].kind, LabelKind::Unscored);
        let m = parse_json(r#"{"x.jpg": 3}"#).unwrap();
        assert_eq!(m[0].accept, vec![3]);
        assert!(parse_json(r#"[{"file":"a","accept":[1],"kind":"maybe"}]"#).is_err());
    }

    #[test]
    fn checks_duplicates_empty_and_class_range() {
        let p = Path::new("l.txt");
        let e = |f: &str, a: Vec<usize>| LabelEntry {
            file: f.into(),
            accept: a,
            kind: LabelKind::Strict,
        };
        assert!(Labels::from_entries(p, vec![e("a", vec![1]), e("a", vec![2])]).is_err());
        assert!(Labels::from_entries(p, vec![e("a", vec![])]).is_err());
        let l = Labels::from_entries(p, vec![e("a.png", vec![1]), e("b.png", vec![999, 1000])])
            .unwrap();
        let err = l.check_classes(1000).unwrap_err().to_string();
        assert!(
            err.contains("b.png") && err.contains("1000") && err.contains("l.txt"),
            "{err}"
        );
        assert!(l.check_classes(1001).is_ok());
        assert_eq!(l.get("a.npy").unwrap().file, "a.png");
        assert!(l.get("c.png").is_none());
    }
}
