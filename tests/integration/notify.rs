//! SES notifications against moto and its extension: SNS topics and subscriptions, identity feedback,
//! configuration sets with event destinations (runbook rows 9–11).

use serde_json::{json, Value};

use crate::support::{converge, moto_control, sdk, unique};

/// The runbook's notification section, with names of this test alone.
fn section(topic: &str, address: &str, domain: &str, set: &str) -> Value {
    json!({
        "sns": {"topics": {topic: {"display_name": "Data", "subscriptions": [{"email": address}]}}},
        "ses": {
            "domains": {domain: {
                "feedback": {"bounce": topic, "complaint": topic, "include_headers": true},
                "configuration_set": set
            }},
            "configuration_sets": {set: {"event_destinations": {format!("{set}-noreply"): {"sns_topic": topic}}}}
        }
    })
}

async fn sns() -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&sdk().await)
}

async fn topic_arn(name: &str) -> String {
    let account = aws_sdk_sts::Client::new(&sdk().await).get_caller_identity().send().await.unwrap();
    format!("arn:aws:sns:us-east-1:{}:{name}", account.account.unwrap())
}

#[tokio::test]
async fn the_runbook_section_converges_and_a_pending_subscription_is_not_subscribed_again() {
    let (topic, domain, set) = (unique("data"), format!("{}.example.org", unique("n")), unique("credere"));
    let address = format!("{}@example.org", unique("data"));
    moto_control("subscription-pending", json!({"Endpoint": address}));
    let pillar = section(&topic, &address, &domain, &set);

    let plan = converge(&pillar, true).await;
    assert!(plan.all(None), "{:#?}", plan.returns);
    assert_eq!(plan.writes(), Vec::<String>::new(), "test mode never writes");

    let run = converge(&pillar, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    let ids: Vec<&str> = run.returns.iter().filter_map(|r| r.id.as_deref()).collect();
    assert_eq!(ids[0], format!("sns.topic {topic}"), "the topic comes first: {ids:?}");
    let t = run.get(&format!("sns.topic {topic}"));
    assert!(
        t.comment
            .contains(&format!("Pending confirmation (not subscribed again; the confirmation was sent): {address}")),
        "{}",
        t.comment
    );
    let d = run.get(&format!("ses.domain_identity {domain}"));
    assert_eq!(d.changes["new"]["feedback"]["include_headers"], json!(["bounce", "complaint"]));
    assert_eq!(d.changes["new"]["configuration_set"], json!(set));

    // The policy lets exactly this Pillar's SES senders publish.
    let attributes = sns().await.get_topic_attributes().topic_arn(topic_arn(&topic).await).send().await.unwrap();
    let policy: Value = serde_json::from_str(&attributes.attributes.unwrap()["Policy"]).unwrap();
    let ses_statement = policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "AllowSESPublish").unwrap();
    let sources = ses_statement["Condition"]["ArnLike"]["aws:SourceArn"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(sources.iter().any(|s| s.as_str().unwrap().ends_with(&format!(":identity/{domain}"))));
    assert!(sources.iter().any(|s| s.as_str().unwrap().ends_with(&format!(":configuration-set/{set}"))));

    let again = converge(&pillar, false).await;
    assert!(again.unchanged(), "{:#?}", again.returns);
    assert_eq!(again.writes(), Vec::<String>::new(), "no Subscribe for the pending address, no write at all");
    assert!(again.get(&format!("sns.topic {topic}")).comment.contains("Pending confirmation"));

    // Absent: the identity, then the configuration set and the topic.
    let mut gone = pillar.clone();
    gone["sns"]["topics"][&topic]["ensure"] = json!("absent");
    gone["ses"]["domains"][&domain]["ensure"] = json!("absent");
    gone["ses"]["configuration_sets"][&set]["ensure"] = json!("absent");
    let run = converge(&gone, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    let ids: Vec<&str> = run.returns.iter().filter_map(|r| r.id.as_deref()).collect();
    assert_eq!(ids.last().copied(), Some(format!("sns.topic {topic}").as_str()), "{ids:?}");
    let after = converge(&gone, false).await;
    assert!(after.unchanged() && after.writes().is_empty(), "{:#?}", after.returns);
}

#[tokio::test]
async fn drift_on_each_managed_field_is_repaired() {
    let (topic, domain, set) = (unique("data"), format!("{}.example.org", unique("n")), unique("credere"));
    let address = format!("{}@example.org", unique("data"));
    let mut pillar = section(&topic, &address, &domain, &set);
    pillar["ses"]["configuration_sets"][&set]["reputation_metrics"] = json!(true);
    assert!(converge(&pillar, false).await.all(Some(true)));
    let arn = topic_arn(&topic).await;
    let cfg = sdk().await;
    let sns = sns().await;
    let ses = aws_sdk_ses::Client::new(&cfg);
    let sesv2 = aws_sdk_sesv2::Client::new(&cfg);
    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("DisplayName")
        .attribute_value("Other")
        .send()
        .await
        .unwrap();
    ses.set_identity_headers_in_notifications_enabled()
        .identity(&domain)
        .notification_type(aws_sdk_ses::types::NotificationType::Complaint)
        .enabled(false)
        .send()
        .await
        .unwrap();
    sesv2
        .put_configuration_set_reputation_options()
        .configuration_set_name(&set)
        .reputation_metrics_enabled(false)
        .send()
        .await
        .unwrap();
    sesv2
        .delete_configuration_set_event_destination()
        .configuration_set_name(&set)
        .event_destination_name(format!("{set}-noreply"))
        .send()
        .await
        .unwrap();

    let plan = converge(&pillar, true).await;
    assert!(plan.writes().is_empty());
    let run = converge(&pillar, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    assert_eq!(
        run.get(&format!("sns.topic {topic}")).changes,
        json!({"old": {"display_name": "Other"}, "new": {"display_name": "Data"}})
    );
    let mut writes = run.writes();
    writes.sort();
    assert_eq!(
        writes,
        [
            "SES SetIdentityHeadersInNotificationsEnabled",
            "SESv2 CreateConfigurationSetEventDestination",
            "SESv2 PutConfigurationSetReputationOptions",
            "SNS SetTopicAttributes"
        ]
    );
    assert!(converge(&pillar, false).await.writes().is_empty());

    // Other events, and a destination that is not in Pillar, are repaired too.
    pillar["ses"]["configuration_sets"][&set]["event_destinations"][format!("{set}-noreply")]["events"] =
        json!(["BOUNCE"]);
    let run = converge(&pillar, false).await;
    assert_eq!(run.writes(), ["SESv2 UpdateConfigurationSetEventDestination"]);
}

#[tokio::test]
async fn wait_confirmed_waits_and_exclusive_subscriptions_unsubscribe_the_rest() {
    let topic = unique("data");
    let (slow, other) = (format!("{}@example.org", unique("slow")), format!("{}@example.org", unique("other")));
    moto_control("subscription-pending", json!({"Endpoint": slow, "ConfirmAfterReads": 3}));
    let pillar = json!({"sns": {"topics": {&topic: {"subscriptions": [{"email": &slow}, {"email": &other}], "wait_confirmed": "60s"}}}});
    let run = converge(&pillar, false).await;
    let r = run.get(&format!("sns.topic {topic}"));
    assert_eq!(r.result, Some(true), "{r:#?}");
    assert!(!r.comment.contains("Pending"), "confirmed while waiting: {}", r.comment);

    let only =
        json!({"sns": {"topics": {&topic: {"subscriptions": [{"email": &slow}], "exclusive_subscriptions": true}}}});
    let run = converge(&only, false).await;
    assert_eq!(run.writes(), ["SNS Unsubscribe"], "{:#?}", run.returns);
    assert!(converge(&only, false).await.unchanged());
}

/// AWS sets notification topics only for a verified identity: while SES has not verified it, the
/// feedback settings are a note (no failing write), and the apply after verification sets them.
#[tokio::test]
async fn feedback_waits_until_the_identity_is_verified() {
    let (topic, domain, set) = (unique("data"), format!("{}.example.org", unique("unverified")), unique("credere"));
    let address = format!("{}@example.org", unique("data"));
    let pillar = section(&topic, &address, &domain, &set);
    moto_control("identity-status", json!({"EmailIdentity": &domain, "Status": "PENDING", "Region": "us-east-1"}));

    let run = converge(&pillar, false).await;
    assert!(run.all(Some(true)), "{:#?}", run.returns);
    let d = run.get(&format!("ses.domain_identity {domain}"));
    assert!(d.comment.contains("Feedback settings wait until SES has verified the identity"), "{}", d.comment);
    assert!(d.changes["new"].get("feedback").is_none(), "no feedback change was made: {:#?}", d.changes);
    assert!(!run.writes().iter().any(|w| w.contains("SetIdentityNotificationTopic")), "{:?}", run.writes());
    let again = converge(&pillar, false).await;
    assert!(again.unchanged() && again.writes().is_empty(), "{:#?}", again.returns);

    moto_control("identity-status", json!({"EmailIdentity": &domain, "Status": "SUCCESS", "Region": "us-east-1"}));
    let verified = converge(&pillar, false).await;
    assert!(verified.all(Some(true)), "{:#?}", verified.returns);
    let d = verified.get(&format!("ses.domain_identity {domain}"));
    assert_eq!(d.changes["new"]["feedback"]["include_headers"], json!(["bounce", "complaint"]), "{d:#?}");
    assert!(converge(&pillar, false).await.unchanged());
}
