//! The list's filter: a query ([`super::query`]), or the events of one task.

use super::query::Query;

/// A row filter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// A query typed in the filter bar (`p` adds its prevalence term to it).
    Query(Query),
    /// The events of one task (the task view's Enter): its index and name as read.
    Task { index: usize, name: String },
}

impl Filter {
    /// The filter as the user typed it (or as `p` rebuilt it).
    pub fn text(&self) -> String {
        match self {
            Filter::Task { name, .. } => format!("name={name}"),
            Filter::Query(q) => q.text().to_string(),
        }
    }

    /// Parse a query against the profile's `fields`.
    pub fn parse(text: &str, fields: &[&str]) -> Result<Filter, super::query::ParseError> {
        Query::parse(text, fields).map(Filter::Query)
    }

    /// The query, when the filter is one.
    pub fn query(&self) -> Option<&Query> {
        match self {
            Filter::Query(q) => Some(q),
            Filter::Task { .. } => None,
        }
    }
}
