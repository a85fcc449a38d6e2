//! The binary itself: the stdio protocol's exit statuses, invalid Pillar, the CLI commands.

use serde_json::{json, Value};

use crate::support::{binary, binary_as, endpoint, recorded, temp_dir, unique, unique_keyid};

fn request(op: &str, extra: Value) -> String {
    let mut r = json!({"version": 1, "op": op, "connection": {"endpoint_url": endpoint(), "keyid": "testing", "key": "testing"}});
    r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    r.to_string()
}

#[test]
fn stdio_state_present_test_mode_then_apply_then_absent() {
    let bucket = unique("stdio");
    let state = |action: &str, test: bool| {
        request(
            "state",
            json!({"kind": "s3.bucket", "action": action, "name": bucket, "params": {"region": "eu-west-2"}, "test": test}),
        )
    };
    let (status, out, _) = binary(&["stdio"], &state("present", true));
    let ret: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((status, &ret["result"]), (0, &Value::Null), "{out}");
    assert_eq!(ret["comment"], format!("S3 bucket {bucket} is set to be created."));
    let (status, out, _) = binary(&["stdio"], &state("present", false));
    let ret: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((status, &ret["result"]), (0, &json!(true)), "{out}");
    assert_eq!(ret["changes"]["new"]["region"], "eu-west-2");
    let (_, out, _) = binary(&["stdio"], &state("present", false));
    let ret: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ret["changes"], json!({}), "{out}");
    let (status, out, _) = binary(&["stdio"], &state("absent", false));
    let ret: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((status, ret["comment"].as_str().unwrap()), (0, format!("S3 bucket {bucket} deleted.").as_str()));
}

#[test]
fn invalid_pillar_exits_2_naming_the_path_before_any_aws_call() {
    // The endpoint is a closed port: any AWS call would fail differently.
    let pillar =
        json!({"s3": {"buckets": {"ocp-redmine-backup": {"lifecycle": [{"id": "x", "expire_days": "thirty"}]}}}});
    let req =
        json!({"version": 1, "op": "converge", "params": pillar, "connection": {"endpoint_url": "http://127.0.0.1:9"}});
    let (status, out, _) = binary(&["stdio"], &req.to_string());
    assert_eq!(status, 2, "{out}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let comment = list[0]["comment"].as_str().unwrap();
    assert_eq!(list[0]["result"], false);
    assert!(comment.contains("ocp_aws.s3.buckets.ocp-redmine-backup.lifecycle[0].expire_days"), "{comment}");
    assert!(comment.contains("expected a whole number"), "{comment}");

    // A typo in a field name is an error, not a default.
    let typo = json!({"version": 1, "op": "state", "kind": "s3.bucket", "action": "present", "name": "ocp-x", "params": {"lifecycel": []}});
    let (status, out, _) = binary(&["stdio"], &typo.to_string());
    assert_eq!(status, 2);
    assert!(out.contains("ocp_aws.s3.buckets.ocp-x") && out.contains("unknown field `lifecycel`"), "{out}");

    // A state's nameservers are checked like the Pillar's, before any AWS call.
    let ns = json!({"version": 1, "op": "state", "kind": "s3.bucket", "action": "present", "name": "ocp-x", "nameservers": ["127.0.0.1:53", "resolver.example"]});
    let (status, out, _) = binary(&["stdio"], &ns.to_string());
    assert_eq!(status, 2, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["name"].as_str(), v["result"].as_bool()), (Some("ocp-x"), Some(false)), "{v}");
    assert!(v["comment"].as_str().unwrap().contains("request.nameservers[1]"), "{v}");

    // Several semantic errors are all reported, each with its path.
    let refs = json!({
        "iam": {
            "users": {
                "u": {"policies": ["nope"], "groups": ["none"], "access_key": {"secret_file": "/srv/k.sls"}},
                "v": {"access_key": {"secret_file": "/srv/k.sls", "pillar_key": "v"}}
            },
            "policies": {"p": {}}
        }
    });
    let req = json!({"version": 1, "op": "call", "function": "validate", "params": refs});
    let (status, out, _) = binary(&["stdio"], &req.to_string());
    assert_eq!(status, 2, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["result"], false);
    assert!(v["comment"].as_str().unwrap().contains("ocp_aws.iam.users.u.policies[0]"), "{v}");
    let errors: Vec<&str> = v["return"]["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(v["return"]["valid"], false);
    assert!(
        errors.iter().any(|e| e.starts_with("ocp_aws.iam.users.u.policies[0]: names iam.policy `nope`")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with("ocp_aws.iam.users.u.groups[0]: names iam.group `none`")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.starts_with("ocp_aws.iam.policies.p: give bucket_access")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.starts_with("ocp_aws.iam.users.v.access_key.secret_file: /srv/k.sls is shared with")),
        "{errors:?}"
    );
}

#[test]
fn unreadable_requests_exit_2_with_a_json_answer() {
    for bad in [
        "not json",
        "{\"version\": 2, \"op\": \"state\"}",
        "{\"version\": 1, \"op\": \"frobnicate\"}",
        "{\"version\": 1, \"op\": \"state\", \"kind\": \"s3.bucket\", \"name\": \"ocp-b\"}",
    ] {
        let (status, out, _) = binary(&["stdio"], bad);
        assert_eq!(status, 2, "{bad}: {out}");
        let ret: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("JSON for {bad}: {out}"));
        assert_eq!(ret["result"], false);
    }
}

