//! Notifications: when a delivery settles in a state its trigger's `notify_on` lists (`dead` by
//! default), the trigger's `notify` target (an `http`, `gitlab`, `github` or `jenkins` one) is
//! told once. An `http` target gets a message in the
//! shape its receiver reads (Slack, Discord, Teams, or plain JSON: `NotifyFormat`, by its `format`
//! or its URL's host); any other kind gets its own request, built from a call whose variables
//! describe the delivery (`HOOKRELAY_NOTIFY_*`), so that a pipeline can run on a failure.
//!
//! A notification is one request, never retried (a broken Slack URL cannot loop), sent through the
//! same destination checks as a delivery; how it went is recorded on the delivery
//! (`notification`), and it changes nothing else about it. No `worker` import.

use crate::context::App;
use crate::error::Error;
use crate::model::delivery::Notification;
use crate::model::{Call, DeliveryState, Target, Trigger};
use crate::outbound::OutboundRequest;
use crate::targets::http::NotifyFormat;
use crate::targets::TargetSpec;
use crate::targets::USER_AGENT;
use serde_json::{json, Value};

/// What a notification says: a settled delivery and where to see it.
pub struct Notice<'a> {
    pub trigger: &'a Trigger,
    pub target: &'a Target,
    pub delivery_id: &'a str,
    pub state: DeliveryState,
    /// The last attempt's status; none when no answer came (or none was made).
    pub status: Option<u16>,
    pub attempts: u32,
    /// The delivery on the admin page.
    pub link: String,
}

impl Notice<'_> {
    /// The trigger as people know it: its description, else its id.
    fn trigger_name(&self) -> &str {
        let description = self.trigger.description.lines().next().unwrap_or_default().trim();
        if description.is_empty() {
            &self.trigger.id
        } else {
            description
        }
    }

    /// One line in plain words; `escape` makes the names safe for the receiver's markup.
    fn sentence(&self, escape: fn(&str) -> String) -> String {
        let state = crate::model::wire_name(&self.state);
        let status = self.status.map_or_else(|| "no answer".to_string(), |status| format!("last status {status}"));
        let plural = if self.attempts == 1 { "" } else { "s" };
        format!(
            "hookrelay: delivery {} of trigger \u{201c}{}\u{201d} to {} is {state} ({status}, {} attempt{plural})",
            self.delivery_id,
            escape(self.trigger_name()),
            escape(&self.target.name),
            self.attempts,
        )
    }
}

/// The link to delivery `id` on the admin page of `public_url` (its path alone without one).
pub fn delivery_link(public_url: Option<&str>, id: &str) -> String {
    format!("{}/admin#delivery={id}", public_url.unwrap_or_default())
}

