//! The body of a webhook delivery: `{"type","timestamp","orgId","data"}`, compact JSON.

use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

use super::catalogue::EventType;
use super::error::{WebhookError, echo};
use crate::tenancy::OrgId;

/// Builds the body of a delivery: compact JSON with the members in this order:
///
/// - `type`: the event type's wire name;
/// - `timestamp`: `timestamp` in UTC, RFC 3339 to the second (`2026-01-01T00:00:00Z`;
///   fractions of a second are dropped);
/// - `orgId`: the organization;
/// - `data`: `data`, an object whose keys are all among [`EventType::data_fields`] (a
///   documented field may be left out; `webhook.test` takes `{}` only).
///
/// ```
/// use breeze_core::webhooks::{EventType, payload};
///
/// let org = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f".parse()?;
/// let at = time::OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let body = payload(EventType::DeviceQuarantined, at, org, serde_json::json!({"deviceId": "d-1"}))?;
/// assert_eq!(
///     String::from_utf8(body)?,
///     r#"{"type":"device.quarantined","timestamp":"2026-01-01T00:00:00Z","orgId":"6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f","data":{"deviceId":"d-1"}}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`WebhookError::DataNotObject`], [`WebhookError::UndocumentedField`] (for the first key
/// outside the event's fields, in key order), [`WebhookError::TimestampInvalid`] for a
/// time outside years 0000 to 9999.
pub fn payload(
    event: EventType,
    timestamp: OffsetDateTime,
    org: OrgId,
    data: Value,
) -> Result<Vec<u8>, WebhookError> {
    let Value::Object(map) = data else {
        return Err(WebhookError::DataNotObject);
    };
    let fields = event.data_fields();
    if let Some(key) = map.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(WebhookError::UndocumentedField {
            event: event.as_str().to_owned(),
            field: echo(key),
        });
    }
    let timestamp = rfc3339_seconds(timestamp)?;
    // Every piece is a JSON value's own compact rendering (`Display` of `Value` cannot
    // fail), so the member order is fixed without a fallible serializer.
    let body = format!(
        r#"{{"type":{},"timestamp":{},"orgId":{},"data":{}}}"#,
        Value::from(event.as_str()),
        Value::from(timestamp),
        Value::from(org.to_string()),
        Value::Object(map),
    );
    Ok(body.into_bytes())
}

/// `t` in UTC as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339_seconds(t: OffsetDateTime) -> Result<String, WebhookError> {
    let utc = t.to_offset(time::UtcOffset::UTC);
    if !(0..=9999).contains(&utc.year()) {
        return Err(WebhookError::TimestampInvalid);
    }
    utc.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .map_err(|_| WebhookError::TimestampInvalid)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    const ORG: &str = "6f1c2a4e-7d8b-4c3a-9e2f-1a2b3c4d5e6f";

    fn org() -> OrgId {
        ORG.parse().unwrap()
    }

    fn text(r: Result<Vec<u8>, WebhookError>) -> String {
        String::from_utf8(r.unwrap()).unwrap()
    }

    #[test]
    fn compact_with_fixed_member_order() {
        let body = text(payload(
            EventType::CommandCompleted,
            datetime!(2026-03-04 05:06:07.891 UTC),
            org(),
            json!({"status": "completed", "commandId": "c-1", "exitCode": 0, "durationMs": null}),
        ));
        assert_eq!(
            body,
            format!(
                r#"{{"type":"command.completed","timestamp":"2026-03-04T05:06:07Z","orgId":"{ORG}","data":{{"commandId":"c-1","durationMs":null,"exitCode":0,"status":"completed"}}}}"#
            )
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["data"]["commandId"], "c-1");
    }

    #[test]
    fn timestamp_is_utc_to_the_second() {
        let body = text(payload(
            EventType::WebhookTest,
            datetime!(2026-01-01 01:30:59.999_999_999 +01:30),
            org(),
            json!({}),
        ));
        assert!(
            body.contains(r#""timestamp":"2026-01-01T00:00:59Z""#),
            "{body}"
        );
        let body = text(payload(
            EventType::WebhookTest,
            datetime!(1970-01-01 00:00:00 UTC),
            org(),
            json!({}),
        ));
        assert!(
            body.contains(r#""timestamp":"1970-01-01T00:00:00Z""#),
            "{body}"
        );
        assert!(body.ends_with(r#""data":{}}"#), "{body}");
    }

    #[test]
    fn refusals() {
        let t = datetime!(2026-01-01 00:00 UTC);
        for data in [json!(null), json!([]), json!("x"), json!(1), json!(true)] {
            let e = payload(EventType::DeviceQuarantined, t, org(), data).unwrap_err();
            assert_eq!(e.code(), "data_not_object");
        }
        let e = payload(
            EventType::DeviceQuarantined,
            t,
            org(),
            json!({"deviceId": "d", "ip": "192.0.2.1"}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "undocumented_field");
        assert_eq!(
            e.to_string(),
            "field `ip` is not documented for event type `device.quarantined`"
        );
        // The test event takes no field at all.
        let e = payload(EventType::WebhookTest, t, org(), json!({"deviceId": "d"})).unwrap_err();
        assert_eq!(e.code(), "undocumented_field");
        // Field names are case-sensitive.
        let e = payload(
            EventType::DeviceQuarantined,
            t,
            org(),
            json!({"deviceid": "d"}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "undocumented_field");
        // Years RFC 3339 cannot write.
        let e = payload(
            EventType::WebhookTest,
            datetime!(-0001-12-31 23:59:59 UTC),
            org(),
            json!({}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "timestamp_invalid");
    }

    #[test]
    fn every_event_accepts_all_its_fields() {
        let t = datetime!(2026-01-01 00:00 UTC);
        for event in EventType::ALL {
            let data: serde_json::Map<String, Value> = event
                .data_fields()
                .iter()
                .map(|f| ((*f).to_owned(), Value::Null))
                .collect();
            let body = text(payload(event, t, org(), Value::Object(data)));
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["type"], event.as_str());
            assert_eq!(v["orgId"], ORG);
            assert_eq!(
                v["data"].as_object().unwrap().len(),
                event.data_fields().len()
            );
        }
    }
}