#[test]
fn expand_lists_salt_states_in_order_with_requisites() {
    let pillar = json!({"region": "eu-west-2", "s3": {"buckets": {"ocp-b": {}}}, "iam": {"policies": {"p": {"bucket_access": "ocp-b"}}}});
    let req = json!({"version": 1, "op": "call", "function": "expand", "params": pillar});
    let (status, out, _) = binary(&["stdio"], &req.to_string());
    assert_eq!(status, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["return"]["states"],
        json!([
            {"id": "s3.bucket ocp-b", "function": "s3_bucket_present", "name": "ocp-b", "service": "s3", "params": {"region": "eu-west-2"}, "require": []},
            {"id": "iam.policy p", "function": "iam_policy_present", "name": "p", "service": "iam", "params": {"bucket_access": "ocp-b", "region": "eu-west-2"}, "require": ["s3.bucket ocp-b"]}
        ])
    );
}

#[test]
fn plan_apply_and_validate_commands_on_the_example() {
    for example in ["backup.yaml", "ses.yaml", "notifications.yaml", "rds.yaml"] {
        let path = format!("{}/examples/{example}", env!("CARGO_MANIFEST_DIR"));
        let (status, out, err) = binary(&["validate", "-f", &path], "");
        assert_eq!(status, 0, "{out}{err}");
    }
    let bad = std::env::temp_dir().join(format!("{}.yaml", unique("bad")));
    std::fs::write(&bad, "ocp_aws:\n  s3:\n    buckets:\n      Bad_Name: {}\n").unwrap();
    let (status, _, err) = binary(&["validate", "-f", bad.to_str().unwrap()], "");
    assert_eq!(status, 2);
    assert!(err.contains("ocp_aws.s3.buckets.Bad_Name: `Bad_Name` is not a valid S3 bucket name"), "{err}");
    let (status, out, _) = binary(&["schema"], "");
    assert_eq!(status, 0);
    assert!(out.contains("\"ocp_aws\""));

    // The backup example, under names of this run, planned then applied twice against moto.
    let (bucket, user) = (unique("ocp-example"), unique("example-user"));
    let dir = temp_dir("example");
    let example = std::fs::read_to_string(format!("{}/examples/backup.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let pillar = example
        .replace("ocp-redmine-backup", &bucket)
        .replace("redmine-backup", &user)
        .replace("/tmp/ocp-aws-demo", dir.to_str().unwrap());
    let file = dir.join("backup.yaml");
    std::fs::write(&file, pillar).unwrap();
    let run = |command: &str| {
        let keyid = unique_keyid();
        let (status, out, err) =
            binary_as(&keyid, &[command, "-f", file.to_str().unwrap(), "--endpoint-url", endpoint()], "");
        let summary = out.lines().last().unwrap_or_default().to_string();
        let calls = recorded(&keyid);
        let reads = calls.iter().filter(|c| c.read).count();
        (status, summary, reads, calls.len() - reads, err)
    };
    let (status, summary, reads, writes, err) = run("plan");
    assert_eq!(status, 0, "{summary}{err}");
    assert_eq!(writes, 0, "plan never writes");
    assert_eq!(
        summary,
        format!("3 resources: 0 changed, 3 pending, 0 unchanged, 0 failed. AWS calls: {reads} reads, 0 writes.")
    );
    // The summary's counts are the tool's; moto's recorder checks them.
    let (status, summary, reads, writes, err) = run("apply");
    assert_eq!(status, 0, "{summary}{err}");
    assert!(writes >= 5, "bucket, public access block, lifecycle, policy, user, key: {writes}");
    assert_eq!(
        summary,
        format!("3 resources: 3 changed, 0 pending, 0 unchanged, 0 failed. AWS calls: {reads} reads, {writes} writes.")
    );
    let (status, summary, reads, writes, err) = run("apply");
    assert_eq!((status, writes), (0, 0), "{summary}{err}");
    assert_eq!(
        summary,
        format!("3 resources: 0 changed, 0 pending, 3 unchanged, 0 failed. AWS calls: {reads} reads, 0 writes.")
    );
    let secret: Value = serde_yaml::from_str(
        &std::fs::read_to_string(dir.join("private/redmine_backup_aws.sls")).expect("the key's secret file"),
    )
    .unwrap();
    assert!(secret["backup"]["aws_access_key_id"].is_string());

    // A failed resource fails its dependants: exit status 1, all counted. The bucket is in another region.
    let elsewhere = std::fs::read_to_string(&file).unwrap().replace("region: eu-west-2", "region: eu-central-1");
    std::fs::write(&file, elsewhere).unwrap();
    let (status, summary, _, writes, err) = run("apply");
    assert_eq!((status, writes), (1, 0), "{summary}{err}");
    assert!(summary.starts_with("3 resources: 0 changed, 0 pending, 0 unchanged, 3 failed."), "{summary}");
}

#[test]
fn schema_survives_a_reader_that_stops_early_and_installs_with_an_absolute_modeline() {
    // `ocp-aws schema | head -1`: the pipe closes before the schema is written; that is no error.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("'{}' schema | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}", env!("CARGO_BIN_EXE_ocp-aws")))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));

    let data = temp_dir("schema-install");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ocp-aws"))
        .args(["schema", "--install"])
        .env("XDG_DATA_HOME", &data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let installed = data.join("ocp-aws/pillar.schema.json");
    let modeline = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(modeline, format!("# yaml-language-server: $schema={}", installed.display()));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&installed).unwrap()).unwrap();
    assert_eq!(schema, ocp_aws::app::schema());
}

#[test]
fn a_named_profile_wins_over_credentials_in_the_environment() {
    let (env_key, profile_key) = (unique_keyid(), unique_keyid());
    let dir = temp_dir("profile");
    let credentials = dir.join("credentials");
    std::fs::write(
        &credentials,
        format!("[other]\naws_access_key_id = {profile_key}\naws_secret_access_key = testing\n"),
    )
    .unwrap();
    let pillar = dir.join("pillar.yaml");
    std::fs::write(&pillar, format!("ocp_aws:\n  s3:\n    buckets:\n      {}: {{}}\n", unique("profile"))).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ocp-aws"))
        .args(["plan", "-f", pillar.to_str().unwrap(), "--profile", "other", "--endpoint-url", endpoint()])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &env_key)
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", dir.join("no-config"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!recorded(&profile_key).is_empty(), "requests are signed with the profile's key");
    assert!(recorded(&env_key).is_empty(), "never with the environment's");
}

