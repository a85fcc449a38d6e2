//! `ses.configuration_set`: an SES v2 configuration set and its SNS event destinations (runbook
//! row 11). Exactly the listed destinations exist; the set's own options are managed only when given.

use std::collections::BTreeMap;

use aws_sdk_sesv2::types::{
    DeliveryOptions, EventDestinationDefinition, EventType, ReputationOptions, SendingOptions, SnsDestination,
    SuppressionListReason, SuppressionOptions, TlsPolicy as SdkTlsPolicy,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common_spec;
use crate::error::{AwsResult, Error, Invalid};
use crate::kind::{Cx, Diff, Ensure, Exported, Kind, Listed, Ref};
use crate::resources::ses::account::Reason;
use crate::resources::sns;
use crate::validate;

pub struct ConfigurationSet;

/// The runbook's events: what goes wrong before SES can even try to deliver, and delays.
pub const DEFAULT_EVENTS: [&str; 3] = ["RENDERING_FAILURE", "REJECT", "DELIVERY_DELAY"];
/// Every event type an event destination may match.
pub const EVENTS: [&str; 10] = [
    "SEND",
    "REJECT",
    "BOUNCE",
    "COMPLAINT",
    "DELIVERY",
    "OPEN",
    "CLICK",
    "RENDERING_FAILURE",
    "DELIVERY_DELAY",
    "SUBSCRIPTION",
];

// ---- spec ----------------------------------------------------------------------------------

/// An SES configuration set. The Pillar key is its name, e.g. `credere`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub ensure: Ensure,
    /// SES region of the configuration set (default: the Pillar's `region`).
    #[serde(default)]
    pub region: Option<String>,
    /// Event destinations by name; exactly these exist (others are removed). Left out: not managed.
    #[serde(default)]
    pub event_destinations: Option<BTreeMap<String, EventDestination>>,
    /// Whether mail may be sent with this configuration set. Left out: not managed.
    #[serde(default)]
    pub sending_enabled: Option<bool>,
    /// Whether SES publishes reputation metrics (bounce and complaint rates) for it. Left out: not managed.
    #[serde(default)]
    pub reputation_metrics: Option<bool>,
    /// `REQUIRE` (deliver only over TLS) or `OPTIONAL`. Left out: not managed.
    #[serde(default)]
    pub tls_policy: Option<TlsPolicy>,
    /// The configuration set's own suppression list override: the reasons (`BOUNCE`, `COMPLAINT`) that
    /// suppress an address for mail sent with it; `[]` suppresses none. Left out: not managed.
    #[serde(default)]
    pub suppressed_reasons: Option<Vec<Reason>>,
}
common_spec!(Spec);

/// An event destination that publishes to an SNS topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventDestination {
    /// The topic: an `sns.topics` entry of this Pillar (in the same region) or a topic ARN.
    pub sns_topic: String,
    /// The events to publish (default: `RENDERING_FAILURE`, `REJECT`, `DELIVERY_DELAY`); any of SEND,
    /// REJECT, BOUNCE, COMPLAINT, DELIVERY, OPEN, CLICK, RENDERING_FAILURE, DELIVERY_DELAY, SUBSCRIPTION.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Whether the destination publishes (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl EventDestination {
    fn events(&self) -> Vec<String> {
        let mut e = match &self.events {
            Some(e) => e.clone(),
            None => DEFAULT_EVENTS.iter().map(|s| s.to_string()).collect(),
        };
        e.sort();
        e.dedup();
        e
    }
}

/// Whether mail must be delivered over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum TlsPolicy {
    /// Deliver only over TLS.
    Require,
    /// Use TLS when the receiving server offers it.
    Optional,
}

impl TlsPolicy {
    fn as_str(self) -> &'static str {
        match self {
            TlsPolicy::Require => "REQUIRE",
            TlsPolicy::Optional => "OPTIONAL",
        }
    }
}

fn reasons(r: &[Reason]) -> Vec<String> {
    let mut v: Vec<String> = r.iter().map(|x| format!("{x:?}").to_uppercase()).collect();
    v.sort();
    v.dedup();
    v
}

/// Configuration set and event destination names: 1 to 64 letters, digits, `_` and `-`.
pub fn check_name(name: &str, what: &str, path: &str, errors: &mut Vec<Invalid>) {
    let ok = (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        errors.push(Invalid::new(
            path,
            format!("{} is not {what}: 1 to 64 ASCII letters, digits, _ and -", validate::quote(name)),
        ));
    }
}

