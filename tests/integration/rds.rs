//! RDS PostgreSQL and its security group against moto and its extension (runbook row 16): create with
//! a generated password written to a secret file, the wait for `available`, no-op, drift, refused
//! replacements, a lost file and `rotate`, test mode, `describe`, and absent in dependency order.

use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};

use crate::support::{binary_as, converge, endpoint, moto_control, sdk, temp_dir, unique, unique_keyid};

async fn rds() -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&sdk().await)
}

async fn ec2() -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk().await)
}

/// The runbook's RDS section under names of this test alone.
fn section(db: &str, group: &str, file: &str) -> Value {
    json!({
        "ec2": {"security_groups": {group: {
            "description": "PostgreSQL from anywhere",
            "ingress": [{"protocol": "tcp", "port": 5432, "cidr": ["0.0.0.0/0", "::/0"], "description": "PostgreSQL"}]
        }}},
        "rds": {"instances": {db: {
            "engine": "postgres", "engine_version": "latest", "class": "db.t3.micro", "storage_gb": 20,
            "public": true, "security_groups": [group], "backups": false, "encrypted": false,
            "performance_insights": false, "secret_file": file, "pillar_key": "analysis_db"
        }}}
    })
}

fn read_yaml(file: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

fn password_in(file: &str) -> String {
    read_yaml(file)["analysis_db"]["password"].as_str().expect("a password in the file").to_string()
}

async fn instance(db: &str) -> aws_sdk_rds::types::DbInstance {
    let out = rds().await.describe_db_instances().db_instance_identifier(db).send().await.unwrap();
    out.db_instances()[0].clone()
}

async fn group_id(name: &str) -> String {
    let f = aws_sdk_ec2::types::Filter::builder().name("group-name").values(name).build();
    let out = ec2().await.describe_security_groups().filters(f).send().await.unwrap();
    out.security_groups()[0].group_id().unwrap().to_string()
}

/// Applies a Pillar with the binary; returns (status, stdout, stderr) and the key id that signed.
fn apply(pillar: &Value, command: &str) -> (i32, String, String, String) {
    let dir = temp_dir("rds-pillar");
    let file = dir.join("pillar.yaml");
    std::fs::write(&file, serde_yaml::to_string(&json!({"ocp_aws": pillar})).unwrap()).unwrap();
    let keyid = unique_keyid();
    let (status, out, err) =
        binary_as(&keyid, &[command, "-f", file.to_str().unwrap(), "--endpoint-url", endpoint()], "");
    (status, out, err, keyid)
}

#[tokio::test]
async fn the_runbook_section_creates_waits_writes_the_password_and_then_does_nothing() {
    let (db, group) = (unique("analysis"), unique("postgresql-anywhere"));
    let file = temp_dir("rds").join("analysis_db.sls").to_string_lossy().into_owned();
    let pillar = section(&db, &group, &file);

    let plan = converge(&pillar, true).await;
    assert!(plan.all(None), "{:#?}", plan.returns);
    assert_eq!(plan.writes(), Vec::<String>::new(), "test mode never writes");
    assert!(!std::path::Path::new(&file).exists(), "test mode writes no file");

    // A new instance is creating, then backing up, then available: the wait shows its progress.
    moto_control(
        "db-instance-status",
        json!({"DBInstanceIdentifier": db, "Statuses": ["creating", "creating", "backing-up"]}),
    );
    let (status, out, err, _) = apply(&pillar, "apply");
    assert_eq!(status, 0, "{out}{err}");
    assert!(err.contains(&format!("RDS instance {db}: waiting for status creating")), "{err}");
    assert!(err.contains("waiting for status backing-up"), "{err}");

    // The group comes first and has exactly the runbook's rule; the instance uses it, not `default`.
    let sg = group_id(&group).await;
    let db_now = instance(&db).await;
    let groups: Vec<&str> = db_now.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).collect();
    assert_eq!(groups, [sg.as_str()]);
    assert_eq!(db_now.engine_version(), Some("17.5"), "latest is the newest version orderable");
    assert_eq!(db_now.publicly_accessible(), Some(true));
    assert_eq!(db_now.backup_retention_period(), Some(0));
    assert_eq!(db_now.storage_encrypted(), Some(false));

    // The file: mode 0600, the connection details and a long generated password.
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let section = &read_yaml(&file)["analysis_db"];
    let host = db_now.endpoint().unwrap().address().unwrap();
    assert_eq!(section["host"], json!(host));
    assert_eq!(section["port"], json!(5432));
    assert_eq!(section["user"], json!("postgres"));
    assert_eq!(section["dbname"], json!("postgres"));
    assert_eq!(section["sslmode"], json!("require"));
    let password = password_in(&file);
    assert!(password.len() >= 24 && password.chars().all(|c| c.is_ascii_alphanumeric()), "{}", password.len());
    assert!(!out.contains(&password) && !err.contains(&password), "the password was printed");
    assert!(out.contains(&format!("written to {file}")), "{out}");

    // A second apply reads only, and still says where to connect.
    let again = converge(&pillar, false).await;
    assert!(again.unchanged(), "{:#?}", again.returns);
    assert_eq!(again.writes(), Vec::<String>::new());
    let r = again.get(&format!("rds.db_instance {db}"));
    assert!(r.comment.contains(&format!("Connect to {host} port 5432 as postgres")), "{}", r.comment);
    assert!(!again.response.to_string().contains(&password));

    // describe shows the connection details, never the password.
    let request = json!({"version": 1, "op": "call", "function": "describe", "kind": "rds.db_instance", "name": db,
        "params": pillar["rds"]["instances"][&db], "connection": {"endpoint_url": endpoint()}});
    let (status, out, err) = binary_as(&unique_keyid(), &["stdio"], &request.to_string());
    assert_eq!(status, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["return"]["host"], json!(host), "{v:#}");
    assert_eq!(v["return"]["user"], json!("postgres"));
    assert!(!out.contains(&password), "describe printed the password");
    // Nor does it need the entry's secret file, which only applying uses: given the region alone,
    // it reads with every setting managed, as export does.
    let region = pillar["rds"]["instances"][&db].get("region").cloned().unwrap_or(json!("us-east-1"));
    let request = json!({"version": 1, "op": "call", "function": "describe", "kind": "rds.db_instance", "name": db,
        "params": {"region": region}, "connection": {"endpoint_url": endpoint()}});
    let (status, out, err) = binary_as(&unique_keyid(), &["stdio"], &request.to_string());
    assert_eq!(status, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["return"]["host"], json!(host), "{v:#}");
    let pillar_file = temp_dir("rds-describe").join("pillar.yaml");
    std::fs::write(&pillar_file, serde_yaml::to_string(&json!({"ocp_aws": pillar})).unwrap()).unwrap();
    let (status, out, err) = binary_as(
        &unique_keyid(),
        &["describe", "rds.db_instance", &db, "-f", pillar_file.to_str().unwrap(), "--endpoint-url", endpoint()],
        "",
    );
    assert_eq!(status, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["host"].as_str(), v["port"].as_i64(), v["sslmode"].as_str()),
        (Some(host), Some(5432), Some("require"))
    );
    assert!(!out.contains(&password) && !err.contains(&password), "describe printed the password");
}

