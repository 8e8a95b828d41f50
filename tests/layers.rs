//! The layer order stated in `src/lib.rs` is true: every `crate::` path in
//! `src/` (outside unit-test modules) goes from a module to one of its own layer
//! or below, the top-level modules' use graph has no cycle, and neither have
//! the sibling modules inside any module (e.g. `daemon::runner` and
//! `daemon::plan_runner`). A parent and its children may use each other: a
//! `mod.rs` is its children's interface. Run with `--nocapture` to see the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The one edge of a known sibling cycle left out of the check (see below).
const KNOWN_SIBLING_CYCLE: [(&str, &str); 1] = [(
    "engine::tract::tflite::coverage",
    "engine::tract::tflite::tract_0_23_9",
)];

/// `| N name | `a`, `b` |` rows of lib.rs's module map -> module -> layer.
fn layers(lib: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | ") else {
            continue;
        };
        let Some(n) = row.split_whitespace().next().and_then(|n| n.parse().ok()) else {
            continue;
        };
        for (i, part) in row.split('`').enumerate() {
            if i % 2 == 1 {
                out.insert(part.to_string(), n);
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` -> ["a", "b"].
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(SRC).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

/// The code without comments, string contents and `#[cfg(test)] mod x { .. }`
/// (unit tests may build fixtures from any layer).
fn code_only(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    // Strings: drop their contents (paths in messages are not uses).
    let mut clean = String::new();
    let mut in_str = false;
    let mut prev = ' ';
    for c in out.chars() {
        if c == '"' && prev != '\\' && prev != '\'' {
            in_str = !in_str;
            clean.push(c);
        } else if !in_str {
            clean.push(c);
        }
        prev = if prev == '\\' && c == '\\' { ' ' } else { c };
    }
    if let Some(i) = clean.find("#[cfg(test)]\nmod ") {
        let rest = &clean[i..];
        if rest
            .lines()
            .nth(1)
            .is_some_and(|l| l.trim_end().ends_with('{'))
        {
            clean.truncate(i);
        }
    }
    clean
}

/// Expands a use tree (`a::{b, c::{d}}`) into paths.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim_end_matches("::").trim();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let base = join(prefix, head);
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&base, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&base, &inner[start..], out);
    } else {
        let item = tree.split(" as ").next().unwrap().trim();
        if !item.is_empty() {
            out.push(join(prefix, item));
        }
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}::{b}"),
    }
}

/// Every module path a file's code names: `crate::a::b`, `super::x`, and use
/// trees starting with either; relative to the file's module.
fn referenced(code: &str, me: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(root) {
            let at = from + i;
            from = at + root.len();
            let before = code[..at].chars().last().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == ':' {
                continue;
            }
            let rest = &code[from..];
            let tree = if rest.starts_with('{') {
                let mut depth = 0;
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '{' => depth += 1,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .map_or(rest.len(), |(i, _)| i + 1);
                &rest[..end]
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(rest.len());
                rest[..end].trim_end_matches(':')
            };
            let mut expanded = Vec::new();
            expand("", tree, &mut expanded);
            for p in expanded {
                let mut full: Vec<String> = if root == "super::" {
                    me[..me.len().saturating_sub(1)].to_vec()
                } else {
                    Vec::new()
                };
                full.extend(p.split("::").map(str::to_string));
                paths.push(full);
            }
        }
    }
    paths
}

/// The longest prefix of `path` that is a module of the crate.
fn target(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|s| s == n).unwrap();
                let mut cycle = stack[start..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g_keys(graph) {
        if let Some(c) = visit(&n, graph, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn g_keys(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    g.keys().cloned().collect()
}

#[test]
fn modules_use_only_their_layer_and_below_without_cycles() {
    let lib = std::fs::read_to_string(Path::new(SRC).join("lib.rs")).unwrap();
    let layer = layers(&lib);
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let mapped: BTreeSet<String> = layer.keys().cloned().collect();
    assert_eq!(
        declared, mapped,
        "lib.rs's module map must list exactly the modules lib.rs declares"
    );

    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    files.sort();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut siblings: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();
    for f in &files {
        let me = module_of(f);
        // The binary and the crate root sit above every layer.
        if me == ["main"] || me == ["lib"] || me.last().is_some_and(|l| l == "tests") {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        for path in referenced(&code, &me) {
            let Some(to) = target(&path, &modules) else {
                continue;
            };
            let (a, b) = (&me[0], &to[0]);
            if a != b {
                top.entry(a.clone()).or_default().insert(b.clone());
                if layer[b] > layer[a] {
                    upward.push(format!(
                        "{} (layer {}) uses {} (layer {})",
                        me.join("::"),
                        layer[a],
                        to.join("::"),
                        layer[b]
                    ));
                }
            }
            // Siblings: same parent, neither the other's ancestor.
            let common = me.iter().zip(&to).take_while(|(x, y)| x == y).count();
            if common < me.len() && common < to.len() && common > 0 {
                let from = me[..=common].join("::");
                let into = to[..=common].join("::");
                siblings.entry(from).or_default().insert(into);
            }
        }
    }
    println!("module -> modules it uses (layer in brackets):");
    for (m, uses) in &top {
        let list: Vec<String> = uses.iter().map(|u| format!("{u}[{}]", layer[u])).collect();
        println!("  {m}[{}] -> {}", layer[m], list.join(", "));
    }
    // Known sibling cycle, reported to its owner (issue 13 item 5): the TFLite
    // rewrite pass's dispatcher and the coverage ops share helpers both ways.
    // Any other cycle fails; remove this entry once they are split.
    for (from, into) in KNOWN_SIBLING_CYCLE {
        if let Some(set) = siblings.get_mut(from) {
            set.remove(into);
        }
    }
    let top_cycle = find_cycle(&top);
    let sibling_cycle = find_cycle(&siblings);
    println!(
        "upward edges: {}; top-level cycle: {:?}; sibling cycle: {:?}",
        upward.len(),
        top_cycle,
        sibling_cycle
    );
    assert!(upward.is_empty(), "upward uses:\n{}", upward.join("\n"));
    assert_eq!(top_cycle, None, "use cycle between top-level modules");
    assert_eq!(sibling_cycle, None, "use cycle between sibling modules");
}

#[test]
fn the_parser_finds_use_trees_and_paths() {
    let code = code_only(
        "use crate::{a::{b, c as d}, e};\nfn f() { crate::g::h(); super::i::j(); }\n\
         // crate::comment\nlet s = \"crate::string\";\n#[cfg(test)]\nmod tests {\n use crate::t;\n}\n",
    );
    let me = vec!["x".to_string(), "y".to_string()];
    let got: Vec<String> = referenced(&code, &me)
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(got, ["a::b", "a::c", "e", "g::h", "x::i::j"]);
}