// ---- read ----------------------------------------------------------------------------------

/// What SES reports about a configuration set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    pub sending_enabled: bool,
    pub reputation_metrics: bool,
    pub tls_policy: String,
    /// `None`: no override, the account's suppression list applies.
    pub suppressed_reasons: Option<Vec<String>>,
    pub event_destinations: BTreeMap<String, ObservedDestination>,
}

/// One event destination as SES reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservedDestination {
    /// The SNS topic ARN; `None` for a destination of another type (CloudWatch, Firehose, ...).
    pub sns_topic: Option<String>,
    pub events: Vec<String>,
    pub enabled: bool,
}

impl Kind for ConfigurationSet {
    const KIND: &'static str = "ses.configuration_set";
    const NOUN: &'static str = "SES configuration set";
    const REFERS_TO: &'static [&'static str] = &[sns::TOPIC];
    type Spec = Spec;
    type Observed = Observed;

    fn check(name: &str, spec: &Spec, path: &str, errors: &mut Vec<Invalid>) {
        check_name(name, "a configuration set name", path, errors);
        for (dest, d) in spec.event_destinations.iter().flatten() {
            let at = format!("{path}.event_destinations.{dest}");
            check_name(dest, "an event destination name", &at, errors);
            sns::check_topic(&d.sns_topic, &format!("{at}.sns_topic"), errors);
            if let Some(events) = &d.events {
                if events.is_empty() {
                    errors.push(Invalid::new(format!("{at}.events"), "is empty: list at least one event"));
                }
                for (i, e) in events.iter().enumerate() {
                    if !EVENTS.contains(&e.as_str()) {
                        errors.push(Invalid::new(
                            format!("{at}.events[{i}]"),
                            format!("{} is not one of {}", validate::quote(e), EVENTS.join(", ")),
                        ));
                    } else if events[..i].contains(e) {
                        errors.push(Invalid::new(format!("{at}.events[{i}]"), format!("{e} is listed twice")));
                    }
                }
            }
        }
    }

    fn refs(spec: &Spec) -> Vec<Ref> {
        spec.event_destinations
            .iter()
            .flatten()
            .filter_map(|(dest, d)| sns::topic_ref(&d.sns_topic, format!("event_destinations.{dest}.sns_topic")))
            .collect()
    }

    fn manage_all(spec: &mut Spec) {
        spec.event_destinations.get_or_insert_with(BTreeMap::new);
    }

    async fn read(cx: &Cx<'_>, name: &str, spec: &Spec) -> Result<Option<Observed>, Error> {
        let ses = cx.sesv2();
        let Some(out) = ses
            .get_configuration_set()
            .configuration_set_name(name)
            .send()
            .await
            .none_if("GetConfigurationSet", &["NotFoundException"])?
        else {
            return Ok(None);
        };
        let mut event_destinations = BTreeMap::new();
        if spec.event_destinations.is_some() {
            let Some(dests) = ses
                .get_configuration_set_event_destinations()
                .configuration_set_name(name)
                .send()
                .await
                .none_if("GetConfigurationSetEventDestinations", &["NotFoundException"])?
            else {
                return Ok(None);
            };
            for d in dests.event_destinations() {
                let mut events: Vec<String> = d.matching_event_types().iter().map(|e| e.as_str().to_string()).collect();
                events.sort();
                event_destinations.insert(
                    d.name().to_string(),
                    ObservedDestination {
                        sns_topic: d.sns_destination().map(|s| s.topic_arn().to_string()),
                        events,
                        enabled: d.enabled(),
                    },
                );
            }
        }
        Ok(Some(Observed {
            sending_enabled: out.sending_options().is_none_or(|s| s.sending_enabled()),
            reputation_metrics: out.reputation_options().is_some_and(|r| r.reputation_metrics_enabled()),
            tls_policy: out
                .delivery_options()
                .and_then(|d| d.tls_policy())
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(|| "OPTIONAL".into()),
            suppressed_reasons: out.suppression_options().map(|s| {
                let mut r: Vec<String> = s.suppressed_reasons().iter().map(|x| x.as_str().to_string()).collect();
                r.sort();
                r
            }),
            event_destinations,
        }))
    }

    // ---- diff ----------------------------------------------------------------------------------

    fn diff(_name: &str, spec: &Spec, observed: Option<&Observed>) -> Diff {
        let Some(o) = observed else {
            let mut d = Diff::creating();
            if let Some(v) = spec.sending_enabled {
                d.set("sending_enabled", (), v);
            }
            if let Some(v) = spec.reputation_metrics {
                d.set("reputation_metrics", (), v);
            }
            if let Some(v) = spec.tls_policy {
                d.set("tls_policy", (), v);
            }
            if let Some(r) = &spec.suppressed_reasons {
                d.set("suppressed_reasons", (), reasons(r));
            }
            if let Some(dests) = &spec.event_destinations {
                d.set("event_destinations", (), desired_view(dests));
            }
            return d;
        };
        let mut d = Diff::default();
        d.compare("sending_enabled", spec.sending_enabled.as_ref(), &o.sending_enabled);
        d.compare("reputation_metrics", spec.reputation_metrics.as_ref(), &o.reputation_metrics);
        if let Some(t) = spec.tls_policy {
            if t.as_str() != o.tls_policy {
                d.set("tls_policy", &o.tls_policy, t);
            }
        }
        if let Some(r) = &spec.suppressed_reasons {
            if o.suppressed_reasons.as_ref() != Some(&reasons(r)) {
                d.set("suppressed_reasons", &o.suppressed_reasons, reasons(r));
            }
        }
        if let Some(dests) = &spec.event_destinations {
            let matches = dests.len() == o.event_destinations.len()
                && dests.iter().all(|(n, want)| o.event_destinations.get(n).is_some_and(|have| same(want, have)));
            if !matches {
                d.set("event_destinations", &o.event_destinations, desired_view(dests));
            }
        }
        d
    }

    // ---- apply ---------------------------------------------------------------------------------

    async fn apply(
        cx: &Cx<'_>,
        name: &str,
        spec: &Spec,
        observed: Option<&Observed>,
        diff: &mut Diff,
    ) -> Result<(), Error> {
        let ses = cx.sesv2();
        if observed.is_none() {
            ses.create_configuration_set()
                .configuration_set_name(name)
                .set_sending_options(spec.sending_enabled.map(|v| SendingOptions::builder().sending_enabled(v).build()))
                .set_reputation_options(
                    spec.reputation_metrics.map(|v| ReputationOptions::builder().reputation_metrics_enabled(v).build()),
                )
                .set_delivery_options(spec.tls_policy.map(delivery))
                .set_suppression_options(spec.suppressed_reasons.as_deref().map(suppression))
                .send()
                .await
                .op("CreateConfigurationSet")?;
        } else {
            if diff.has("sending_enabled") {
                ses.put_configuration_set_sending_options()
                    .configuration_set_name(name)
                    .set_sending_enabled(spec.sending_enabled)
                    .send()
                    .await
                    .op("PutConfigurationSetSendingOptions")?;
            }
            if diff.has("reputation_metrics") {
                ses.put_configuration_set_reputation_options()
                    .configuration_set_name(name)
                    .set_reputation_metrics_enabled(spec.reputation_metrics)
                    .send()
                    .await
                    .op("PutConfigurationSetReputationOptions")?;
            }
            if diff.has("tls_policy") {
                ses.put_configuration_set_delivery_options()
                    .configuration_set_name(name)
                    .set_tls_policy(spec.tls_policy.map(|t| SdkTlsPolicy::from(t.as_str())))
                    .send()
                    .await
                    .op("PutConfigurationSetDeliveryOptions")?;
            }
            if let Some(r) = spec.suppressed_reasons.as_deref().filter(|_| diff.has("suppressed_reasons")) {
                ses.put_configuration_set_suppression_options()
                    .configuration_set_name(name)
                    .set_suppressed_reasons(Some(
                        reasons(r).iter().map(|x| SuppressionListReason::from(x.as_str())).collect(),
                    ))
                    .send()
                    .await
                    .op("PutConfigurationSetSuppressionOptions")?;
            }
        }
        let Some(dests) = &spec.event_destinations else { return Ok(()) };
        let empty = BTreeMap::new();
        let have = observed.map_or(&empty, |o| &o.event_destinations);
        for (dest, want) in dests {
            match have.get(dest) {
                Some(h) if same(want, h) => {}
                Some(_) => {
                    ses.update_configuration_set_event_destination()
                        .configuration_set_name(name)
                        .event_destination_name(dest)
                        .event_destination(definition(cx, want).await?)
                        .send()
                        .await
                        .op("UpdateConfigurationSetEventDestination")?;
                }
                None => {
                    ses.create_configuration_set_event_destination()
                        .configuration_set_name(name)
                        .event_destination_name(dest)
                        .event_destination(definition(cx, want).await?)
                        .send()
                        .await
                        .op("CreateConfigurationSetEventDestination")?;
                }
            }
        }
        for dest in have.keys().filter(|d| !dests.contains_key(*d)) {
            ses.delete_configuration_set_event_destination()
                .configuration_set_name(name)
                .event_destination_name(dest)
                .send()
                .await
                .none_if("DeleteConfigurationSetEventDestination", &["NotFoundException"])?;
        }
        Ok(())
    }

    // ---- delete --------------------------------------------------------------------------------

    async fn delete(cx: &Cx<'_>, name: &str, _spec: &Spec, _observed: &Observed) -> Result<(), Error> {
        cx.sesv2()
            .delete_configuration_set()
            .configuration_set_name(name)
            .send()
            .await
            .none_if("DeleteConfigurationSet", &["NotFoundException"])?;
        Ok(())
    }

    // ---- export --------------------------------------------------------------------------------

    async fn list(cx: &Cx<'_>) -> Result<Listed, Error> {
        let pages: Vec<_> = cx
            .sesv2()
            .list_configuration_sets()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .op("ListConfigurationSets")?;
        Ok(Listed::of(pages.iter().flat_map(|p| p.configuration_sets()).cloned().collect()))
    }

    /// Settings that differ from a new set's, and the destinations (topics by ARN).
    fn export(name: &str, o: &Observed, _secret_dir: &str) -> Exported {
        let mut e = Exported::default();
        if !o.sending_enabled {
            e.set("sending_enabled", false);
        }
        if o.reputation_metrics {
            e.set("reputation_metrics", true);
        }
        if o.tls_policy == TlsPolicy::Require.as_str() {
            e.set("tls_policy", TlsPolicy::Require);
        }
        if let Some(r) = &o.suppressed_reasons {
            e.set("suppressed_reasons", r);
        }
        let mut default_events: Vec<String> = DEFAULT_EVENTS.iter().map(|s| s.to_string()).collect();
        default_events.sort();
        let mut dests = serde_json::Map::new();
        for (dest, d) in &o.event_destinations {
            let Some(topic) = &d.sns_topic else {
                // Pillar's destinations are exactly the set's: one it cannot say would be removed.
                e.notes.push(format!(
                    "SES configuration set {name} has the event destination {dest}, which is not an SNS topic: \
                     event_destinations is left out, so they are not managed."
                ));
                return e;
            };
            let mut v = serde_json::json!({"sns_topic": topic});
            if d.events != default_events {
                v["events"] = serde_json::json!(d.events);
            }
            if !d.enabled {
                v["enabled"] = serde_json::json!(false);
            }
            dests.insert(dest.clone(), v);
        }
        if !dests.is_empty() {
            e.set("event_destinations", dests);
        }
        e
    }
}

