//! The module layering of ARCHITECTURE.md ("Modules"), held to the code: a module uses only
//! modules of lower layers (and itself), so there is no import cycle and the kinds never reach up
//! into the Pillar or the scheduler.

use std::collections::BTreeSet;

/// Bottom to top; each entry may use only the entries before it.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["validate", "dns", "notification", "mail"],
    &["secrets", "strict", "postgres"],
    &["aws"],
    &["protocol"],
    &["kind"],
    &["reconcile"],
    &["resources"],
    &["pillar"],
    &["engine", "report", "adopt"],
    &["export"],
    &["app"],
];

fn layer(module: &str) -> usize {
    LAYERS.iter().position(|l| l.contains(&module)).unwrap_or_else(|| panic!("module {module} is in no layer"))
}

/// The crate modules a source file names (`crate::x`, `use crate::{x, ...}`, `super::` stays inside).
fn used(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or_default().split(',').collect(),
            None => vec![rest],
        };
        for name in names {
            let module: String = name.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !module.is_empty() && module.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                found.insert(module);
            }
        }
    }
    found
}

#[test]
fn no_module_uses_one_above_it() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut wrong = Vec::new();
    let mut files = vec![std::path::PathBuf::from(src)];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let relative = path.strip_prefix(src).unwrap().to_string_lossy().into_owned();
        let module = relative.split(['/', '.']).next().unwrap().to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests may reach wherever they need to.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for used in used(text) {
            // Macros exported at the crate root (`common_spec!`) are not modules.
            if used == module || text.contains(&format!("{used}!")) {
                continue;
            }
            if layer(&used) >= layer(&module) {
                wrong.push(format!("src/{relative} uses crate::{used}"));
            }
        }
    }
    assert!(wrong.is_empty(), "modules reaching up or sideways (see ARCHITECTURE.md, Modules): {wrong:#?}");
}

#[test]
fn the_check_sees_a_use_that_reaches_up() {
    assert!(used("use crate::pillar::Ensure;").contains("pillar"));
    assert!(used("use crate::{engine::Engine, kind};").contains("engine"));
    assert!(used("let x = crate::app::schema();").contains("app"));
    assert!(!used("// crate::app in a comment").contains("app"));
}