/// Slack's markup reserves `&`, `<` and `>`.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Markdown (Discord, Teams): the characters that would format or link.
fn markdown_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\*_~`|[]()<>#@".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The body of the notification in `format`.
pub fn message(notice: &Notice, format: NotifyFormat) -> Value {
    match format {
        NotifyFormat::Slack => json!({"text": format!("{} <{}|open>", notice.sentence(slack_escape), notice.link)}),
        NotifyFormat::Discord => json!({
            "content": format!("{} {}", notice.sentence(markdown_escape), notice.link),
            "allowed_mentions": {"parse": []},
        }),
        // An Adaptive Card: what Teams' Workflows webhooks read, and its incoming webhooks too.
        NotifyFormat::Teams => json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "version": "1.4",
                    "body": [{"type": "TextBlock", "wrap": true, "text": notice.sentence(markdown_escape)}],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": notice.link}],
                },
            }],
        }),
        NotifyFormat::Json => json!({
            "event": format!("delivery.{}", crate::model::wire_name(&notice.state)),
            "delivery_id": notice.delivery_id,
            "state": notice.state,
            "last_status": notice.status,
            "attempts": notice.attempts,
            "trigger": {"id": notice.trigger.id, "description": notice.trigger.description},
            "target": {"id": notice.target.id, "name": notice.target.name},
            "link": notice.link,
            "text": notice.sentence(|text| text.to_string()),
        }),
    }
}

/// The request that tells `notify` (a target) about `notice`.
pub fn request(notify: &Target, notice: &Notice) -> Result<OutboundRequest, Error> {
    match &notify.spec {
        TargetSpec::Http(http) => {
            let format = http.format.unwrap_or_else(|| NotifyFormat::for_url(&http.url));
            let mut headers: Vec<(String, String)> = http
                .headers
                .iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.expose().to_string()))
                .collect();
            headers.push(("user-agent".into(), USER_AGENT.into()));
            headers.push(("content-type".into(), "application/json".into()));
            let body = message(notice, format).to_string().into_bytes();
            Ok(OutboundRequest { method: "POST".into(), url: http.url.clone(), headers, body })
        }
        other => other.kind().build(&notice_call(notice)),
    }
}

/// The call a non-`http` notify target is built from: the delivery's ref, and the facts as
/// variables.
fn notice_call(notice: &Notice) -> Call {
    let variables = [
        ("HOOKRELAY_NOTIFY_DELIVERY", notice.delivery_id.to_string()),
        ("HOOKRELAY_NOTIFY_STATE", crate::model::wire_name(&notice.state)),
        ("HOOKRELAY_NOTIFY_STATUS", notice.status.map(|status| status.to_string()).unwrap_or_default()),
        ("HOOKRELAY_NOTIFY_TRIGGER", notice.trigger.id.clone()),
        ("HOOKRELAY_NOTIFY_TARGET", notice.target.name.clone()),
        ("HOOKRELAY_NOTIFY_LINK", notice.link.clone()),
    ];
    Call {
        trigger_id: notice.trigger.id.clone(),
        delivery: format!("{}-notify", notice.delivery_id),
        ref_name: notice.trigger.pinned_ref.clone().unwrap_or_else(|| "main".into()),
        variables: crate::sorting::map_of(variables.into_iter().map(|(name, value)| (name.to_string(), value))),
        ..Call::default()
    }
}

/// Tells the trigger's `notify` target that delivery `delivery_id` of `target` settled in `state`,
/// if its `notify_on` lists it, and records how that went on the delivery. The request carries the
/// delivery's hop count (`hops`) plus one, as its attempts did. Never fails: what goes wrong is
/// recorded and logged.
#[allow(clippy::too_many_arguments)]
pub async fn settled(
    app: &App,
    trigger: &Trigger,
    target: &Target,
    delivery_id: &str,
    state: DeliveryState,
    status: Option<u16>,
    attempts: u32,
    hops: u32,
) {
    let Some(notify_id) = trigger.notify.as_deref().filter(|_| trigger.notify_on.contains(&state)) else { return };
    let link = delivery_link(app.settings.public_url.as_deref(), delivery_id);
    let notice = Notice { trigger, target, delivery_id, state, status, attempts, link };
    let catalog = app.catalog();
    let outcome = match catalog.target_by_id(notify_id).await {
        Ok(Some(notify)) => send(app, &notify, &notice, hops).await,
        Ok(None) => Err("the notify target was deleted".to_string()),
        Err(error) => {
            // The detail is for the log; the record, which admins read, says what happened.
            app.log.line(json!({"type": "error", "what": "reading a notify target", "delivery_id": delivery_id,
                "detail": error.for_the_log()}));
            Err("the notify target could not be read".to_string())
        }
    };
    let (answer, error) = match outcome {
        Ok(status) if (200..300).contains(&status) => (Some(status), String::new()),
        Ok(status) => (Some(status), format!("the notify target answered {status}")),
        Err(why) => (None, why),
    };
    app.log.line(json!({
        "type": "notification", "delivery_id": delivery_id, "trigger": trigger.id, "notify": notify_id,
        "state": state, "status": answer, "error": (!error.is_empty()).then_some(&error),
    }));
    let notification = Notification { at: app.clock.now_ms(), target: notify_id.to_string(), status: answer, error };
    if let Err(error) = catalog.note_notification(&target.id, delivery_id, notification).await {
        app.log.line(json!({"type": "error", "what": "recording a notification", "delivery_id": delivery_id,
            "detail": error.for_the_log()}));
    }
}

/// Sends the notification once; its status, or why there was none (scrubbed of the notify
/// target's credentials).
async fn send(app: &App, notify: &Target, notice: &Notice<'_>, hops: u32) -> Result<u16, String> {
    let kind = notify.spec.kind();
    let secrets = kind.secrets();
    let scrub = |text: String| crate::model::delivery::redact(&text, &secrets);
    // As a delivery's attempt: a target stored before a rule was added is refused, not sent to.
    kind.validate().map_err(|error| scrub(format!("the notify target's {}", error.message())))?;
    let mut request = request(notify, notice)
        .and_then(|request| crate::outbound::checked_request(request, app.settings.allow_local_targets))
        .map_err(|error| scrub(error.message()))?;
    crate::loops::mark(&mut request, hops);
    app.outbound.send(request).await.map(|answer| answer.status).map_err(scrub)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Trigger;

    fn target(spec: Value) -> Target {
        let mut fields = json!({"id": "tg1", "name": "deploys <prod>", "created_at": 0, "updated_at": 0});
        fields.as_object_mut().unwrap().extend(spec.as_object().unwrap().clone());
        serde_json::from_value(fields).unwrap()
    }

    fn trigger() -> Trigger {
        serde_json::from_value(json!({"id": "t1", "target": "tg1", "owner": "alice", "created_at": 0, "updated_at": 0}))
            .unwrap()
    }

    fn notice<'a>(trigger: &'a Trigger, target: &'a Target) -> Notice<'a> {
        Notice {
            trigger,
            target,
            delivery_id: "t1-abc",
            state: DeliveryState::Dead,
            status: Some(503),
            attempts: 3,
            link: delivery_link(Some("https://hooks.example.com"), "t1-abc"),
        }
    }

    #[test]
    fn the_receivers_host_chooses_the_shape_unless_the_target_says() {
        let mut trigger = self::tests::trigger();
        trigger.description = "Deploy *prod* <@everyone>".into();
        let delivered_to = target(json!({"kind": "http", "url": "https://ci.example.com/hook"}));
        let shape = |url: &str, format: Option<&str>| {
            let mut spec = json!({"kind": "http", "url": url});
            if let Some(format) = format {
                spec["format"] = format.into();
            }
            let request = request(&target(spec), &notice(&trigger, &delivered_to)).unwrap();
            assert_eq!((request.method.as_str(), request.header("content-type")), ("POST", Some("application/json")));
            serde_json::from_slice::<Value>(&request.body).unwrap()
        };
        let slack = shape("https://hooks.slack.com/services/T0/B0/x", None);
        let text = slack["text"].as_str().unwrap();
        assert!(text.contains("t1-abc") && text.contains("is dead") && text.contains("last status 503"), "{text}");
        assert!(text.contains("deploys &lt;prod&gt;") && text.contains("&lt;@everyone&gt;"), "escaped: {text}");
        assert!(text.ends_with("<https://hooks.example.com/admin#delivery=t1-abc|open>"), "{text}");
        let discord = shape("https://discord.com/api/webhooks/1/x", None);
        assert_eq!(discord["allowed_mentions"], json!({"parse": []}));
        assert!(discord["content"].as_str().unwrap().contains("\\*prod\\*"), "{discord}");
        for teams in
            ["https://example.webhook.office.com/webhookb2/x", "https://prod-1.westus.logic.azure.com/workflows/x"]
        {
            let card = &shape(teams, None)["attachments"][0];
            assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
            assert!(card["content"]["body"][0]["text"].as_str().unwrap().contains("is dead"), "{card}");
            assert_eq!(card["content"]["actions"][0]["url"], "https://hooks.example.com/admin#delivery=t1-abc");
        }
        let plain = shape("https://alerts.example.com/in", None);
        assert_eq!(
            (plain["event"].clone(), plain["last_status"].clone(), plain["attempts"].clone()),
            (json!("delivery.dead"), json!(503), json!(3))
        );
        // A host that only looks like Slack's is not, and `format` wins over the host.
        assert!(shape("https://hooks.slack.com.evil.example/x", None).get("event").is_some());
        assert!(shape("https://alerts.example.com/in", Some("slack")).get("text").is_some());
    }

    #[test]
    fn another_kind_of_target_gets_its_own_request_with_the_facts_as_variables() {
        let trigger = self::tests::trigger();
        let delivered_to = target(json!({"kind": "http", "url": "https://ci.example.com/hook"}));
        let gitlab = target(
            json!({"kind": "gitlab", "url": "https://gitlab.example.com", "project": "7", "token": "glptt-secret"}),
        );
        let request = request(&gitlab, &notice(&trigger, &delivered_to)).unwrap();
        let body = String::from_utf8(request.body).unwrap();
        assert!(request.url.contains("/projects/7/trigger/pipeline"), "{}", request.url);
        assert!(body.contains("HOOKRELAY_NOTIFY_STATE") && body.contains("dead"), "{body}");
    }
}
