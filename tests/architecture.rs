//! The crate's structure, checked: data flows downhill, so no module imports one that imports it
//! back (no import loop, at the level of files), and the flows never climb back to the router.
//! Read from the `crate::` and `super::` paths in each file's non-test code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every source file's module path (`sources::github`, `api`, ...) and its text before any
/// `#[cfg(test)]`.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if parts.last().is_some_and(|last| last == "mod") {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
                out.insert(parts.join("::"), code);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out.remove("lib");
    out.remove("build");
    out
}

/// The modules `code` (in module `module`, a `mod.rs` when `is_dir`) refers to.
fn references(module: &str, code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let path_re = regex_lite::Regex::new(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)").unwrap();
    let group_re = regex_lite::Regex::new(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)*)::\{([^}]*)\}").unwrap();
    let parent: Vec<&str> = module.split("::").collect();
    let base_of = |anchor: &str| -> Vec<String> {
        match anchor {
            "crate" => Vec::new(),
            // `super` of a file module is its parent; of a `mod.rs`, the parent's parent. Both are
            // the module path less its last part here, since a mod.rs is named by its folder.
            _ => parent[..parent.len().saturating_sub(1)].iter().map(|s| s.to_string()).collect(),
        }
    };
    let resolve = |parts: Vec<String>| -> Option<String> {
        (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|candidate| known.contains(candidate))
    };
    let mut found = BTreeSet::new();
    for capture in path_re.captures_iter(code) {
        let mut parts = base_of(&capture[1]);
        parts.extend(capture[2].split("::").filter(|p| !p.is_empty()).map(str::to_string));
        found.extend(resolve(parts));
    }
    for capture in group_re.captures_iter(code) {
        let mut prefix = base_of(&capture[1]);
        prefix.extend(capture[2].split("::").filter(|p| !p.is_empty()).map(str::to_string));
        for item in capture[3].split(',') {
            let mut parts = prefix.clone();
            parts.extend(item.trim().split("::").filter(|p| !p.is_empty() && *p != "self").map(str::to_string));
            found.extend(resolve(parts));
        }
    }
    found.remove(module);
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules.iter().map(|(module, code)| (module.clone(), references(module, code, &known))).collect()
}

/// The import loops of `graph`: its strongly connected components of more than one module.
fn loops(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then collect components on the reversed graph.
    fn finish(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) {
        if !seen.insert(node.to_string()) {
            return;
        }
        for next in graph.get(node).into_iter().flatten() {
            finish(next, graph, seen, order);
        }
        order.push(node.to_string());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for node in graph.keys() {
        finish(node, graph, &mut seen, &mut order);
    }
    let mut reversed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in graph {
        for to in tos {
            reversed.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut components = Vec::new();
    for node in order.iter().rev() {
        let mut component = Vec::new();
        finish(node, &reversed, &mut assigned, &mut component);
        if component.len() > 1 {
            component.sort();
            components.push(component);
        }
    }
    components
}

#[test]
fn the_check_finds_a_loop_and_accepts_a_chain() {
    let edges = |pairs: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in pairs {
            graph.entry(from.to_string()).or_default().insert(to.to_string());
            graph.entry(to.to_string()).or_default();
        }
        graph
    };
    assert_eq!(loops(&edges(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])), vec![vec!["a", "b", "c"]]);
    assert!(loops(&edges(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
    let known: BTreeSet<String> = ["app", "error", "http", "sources", "sources::github"].map(String::from).into();
    let code = "use crate::{error::Error, http::Request};\nuse super::Provider;\nfn f() { crate::app::x() }";
    assert_eq!(
        references("sources::github", code, &known),
        ["app", "error", "http", "sources"].map(String::from).into()
    );
}

#[test]
fn the_crate_has_no_import_loop() {
    let graph = graph();
    assert!(graph.len() > 40, "read the source files ({})", graph.len());
    let found = loops(&graph);
    assert!(found.is_empty(), "import loops (each list imports itself back): {found:#?}");
}

/// Files that may name storage keys or call the store: the catalog that owns them, the store and
/// its sealing layer, the context that hands the store to the catalog, the shell that builds it,
/// and the native test support.
const STORE_OWNERS: [&str; 5] = ["catalog", "store", "sealed", "context", "testing"];

#[test]
fn only_the_catalog_names_storage_keys_or_calls_the_store() {
    let touches = regex_lite::Regex::new(r"\bkeys::|\.store\.(get|put|delete|list)").unwrap();
    let mut offenders = Vec::new();
    for (module, code) in modules() {
        let owner = STORE_OWNERS.iter().any(|o| module == *o || module.starts_with(&format!("{o}::")));
        if owner || module.starts_with("edge") {
            continue;
        }
        let code: String =
            code.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        if touches.is_match(&code) {
            offenders.push(module);
        }
    }
    assert!(offenders.is_empty(), "these go around the catalog to the store: {offenders:?}");
}

#[test]
fn the_flows_and_handlers_never_reach_back_to_the_router() {
    // Above the router: the shell (`edge`), which hands it requests, and the native test support.
    let above = ["router", "edge", "testing"];
    let graph = graph();
    let climbing: Vec<&String> = graph
        .iter()
        .filter(|(module, refs)| !above.contains(&module.as_str()) && refs.contains("router"))
        .map(|(module, _)| module)
        .collect();
    assert!(climbing.is_empty(), "modules that import the router: {climbing:?}");
}
