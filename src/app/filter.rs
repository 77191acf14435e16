//! The list's filter: `field=value`, `field~regex`, `hosts<=k`, or a regex over all fields.

use regex::Regex;

/// A row filter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// `field=value`, case-insensitive.
    Equals { field: String, value: String },
    /// `field!=value`, case-insensitive: no value of the item equals it.
    NotEquals { field: String, value: String },
    /// `field~regex` (case-insensitive), or a regex over all fields when `field` is `None`.
    Regex {
        field: Option<String>,
        re: Regex,
        text: String,
    },
    /// `hosts<=k`: seen on at most k hosts of the fleet (least-frequency-of-occurrence stacking).
    MaxHosts(usize),
    /// The events of one task (the task view's Enter): its index and name as read.
    Task { index: usize, name: String },
}

/// Fields every view knows besides the profile's.
pub const BUILTIN_FIELDS: &[&str] = &[
    "event_id", "event", "channel", "host", "hosts", "verdict", "note", "name",
];

impl Filter {
    /// The filter as the user typed it.
    pub fn text(&self) -> String {
        match self {
            Filter::MaxHosts(k) => format!("hosts<={k}"),
            Filter::Task { name, .. } => format!("name={name}"),
            Filter::Equals { field, value } => format!("{field}={value}"),
            Filter::NotEquals { field, value } => format!("{field}!={value}"),
            Filter::Regex { text, .. } => text.clone(),
        }
    }

    /// Parse a filter: `field=value`, `field~regex`, `hosts<=k`, or a regex over all fields.
    pub fn parse(text: &str, fields: &[&str]) -> Result<Filter, String> {
        let known = |f: &str| fields.contains(&f) || BUILTIN_FIELDS.contains(&f);
        let t = text.trim();
        if let Some(k) = t
            .strip_prefix("hosts<=")
            .or_else(|| t.strip_prefix("prevalence<="))
        {
            return k
                .trim()
                .parse()
                .map(Filter::MaxHosts)
                .map_err(|_| format!("hosts<= takes a number, not {k:?}"));
        }
        let regex = |s: &str| {
            regex::RegexBuilder::new(s)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("bad regex: {e}"))
        };
        if let Some((f, v)) = text.split_once('~') {
            let f = f.trim();
            if known(f) {
                return Ok(Filter::Regex {
                    field: Some(f.to_string()),
                    re: regex(v.trim())?,
                    text: text.to_string(),
                });
            }
        }
        if let Some((f, v)) = text.split_once("!=") {
            let f = f.trim();
            if known(f) {
                return Ok(Filter::NotEquals {
                    field: f.to_string(),
                    value: v.trim().to_string(),
                });
            }
        }
        if let Some((f, v)) = text.split_once('=') {
            let f = f.trim();
            if known(f) {
                return Ok(Filter::Equals {
                    field: f.to_string(),
                    value: v.trim().to_string(),
                });
            }
            return Err(format!(
                "unknown field {f:?}; fields: {}",
                fields.join(", ")
            ));
        }
        Ok(Filter::Regex {
            field: None,
            re: regex(text)?,
            text: text.to_string(),
        })
    }
}
