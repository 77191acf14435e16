//! The layers run one way: every `crate::` path in `src/` (outside test code) names a module
//! below the one it is in, in the order `anomalog::LAYERS` declares, and every module is in it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::util;

/// The top-level module a source file belongs to (`src/frame/part.rs` -> `frame`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let top = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    top.trim_end_matches(".rs").to_string()
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every top-level module named by `crate::` paths in `code` (`use crate::{a, b::c}` too).
fn uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            for item in group.split(',') {
                let w = word(item.trim());
                if !w.is_empty() && w != "self" && w.starts_with(|c: char| c.is_lowercase()) {
                    out.insert(w);
                }
            }
        } else {
            let w = word(rest);
            if w.starts_with(|c: char| c.is_lowercase()) {
                out.insert(w);
            }
        }
    }
    out
}

#[test]
fn the_layers_run_one_way() {
    let src = util::root().join("src");
    let order: BTreeMap<&str, usize> = anomalog::LAYERS
        .iter()
        .enumerate()
        .map(|(i, m)| (*m, i))
        .collect();
    let mut against = Vec::new();
    let mut modules = BTreeSet::new();
    for e in walkdir::WalkDir::new(&src).into_iter().flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let m = module_of(&src, p);
        if m == "lib" || m == "main" {
            continue;
        }
        modules.insert(m.clone());
        let Some(&level) = order.get(m.as_str()) else {
            continue;
        };
        for used in uses(&code(&std::fs::read_to_string(p).unwrap())) {
            if used == m {
                continue;
            }
            match order.get(used.as_str()) {
                Some(&l) if l < level => {}
                _ => against.push(format!("{} ({m}) uses {used}", p.display())),
            }
        }
    }
    let undeclared: Vec<&String> = modules
        .iter()
        .filter(|m| !order.contains_key(m.as_str()))
        .collect();
    assert!(
        undeclared.is_empty(),
        "modules not in LAYERS: {undeclared:?}"
    );
    assert!(
        against.is_empty(),
        "edges against the layers:\n{}",
        against.join("\n")
    );
}

#[test]
fn the_check_sees_an_edge_against_the_order() {
    // The reader of `use` lines itself: what it must find.
    let found = uses(&code(
        "use crate::frame::Dataset;\nuse crate::{app, model::Ranking};\n// crate::ui\nlet x = crate::cli::run;\n#[cfg(test)]\nuse crate::tui;",
    ));
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["app", "cli", "frame", "model"]
    );
}