/// Whether an observed destination is the one Pillar asks for (a topic name matches its ARN).
fn same(want: &EventDestination, have: &ObservedDestination) -> bool {
    have.sns_topic.as_deref().is_some_and(|arn| sns::same_topic(&want.sns_topic, arn))
        && have.events == want.events()
        && have.enabled == want.enabled.unwrap_or(true)
}

/// The destinations as `changes` show them.
fn desired_view(dests: &BTreeMap<String, EventDestination>) -> BTreeMap<String, serde_json::Value> {
    dests
        .iter()
        .map(|(n, d)| {
            let view = serde_json::json!({"sns_topic": d.sns_topic, "events": d.events(), "enabled": d.enabled.unwrap_or(true)});
            (n.clone(), view)
        })
        .collect()
}

fn delivery(t: TlsPolicy) -> DeliveryOptions {
    DeliveryOptions::builder().tls_policy(SdkTlsPolicy::from(t.as_str())).build()
}

fn suppression(r: &[Reason]) -> SuppressionOptions {
    SuppressionOptions::builder()
        .set_suppressed_reasons(Some(reasons(r).iter().map(|x| SuppressionListReason::from(x.as_str())).collect()))
        .build()
}

async fn definition(cx: &Cx<'_>, d: &EventDestination) -> Result<EventDestinationDefinition, Error> {
    let topic = sns::topic_arn(cx, &d.sns_topic).await?;
    let sns_destination = SnsDestination::builder()
        .topic_arn(topic)
        .build()
        .map_err(|e| Error::Refused(format!("an SNS event destination could not be built: {e}")))?;
    Ok(EventDestinationDefinition::builder()
        .enabled(d.enabled.unwrap_or(true))
        .set_matching_event_types(Some(d.events().iter().map(|e| EventType::from(e.as_str())).collect()))
        .sns_destination(sns_destination)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sns:us-east-1:123456789012:data";

    fn spec() -> Spec {
        let mut dests = BTreeMap::new();
        dests.insert(
            "credere".to_string(),
            EventDestination { sns_topic: "data".into(), ..EventDestination::default() },
        );
        Spec { event_destinations: Some(dests), ..Spec::default() }
    }

    fn observed(events: &[&str]) -> Observed {
        let mut dests = BTreeMap::new();
        let mut events: Vec<String> = events.iter().map(|s| s.to_string()).collect();
        events.sort();
        dests.insert("credere".to_string(), ObservedDestination { sns_topic: Some(ARN.into()), events, enabled: true });
        Observed {
            sending_enabled: true,
            reputation_metrics: false,
            tls_policy: "OPTIONAL".into(),
            suppressed_reasons: None,
            event_destinations: dests,
        }
    }

    #[test]
    fn the_runbook_events_are_the_default_and_a_topic_name_matches_its_arn() {
        assert!(ConfigurationSet::diff("c", &spec(), Some(&observed(&DEFAULT_EVENTS))).is_empty());
        let d = ConfigurationSet::diff("c", &spec(), Some(&observed(&["BOUNCE"])));
        assert!(d.has("event_destinations"));
        assert_eq!(
            d.fields[0].new["credere"]["events"],
            serde_json::json!(["DELIVERY_DELAY", "REJECT", "RENDERING_FAILURE"])
        );
    }

    #[test]
    fn other_destinations_are_removed_and_unmanaged_options_ignored() {
        let mut o = observed(&DEFAULT_EVENTS);
        o.event_destinations
            .insert("old".into(), ObservedDestination { sns_topic: None, events: vec![], enabled: true });
        o.tls_policy = "REQUIRE".into();
        let d = ConfigurationSet::diff("c", &spec(), Some(&o));
        assert_eq!(d.field_names(), "event_destinations");
        let mut s = spec();
        s.tls_policy = Some(TlsPolicy::Optional);
        s.suppressed_reasons = Some(vec![]);
        s.sending_enabled = Some(false);
        let d = ConfigurationSet::diff("c", &s, Some(&observed(&DEFAULT_EVENTS)));
        assert_eq!(d.field_names(), "sending_enabled, suppressed_reasons");
    }

    #[test]
    fn the_topic_is_a_reference_unless_it_is_an_arn() {
        let refs = ConfigurationSet::refs(&spec());
        assert_eq!(refs[0].field, "event_destinations.credere.sns_topic");
        let mut s = spec();
        s.event_destinations.as_mut().unwrap().get_mut("credere").unwrap().sns_topic = ARN.into();
        assert!(ConfigurationSet::refs(&s).is_empty());
    }

    #[test]
    fn checks_names_and_events() {
        let mut s = spec();
        let dests = s.event_destinations.as_mut().unwrap();
        dests.insert(
            "bad name".into(),
            EventDestination {
                sns_topic: "t".into(),
                events: Some(vec!["BOUNCE".into(), "BOUNCE".into(), "OPENED".into()]),
                enabled: None,
            },
        );
        dests.insert("empty".into(), EventDestination { sns_topic: "t".into(), events: Some(vec![]), enabled: None });
        let mut e = Vec::new();
        ConfigurationSet::check("credere", &s, "p", &mut e);
        let paths: Vec<&str> = e.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "p.event_destinations.bad name",
                "p.event_destinations.bad name.events[1]",
                "p.event_destinations.bad name.events[2]",
                "p.event_destinations.empty.events"
            ]
        );
    }
}
