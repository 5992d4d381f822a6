//! The module graph stays a ladder: no folder of `src/` imports another that imports it back
//! (directly or round a longer circle), no two files do, and `config/` imports nothing of
//! ours. Reads the `use crate::…` and `super::…` paths of every source file (test modules
//! and comments left out) and looks for strongly connected components.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// A module path (`["watch", "gpu"]`) for every file under src/.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && path != src.join("main.rs") {
                // main.rs is the binary: it reaches the library as `clawvisor::`.
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                out.insert(parts, path);
            }
        }
    }
    out
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests` block.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module a file refers to, resolved to the longest known module prefix.
fn edges(mods: &BTreeMap<Vec<String>, PathBuf>) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let path_re = Regex::new(r"\b(crate|super)((?:::\{?[A-Za-z_][A-Za-z0-9_]*)+)").unwrap();
    let mut out: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
    for (m, file) in mods {
        let is_dir_module = file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        // `super` from a/b.rs is `a`; from a/mod.rs it is the parent of `a`.
        let parent: Vec<String> = if is_dir_module {
            m[..m.len().saturating_sub(1)].to_vec()
        } else {
            m[..m.len() - 1].to_vec()
        };
        for c in path_re.captures_iter(&code(file)) {
            let segs: Vec<String> = c[2]
                .replace('{', "")
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let full = if &c[1] == "crate" {
                segs
            } else {
                [parent.clone(), segs].concat()
            };
            let target = (1..=full.len())
                .rev()
                .map(|n| full[..n].to_vec())
                .find(|p| mods.contains_key(p));
            if let Some(t) = target
                && &t != m
                && !t.is_empty()
            {
                out.entry(m.clone()).or_default().insert(t);
            }
        }
    }
    out
}

/// Strongly connected components with more than one node (Tarjan).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        found: Vec<Vec<String>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: &str) {
            let i = self.index.len();
            self.index.insert(v.into(), i);
            self.low.insert(v.into(), i);
            self.stack.push(v.into());
            for w in self.g.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|x| x == v).unwrap();
                let comp = self.stack.split_off(at);
                if comp.len() > 1 {
                    self.found.push(comp);
                }
            }
        }
    }
    let mut t = Tarjan {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    t.found
}

fn graph_at(
    e: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    level: impl Fn(&[String]) -> String,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, bs) in e {
        for b in bs {
            let (la, lb) = (level(a), level(b));
            if la != lb {
                g.entry(la).or_default().insert(lb);
            }
        }
    }
    g
}

/// What breaks the ladder in a source tree, in words; empty when nothing does.
fn ladder_problems(src: &Path) -> Vec<String> {
    let mods = modules(src);
    let e = edges(&mods);
    let mut out = Vec::new();
    let found: usize = e.values().map(BTreeSet::len).sum();
    if found < 100 {
        out.push(format!(
            "only {found} imports found: the reader is not working"
        ));
    }
    let folders = graph_at(&e, |m| m[0].clone());
    let files = graph_at(&e, |m| m.join("::"));
    for c in circles(&folders) {
        out.push(format!("folders import each other: {c:?}"));
    }
    for c in circles(&files) {
        out.push(format!("files import each other: {c:?}"));
    }
    if let Some(uses) = folders.get("config") {
        out.push(format!("config/ imports {uses:?}"));
    }
    out
}

#[test]
fn no_folder_or_file_imports_one_that_imports_it_back() {
    let problems = ladder_problems(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_planted_back_import_is_found() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let copy = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(status.success());
    let planted = copy.path().join("src/config/gateway.rs");
    let text = std::fs::read_to_string(&planted).unwrap();
    std::fs::write(&planted, format!("use crate::runtime::Runner;\n{text}")).unwrap();
    let problems = ladder_problems(&copy.path().join("src"));
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("folders import each other") && p.contains("runtime")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("config/ imports") && p.contains("runtime")),
        "{problems:#?}"
    );
}

#[test]
fn the_reader_sees_a_circle_when_there_is_one() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    let mut found = circles(&g);
    found.iter_mut().for_each(|c| c.sort());
    assert_eq!(found, vec![vec!["a", "b", "c"]]);
}
