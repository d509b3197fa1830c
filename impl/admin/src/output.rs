//! How `hwactl` shows things to people: aligned tables, RFC 3339 times and short durations.

use hwa_core::admin::{AuditEvent, LockTarget, LockView, UserSummary};
use hwa_core::time::UnixMillis;
use time::format_description::well_known::Rfc3339;

/// Left-aligned columns separated by one space, a rule under the header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let mut out = String::new();
    for row in [&header, &rule].into_iter().chain(rows.iter()) {
        let cells: Vec<String> =
            row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        out.push_str(cells.join(" ").trim_end());
        out.push('\n');
    }
    out
}

pub fn users_table(users: &[UserSummary]) -> String {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.user.clone(),
                u.roles.join(","),
                u.logins.join(","),
                u.credentials.to_string(),
                if u.signed_up { "yes".into() } else { "no (invite pending)".into() },
            ]
        })
        .collect();
    table(&["User", "Roles", "Logins", "Credentials", "Signed up"], &rows)
}

pub fn locks_table(locks: &[LockView]) -> String {
    let rows: Vec<Vec<String>> = locks
        .iter()
        .map(|l| {
            vec![
                l.id.clone(),
                target(&l.target),
                l.message.clone(),
                l.expires_at.map_or_else(|| "never".to_owned(), rfc3339),
            ]
        })
        .collect();
    table(&["ID", "Target", "Message", "Expires"], &rows)
}

pub fn audit_table(events: &[AuditEvent]) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let kind = serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{:?}", e.kind));
            let fields: Vec<String> = e.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            vec![rfc3339(e.time), kind, e.user.clone().unwrap_or_default(), fields.join(" ")]
        })
        .collect();
    table(&["Time", "Event", "User", "Details"], &rows)
}

pub fn target(t: &LockTarget) -> String {
    match t {
        LockTarget::User { user } => format!("user {user}"),
        LockTarget::Credential { credential_id } => format!("credential {credential_id}"),
    }
}

/// A timestamp as RFC 3339 in UTC, or the raw milliseconds when out of range.
pub fn rfc3339(t: UnixMillis) -> String {
    let nanos = i128::from(t.0) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|dt| dt.replace_nanosecond(0).ok())
        .and_then(|dt| dt.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

/// Parses `90`, `45s`, `30m`, `1h` or `2d` into seconds.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad_ttl(text))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad_ttl(text)),
    };
    match n.checked_mul(scale) {
        Some(0) | None => Err(bad_ttl(text)),
        Some(secs) => Ok(secs),
    }
}

fn bad_ttl(text: &str) -> String {
    format!("`{text}` is not a duration; use a positive number with s, m, h or d, such as 1h")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hwa_core::admin::AuditKind;

    use super::*;

    #[test]
    fn durations_parse_with_units_and_bad_ones_say_the_format() {
        assert_eq!(parse_ttl("90"), Ok(90));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("2d"), Ok(172_800));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("1w").unwrap_err().contains("such as 1h"));
        assert!(parse_ttl("h").is_err());
    }

    #[test]
    fn times_read_as_rfc3339_in_utc() {
        assert_eq!(rfc3339(UnixMillis(1_767_225_600_123)), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn tables_people_read() {
        let users = vec![
            UserSummary {
                user: "alice".into(),
                roles: vec!["access".into()],
                logins: vec!["alice".into(), "root".into()],
                credentials: 1,
                signed_up: true,
            },
            UserSummary {
                user: "bob".into(),
                roles: vec![],
                logins: vec![],
                credentials: 0,
                signed_up: false,
            },
        ];
        let locks = vec![LockView {
            id: "lk1".into(),
            target: LockTarget::User { user: "bob".into() },
            message: "left the company".into(),
            created_at: UnixMillis(0),
            expires_at: None,
        }];
        let events = vec![AuditEvent {
            time: UnixMillis(1_767_225_600_000),
            kind: AuditKind::HeadlessLoginApproved,
            seq: 1,
            user: Some("alice".into()),
            fields: BTreeMap::from([("request_id".to_owned(), "bb2d".to_owned())]),
        }];
        let text =
            format!("{}\n{}\n{}", users_table(&users), locks_table(&locks), audit_table(&events));
        insta::assert_snapshot!(text);
    }
}