#[tokio::test]
async fn drift_is_repaired_and_replacements_are_refused() {
    let (db, group) = (unique("drift"), unique("pg-drift"));
    let file = temp_dir("rds-drift").join("db.sls").to_string_lossy().into_owned();
    let pillar = section(&db, &group, &file);
    let first = converge(&pillar, false).await;
    assert!(first.all(Some(true)), "{:#?}", first.returns);

    // Out of band: private, a bigger class, backups on, the VPC's default group, an extra rule.
    let ec2 = ec2().await;
    let default = ec2
        .describe_security_groups()
        .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("default").build())
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .group_id()
        .unwrap()
        .to_string();
    rds()
        .await
        .modify_db_instance()
        .db_instance_identifier(&db)
        .publicly_accessible(false)
        .db_instance_class("db.t3.small")
        .backup_retention_period(7)
        .vpc_security_group_ids(&default)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let sg = group_id(&group).await;
    let ssh = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("10.0.0.0/8").build())
        .build();
    ec2.authorize_security_group_ingress().group_id(&sg).ip_permissions(ssh).send().await.unwrap();

    let run = converge(&pillar, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    let r = run.get(&format!("rds.db_instance {db}"));
    for field in ["public", "class", "backups", "security_groups"] {
        assert!(r.changes["new"].get(field).is_some(), "{field}: {:#}", r.changes);
    }
    assert_eq!(r.changes["new"]["security_groups"], json!([sg]));
    let g = run.get(&format!("ec2.security_group {group}"));
    assert!(g.changes["old"]["ingress"].to_string().contains("10.0.0.0/8"), "{:#}", g.changes);
    let writes = run.writes();
    assert!(writes.contains(&"RDS ModifyDBInstance".to_string()), "{writes:?}");
    assert!(writes.contains(&"EC2 RevokeSecurityGroupIngress".to_string()), "{writes:?}");
    let now = instance(&db).await;
    assert_eq!(
        (now.publicly_accessible(), now.db_instance_class(), now.backup_retention_period()),
        (Some(true), Some("db.t3.micro"), Some(0))
    );
    assert!(converge(&pillar, false).await.unchanged());

    // Encryption can only change by replacing the instance: refused, nothing written.
    let mut encrypted = pillar.clone();
    encrypted["rds"]["instances"][&db]["encrypted"] = json!(true);
    let refused = converge(&encrypted, false).await;
    let r = refused.get(&format!("rds.db_instance {db}"));
    assert_eq!(r.result, Some(false));
    assert!(r.comment.contains("replacing the instance"), "{}", r.comment);
    assert_eq!(refused.writes(), Vec::<String>::new());

    // A pinned major upgrade needs its flag; a minor one is applied.
    let mut pinned = pillar.clone();
    pinned["rds"]["instances"][&db]["engine_version"] = json!("18.0");
    let r = converge(&pinned, false).await;
    assert!(r.get(&format!("rds.db_instance {db}")).comment.contains("allow_major_version_upgrade"));
}