#[test]
fn concurrency_bounds_how_many_requests_are_in_flight() {
    let dir = temp_dir("concurrency");
    let pillar = dir.join("pillar.yaml");
    let buckets: Vec<String> = (0..6).map(|_| unique("conc")).collect();
    let yaml: String = buckets.iter().map(|b| format!("      {b}: {{}}\n")).collect();
    std::fs::write(&pillar, format!("ocp_aws:\n  s3:\n    buckets:\n{yaml}")).unwrap();
    let peak = |n: &str| {
        let proxy = crate::consistency_proxy::start(
            endpoint(),
            crate::consistency_proxy::Slow(std::time::Duration::from_millis(150)),
        );
        let (status, out, err) =
            binary(&["plan", "-f", pillar.to_str().unwrap(), "--concurrency", n, "--endpoint-url", &proxy.url], "");
        assert_eq!(status, 0, "{out}{err}");
        proxy.peak()
    };
    assert_eq!(peak("1"), 1, "one resource at a time, one request at a time");
    let four = peak("4");
    assert!((2..=4).contains(&four), "up to four resources at once: {four} requests were in flight");
}

#[test]
fn converge_only_some_resources_of_a_checked_pillar() {
    let (kept, left) = (unique("only"), unique("only-left"));
    let pillar = json!({"region": "eu-west-2", "s3": {"buckets": {&kept: {}, &left: {}}}});
    let keyid = unique_keyid();
    let request = |only: Value| {
        json!({"version": 1, "op": "converge", "params": pillar, "only": only, "test": true,
               "connection": {"endpoint_url": endpoint(), "keyid": keyid, "key": "testing"}})
        .to_string()
    };
    let (status, out, _) = binary(&["stdio"], &request(json!([format!("s3.bucket {kept}")])));
    assert_eq!(status, 0, "{out}");
    let returns: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = returns.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [format!("s3.bucket {kept}")]);
    let (status, out, _) = binary(&["stdio"], &request(json!(["s3.bucket not-in-the-pillar"])));
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("request.only[0]"), "{out}");
}
