//! Bounded fuzzing of the two parsers that take outside input: Pillar files and `stdio` requests.
//! The property: no panic, and what is refused is refused as invalid input, with a message.
//! `make test` runs the default number of cases (256); `make fuzz` runs many more
//! (`PROPTEST_CASES`).

use ocp_aws::{app, pillar, Error};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};

/// Words a Pillar is made of, so that generated documents get past the first key often.
const WORDS: &[&str] = &[
    "ocp_aws",
    "region",
    "s3",
    "buckets",
    "iam",
    "users",
    "groups",
    "policies",
    "ses",
    "domains",
    "email_addresses",
    "smtp_credentials",
    "account",
    "ensure",
    "present",
    "absent",
    "lifecycle",
    "id",
    "expire_days",
    "abort_incomplete_multipart_days",
    "noncurrent_expire_days",
    "access_key",
    "secret_file",
    "pillar_key",
    "rotate",
    "bucket_access",
    "document",
    "mail_from",
    "wait",
    "zone",
    "regions",
    "eu-west-2",
    "us-east-1",
    "ocp-bucket",
    "example.org",
    "a@example.org",
    "/srv/a.sls",
    "arn:aws:iam::aws:policy/x",
    "99999999999999999h",
    "15m",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((word(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A document's text: JSON or YAML of a generated value under `ocp_aws`, sometimes damaged
/// (a line repeated, which makes duplicate keys; a cut; a stray character), or any text at all.
fn document() -> impl Strategy<Value = String> {
    let shaped = (value(), any::<bool>(), 0usize..4, any::<prop::sample::Index>(), any::<char>()).prop_map(
        |(v, yaml, damage, at, c)| {
            let doc = json!({ "ocp_aws": v });
            let text = if yaml { serde_yaml::to_string(&doc).unwrap_or_default() } else { doc.to_string() };
            let lines: Vec<&str> = text.lines().collect();
            match damage {
                0 => text,
                1 if !lines.is_empty() => {
                    let i = at.index(lines.len());
                    let mut out = lines.clone();
                    out.insert(i, lines[i]);
                    out.join("\n")
                }
                2 => text.chars().take(at.index(text.chars().count() + 1)).collect(),
                _ => {
                    let mut chars: Vec<char> = text.chars().collect();
                    chars.insert(at.index(chars.len() + 1), c);
                    chars.into_iter().collect()
                }
            }
        },
    );
    prop_oneof![4 => shaped, 1 => any::<String>()]
}

fn runner() -> TestRunner {
    // Config::default() reads PROPTEST_CASES; nothing is written next to the sources.
    TestRunner::new(Config { failure_persistence: None, ..Config::default() })
}

#[test]
fn the_pillar_parser_never_panics_and_refuses_with_a_message() {
    runner()
        .run(&document(), |text| {
            let result = pillar::from_document(&text).and_then(|v| pillar::plan(&v, None));
            match result {
                Ok(_) => {}
                Err(Error::Invalid(all)) => {
                    prop_assert!(!all.is_empty());
                    for e in &all {
                        prop_assert!(!e.message.is_empty() || !e.path.is_empty(), "{e:?}");
                    }
                }
                Err(other) => prop_assert!(false, "not an Invalid error: {other}"),
            }
            Ok(())
        })
        .unwrap();
}

/// A request that never reaches AWS: the pure `call` functions, and unknown ops or functions.
fn request() -> impl Strategy<Value = String> {
    let function = proptest::sample::select(&["validate", "expand", "schema", "smtp_password", "nope", ""][..]);
    let op = proptest::sample::select(&["call", "call", "call", "unknown", ""][..]);
    let shaped = (op, function, value(), any::<bool>(), 0i64..3).prop_map(|(op, function, params, dup, version)| {
        let text = json!({"version": version, "op": op, "function": function, "params": params}).to_string();
        // A repeated key, as a hand-written request may have.
        if dup {
            text.replacen("{\"version\"", "{\"version\":1,\"version\"", 1)
        } else {
            text
        }
    });
    prop_oneof![4 => shaped, 1 => any::<String>()]
}

#[test]
fn the_request_parser_never_panics_and_answers_invalid_requests_with_status_2() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runner()
        .run(&request(), |text| {
            let outcome = runtime.block_on(app::handle(text.as_bytes()));
            prop_assert!([app::EXIT_OK, app::EXIT_INVALID].contains(&outcome.status), "status {}", outcome.status);
            if outcome.status == app::EXIT_INVALID {
                prop_assert!(!comment_of(&outcome).is_empty(), "{}", outcome.to_json());
            }
            // Answers quote what they refuse in bounded form.
            prop_assert!(outcome.to_json().len() < text.len() + 64 * 1024);
            Ok(())
        })
        .unwrap();
}

/// The comment of an answer: a state return's, a call's, or the first of a converge's returns.
fn comment_of(outcome: &app::Outcome) -> String {
    let answer: serde_json::Value = serde_json::from_str(&outcome.to_json()).unwrap();
    let answer = if answer.is_array() { answer[0].clone() } else { answer };
    answer["comment"].as_str().unwrap_or_default().to_string()
}

/// Known answers, so that the properties above are seen to hold for the right reason.
#[test]
fn a_duplicate_request_key_is_refused_with_status_2() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let handle = |text: &str| runtime.block_on(app::handle(text.as_bytes()));
    let outcome = handle(r#"{"version": 1, "version": 1, "op": "call", "function": "schema"}"#);
    assert_eq!(outcome.status, app::EXIT_INVALID, "{}", outcome.to_json());
    assert!(comment_of(&outcome).contains("request.version"), "{}", outcome.to_json());
    let outcome = handle(r#"{"version": 1, "op": "call", "function": "schema"}"#);
    assert_eq!(outcome.status, app::EXIT_OK);
    let outcome = handle(r#"{"version": 1, "op": "call", "params": [1, 2]}"#);
    assert_eq!(outcome.status, app::EXIT_INVALID, "{}", outcome.to_json());
}