#[tokio::test]
async fn a_lost_file_fails_until_rotate_sets_a_new_password_which_is_never_printed() {
    let (db, group) = (unique("rotate"), unique("pg-rotate"));
    let file = temp_dir("rds-rotate").join("db.sls").to_string_lossy().into_owned();
    let pillar = section(&db, &group, &file);
    let (status, out1, err1, _) = apply(&pillar, "apply");
    assert_eq!(status, 0, "{out1}{err1}");
    let first = password_in(&file);

    std::fs::remove_file(&file).unwrap();
    let lost = converge(&pillar, false).await;
    let r = lost.get(&format!("rds.db_instance {db}"));
    assert_eq!(r.result, Some(false));
    assert!(r.comment.contains("rotate: true"), "{}", r.comment);
    assert_eq!(lost.writes(), Vec::<String>::new());

    let mut rotate = pillar.clone();
    rotate["rds"]["instances"][&db]["rotate"] = json!(true);
    let (status, out2, err2, keyid) = apply(&rotate, "apply");
    assert_eq!(status, 0, "{out2}{err2}");
    let second = password_in(&file);
    assert_ne!(first, second);
    let writes: Vec<String> = crate::support::recorded(&keyid)
        .into_iter()
        .filter(|r| !r.read)
        .map(|r| format!("{} {}", r.service, r.operation))
        .collect();
    assert_eq!(writes, ["RDS ModifyDBInstance"]);
    let (status, out3, err3, _) = apply(&rotate, "apply");
    assert_eq!(status, 0, "{out3}{err3}");
    assert_eq!(password_in(&file), second, "rotate acts only when the file holds no password");

    // Neither password appears in any output of create, re-apply or rotate.
    let outputs = [out1, err1, lost.response.to_string(), out2, err2, out3, err3];
    for pw in [&first, &second] {
        assert!(outputs.iter().all(|o| !o.contains(pw.as_str())), "a password was printed");
    }
}

