//! The committed schema is the generated one.

#[test]
fn committed_schema_is_up_to_date() {
    let generated = serde_json::to_string_pretty(&ocp_aws::app::schema()).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/pillar.schema.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/pillar.schema.json is stale: run `cargo run -q -- schema > schema/pillar.schema.json`"
    );
}

#[test]
fn every_field_is_described() {
    let schema = ocp_aws::app::schema();
    let mut missing = Vec::new();
    walk(&schema, "", &mut missing);
    assert!(missing.is_empty(), "fields without a description: {missing:?}");
}

fn walk(v: &serde_json::Value, path: &str, missing: &mut Vec<String>) {
    if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
        for (k, p) in props {
            if p.get("description").is_none() {
                missing.push(format!("{path}.{k}"));
            }
            walk(p, &format!("{path}.{k}"), missing);
        }
    }
    if let Some(defs) = v.get("$defs").and_then(|d| d.as_object()) {
        for (k, d) in defs {
            walk(d, k, missing);
        }
    }
}

#[test]
fn the_salt_state_module_offers_every_kind_the_binary_has() {
    let shim = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/salt/_states/ocp_aws.py")).unwrap();
    let start = shim.find("KINDS = (").expect("a KINDS tuple in the state module");
    let end = start + shim[start..].find(')').unwrap();
    let in_python: Vec<&str> = shim[start..end].split('"').skip(1).step_by(2).collect();
    let in_binary: Vec<&str> = ocp_aws::resources::KindId::ALL.iter().map(|k| k.id()).collect();
    assert_eq!(in_python, in_binary, "salt/_states/ocp_aws.py KINDS must list the binary's kinds, in order");
}

#[test]
fn the_formula_has_a_sub_state_for_every_service() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/salt/ocp_aws");
    // Every sub-state is the same file: it renders the service it is named after.
    let template = std::fs::read_to_string(format!("{dir}/s3.sls")).unwrap();
    for kind in ocp_aws::resources::KindId::ALL {
        let path = format!("{dir}/{}.sls", kind.service());
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(text, template, "{path} must exist and be a copy of salt/ocp_aws/s3.sls");
    }
}
