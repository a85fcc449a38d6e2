//! IAM policy documents: the runbook's bucket-access policy, parsing what IAM returns, and the
//! normal form in which two documents that mean the same thing compare equal.

use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

/// Elements whose value may be one string or a list of strings, in any order.
const LISTS: [&str; 4] = ["Action", "NotAction", "Resource", "NotResource"];

/// The runbook's backup policy: list the bucket, and put, get and delete its objects.
pub fn bucket_access(partition: &str, bucket: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:{partition}:s3:::{bucket}")},
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                "Resource": format!("arn:{partition}:s3:::{bucket}/*")
            }
        ]
    })
}

/// Parses a document as IAM returns it: URL-encoded JSON.
pub fn from_iam(text: &str) -> Result<Value, String> {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        percent_decode_str(text).decode_utf8().map_err(|e| e.to_string())?.into_owned()
    };
    serde_json::from_str(&decoded).map_err(|e| format!("IAM returned a policy document that is not JSON: {e}"))
}

/// A document given in Pillar: a mapping, or a string of JSON.
pub fn from_pillar(value: &Value) -> Result<Value, String> {
    let doc = match value {
        Value::String(s) => serde_json::from_str(s).map_err(|e| format!("not valid JSON: {e}"))?,
        other => other.clone(),
    };
    let Some(map) = doc.as_object() else { return Err("expected a mapping or a JSON string".into()) };
    if !map.contains_key("Statement") {
        return Err("a policy document needs a `Statement`".into());
    }
    if let Some(v) = map.get("Version") {
        if v != "2012-10-17" && v != "2008-10-17" {
            return Err(format!("`Version` must be 2012-10-17 (or 2008-10-17), not {v}"));
        }
    }
    Ok(doc)
}

/// The normal form: one statement becomes a list of one; string-or-list elements become sorted
/// lists without duplicates; statements are sorted. Key order never matters (maps compare as maps).
pub fn normalize(doc: &Value) -> Value {
    let Value::Object(map) = doc else { return doc.clone() };
    let mut out = Map::new();
    for (k, v) in map {
        let v = match k.as_str() {
            "Statement" => {
                let mut statements: Vec<Value> = as_list(v).iter().map(normalize_statement).collect();
                statements.sort_by_key(|s| s.to_string());
                Value::Array(statements)
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

fn normalize_statement(statement: &Value) -> Value {
    let Value::Object(map) = statement else { return statement.clone() };
    let mut out = Map::new();
    for (k, v) in map {
        let v = if LISTS.contains(&k.as_str()) {
            string_set(v)
        } else if k == "Principal" || k == "NotPrincipal" {
            match v {
                Value::Object(p) => Value::Object(p.iter().map(|(pk, pv)| (pk.clone(), string_set(pv))).collect()),
                other => other.clone(),
            }
        } else if k == "Condition" {
            match v {
                Value::Object(ops) => Value::Object(
                    ops.iter()
                        .map(|(op, keys)| {
                            let keys = match keys {
                                Value::Object(m) => {
                                    Value::Object(m.iter().map(|(ck, cv)| (ck.clone(), string_set(cv))).collect())
                                }
                                other => other.clone(),
                            };
                            (op.clone(), keys)
                        })
                        .collect(),
                ),
                other => other.clone(),
            }
        } else {
            v.clone()
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn string_set(v: &Value) -> Value {
    let mut items = as_list(v);
    items.sort_by_key(|s| s.to_string());
    items.dedup();
    Value::Array(items)
}

/// Whether two documents grant the same thing.
pub fn same(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runbook_policy() {
        let doc = bucket_access("aws", "ocp-redmine-backup");
        let s = &doc["Statement"];
        assert_eq!(s[0]["Action"], "s3:ListBucket");
        assert_eq!(s[0]["Resource"], "arn:aws:s3:::ocp-redmine-backup");
        assert_eq!(s[1]["Action"], json!(["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]));
        assert_eq!(s[1]["Resource"], "arn:aws:s3:::ocp-redmine-backup/*");
    }

    #[test]
    fn order_and_single_values_do_not_matter() {
        let a = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}});
        let b = json!({"Statement": [{"Resource": ["*"], "Action": ["s3:GetObject", "s3:GetObject"], "Effect": "Allow"}], "Version": "2012-10-17"});
        assert!(same(&a, &b));
        let c = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}});
        assert!(!same(&a, &c));
    }

    #[test]
    fn statement_order_does_not_matter() {
        let doc = bucket_access("aws", "b");
        let mut swapped = doc.clone();
        swapped["Statement"].as_array_mut().unwrap().reverse();
        assert!(same(&doc, &swapped));
    }

    #[test]
    fn reads_url_encoded_documents() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(from_iam(encoded).unwrap(), json!({"Version": "2012-10-17", "Statement": []}));
        assert_eq!(from_iam("{\"Statement\": []}").unwrap(), json!({"Statement": []}));
    }

    #[test]
    fn pillar_documents_are_checked() {
        assert!(from_pillar(&json!("{\"Statement\": []}")).is_ok());
        assert!(from_pillar(&json!("{not json")).unwrap_err().contains("not valid JSON"));
        assert!(from_pillar(&json!({"Version": "2012-10-17"})).unwrap_err().contains("Statement"));
        assert!(from_pillar(&json!({"Version": "2020", "Statement": []})).unwrap_err().contains("Version"));
    }
}