#[tokio::test]
async fn absent_deletes_the_instance_before_its_group() {
    let (db, group) = (unique("gone"), unique("pg-gone"));
    let file = temp_dir("rds-gone").join("db.sls").to_string_lossy().into_owned();
    let pillar = section(&db, &group, &file);
    assert!(converge(&pillar, false).await.all(Some(true)));

    // The group alone cannot go while the instance uses it; AWS's refusal names the instance.
    let group_only = json!({"ec2": {"security_groups": {&group: {"ensure": "absent"}}}});
    let refused = converge(&group_only, false).await;
    let r = refused.get(&format!("ec2.security_group {group}"));
    assert_eq!(r.result, Some(false));
    assert!(r.comment.contains(&format!("RDS instance {db}")), "{}", r.comment);

    let absent = json!({
        "ec2": {"security_groups": {&group: {"ensure": "absent"}}},
        "rds": {"instances": {&db: {"ensure": "absent", "skip_final_snapshot": true}}}
    });
    let plan = converge(&absent, true).await;
    assert!(plan.all(None), "{:#?}", plan.returns);
    assert_eq!(plan.writes(), Vec::<String>::new());
    let run = converge(&absent, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    let ids: Vec<&str> = run.returns.iter().filter_map(|r| r.id.as_deref()).collect();
    assert_eq!(ids, [format!("rds.db_instance {db}"), format!("ec2.security_group {group}")]);
    assert!(converge(&absent, false).await.unchanged());
}

#[tokio::test]
async fn a_lost_create_answer_is_reconciled_not_repeated() {
    let (db, group) = (unique("lost"), unique("pg-lost"));
    let file = temp_dir("rds-lost").join("db.sls").to_string_lossy().into_owned();
    let pillar = section(&db, &group, &file);
    let proxy = crate::fault_proxy::start_losing(endpoint(), "Action=CreateDBInstance&", 1);
    let first = crate::support::converge_via(&proxy.url, &pillar).await;
    assert_eq!(proxy.matched.load(std::sync::atomic::Ordering::SeqCst), 1, "CreateDBInstance was repeated");
    let r = first.iter().find(|r| r.id.as_deref() == Some(&format!("rds.db_instance {db}"))).unwrap();
    // The instance AWS made got this run's password, which is in the file: the state says so.
    assert_eq!(r.result, Some(true), "{r:#?}");
    assert!(r.comment.contains("answer was lost"), "{}", r.comment);
    assert_eq!(r.changes["new"]["password"], json!({"secret": format!("written to {file}")}));
    assert!(password_in(&file).len() >= 24);
    assert!(converge(&pillar, false).await.unchanged());
}

#[tokio::test]
async fn a_wait_that_runs_out_keeps_the_password_and_the_next_run_finishes() {
    let (db, group) = (unique("slow"), unique("pg-slow"));
    let file = temp_dir("rds-slow").join("db.sls").to_string_lossy().into_owned();
    let mut pillar = section(&db, &group, &file);
    pillar["rds"]["instances"][&db]["wait"] = json!("1s");
    moto_control("db-instance-status", json!({"DBInstanceIdentifier": db, "Statuses": vec!["creating"; 5]}));
    let first = converge(&pillar, false).await;
    let r = first.get(&format!("rds.db_instance {db}"));
    assert_eq!(r.result, Some(false), "{r:#?}");
    assert!(r.comment.contains("timed out after 1s; still pending: status creating"), "{}", r.comment);
    assert_eq!(r.changes["new"]["password"], json!({"secret": format!("written to {file}")}), "{r:#?}");
    let written = password_in(&file);
    assert!(read_yaml(&file)["analysis_db"].get("host").is_none(), "no host while creating");

    pillar["rds"]["instances"][&db]["wait"] = json!("1m");
    let second = converge(&pillar, false).await;
    assert!(second.all(Some(true)), "{:#?}", second.returns);
    assert_eq!(second.writes(), Vec::<String>::new(), "waiting writes nothing to AWS");
    assert_eq!(password_in(&file), written);
    let host = instance(&db).await.endpoint().unwrap().address().unwrap().to_string();
    assert_eq!(read_yaml(&file)["analysis_db"]["host"], json!(host), "the host is added once there is one");
    assert!(converge(&pillar, false).await.unchanged());
}

#[tokio::test]
async fn a_password_aws_manages_leaves_only_its_arn_in_the_file() {
    let (db, group) = (unique("managed"), unique("pg-managed"));
    let file = temp_dir("rds-managed").join("db.sls").to_string_lossy().into_owned();
    let mut pillar = section(&db, &group, &file);
    pillar["rds"]["instances"][&db]["manage_master_user_password"] = json!(true);
    let run = converge(&pillar, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    let section = &read_yaml(&file)["analysis_db"];
    let arn = instance(&db).await.master_user_secret().and_then(|s| s.secret_arn()).unwrap().to_string();
    assert_eq!(section["password_secret_arn"], json!(arn));
    assert!(section.get("password").is_none(), "{section:#}");
    assert!(converge(&pillar, false).await.unchanged());

    // The ARN is no secret: a lost file is written again without rotate.
    std::fs::remove_file(&file).unwrap();
    let again = converge(&pillar, false).await;
    assert!(again.all(Some(true)), "{:#?}", again.returns);
    assert_eq!(again.writes(), Vec::<String>::new());
    assert_eq!(read_yaml(&file)["analysis_db"]["password_secret_arn"], json!(arn));
}
