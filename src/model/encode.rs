//! Encoding unique events for a model: one categorical index per field, with rare values
//! sharing a bucket, and the frequency of each rare value kept so that a model can still
//! tell a one-off value from a value seen twice.
//!
//! An [`Encoder`] is fitted on the training data and saved with the model weights, so that
//! new logs are scored with the vocabularies the model learnt (`--baseline`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::frame::Dataset;

/// Index of the shared bucket of rare (and unseen) values in every field's vocabulary.
pub const RARE: u32 = 0;

/// One field's vocabulary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldVocab {
    pub name: String,
    /// `values[i]` is the value of index `i`; `values[0]` is the rare bucket (`""` name).
    pub values: Vec<String>,
    /// Occurrences of each vocabulary entry in the training data (index 0: all rare values).
    pub counts: Vec<u64>,
    /// Occurrences of each rare value (values below `min_count`), for the within-bucket
    /// frequency. Values never seen count as seen once.
    pub rare_counts: HashMap<String, u64>,
    /// Whether the empty value is a value like any other (the context fields: "no lifecycle
    /// flag" is the normal case, and having one is what is rare), rather than "no such
    /// thing here".
    #[serde(default)]
    pub empty_is_value: bool,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

impl FieldVocab {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn index_of(&self, v: &str) -> u32 {
        self.index.get(v).copied().unwrap_or(RARE)
    }

    /// `-log p(value | rare bucket)`: how surprising a value is among the rare ones. Zero for
    /// values with their own index.
    pub fn within_rare_surprisal(&self, v: &str) -> f32 {
        if self.index.contains_key(v) {
            return 0.0;
        }
        let total = self.counts[RARE as usize].max(1) as f64;
        let n = self.rare_counts.get(v).copied().unwrap_or(1).max(1) as f64;
        (-(n / (total + 1.0)).ln()).max(0.0) as f32
    }

    /// `-log p(value)` over the training occurrences where the field had a value: the
    /// value's unconditional rarity. Zero for the empty value; a value never seen counts as
    /// seen once.
    pub fn surprisal(&self, v: &str) -> f32 {
        if v.is_empty() && !self.empty_is_value {
            return 0.0;
        }
        let n = match self.index.get(v) {
            Some(&i) => self.counts[i as usize],
            None => self.rare_counts.get(v).copied().unwrap_or(1),
        };
        let empty = if self.empty_is_value {
            0
        } else {
            self.index.get("").map_or_else(
                || self.rare_counts.get("").copied().unwrap_or(0),
                |&i| self.counts[i as usize],
            )
        };
        let total: u64 = self
            .counts
            .iter()
            .fold(0u64, |a, &b| a.saturating_add(b))
            .saturating_sub(empty)
            .max(1);
        (-((n.max(1) as f64) / (total as f64 + 1.0)).ln()).max(0.0) as f32
    }

    fn rebuild_index(&mut self) {
        self.index = self
            .values
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, v)| (v.clone(), i as u32))
            .collect();
    }
}

/// What is wrong with an encoder read from a file (a saved model's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("no fields")]
    NoFields,
    #[error("field {0} has no rare bucket")]
    NoRareBucket(String),
    #[error("field {field} has {counts} counts for {values} values")]
    Counts {
        field: String,
        counts: usize,
        values: usize,
    },
    #[error("{groups} field groups for {fields} fields")]
    Groups { groups: usize, fields: usize },
    #[error("token field {0} is no field (or twice)")]
    TokenField(usize),
}

/// Settings of the encoding.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct EncodeConfig {
    /// Values seen in fewer occurrences share the rare bucket.
    pub min_count: u64,
    /// Largest vocabulary per field (the most frequent values keep their own index).
    pub max_vocab: usize,
}

impl Default for EncodeConfig {
    fn default() -> Self {
        EncodeConfig {
            min_count: 3,
            max_vocab: 64,
        }
    }
}

/// Fields with many distinct values (command lines, arguments, task paths) are also read as
/// a bag of hashed tokens: `c:\\users\\public\\svc.exe` shares `users`, `public` and `exe`
/// with its neighbours even when the whole value is rare.
pub const TOKEN_FIELDS: &[&str] = &["task_name", "command", "arguments", "service_name", "image"];
/// Hash buckets per token field.
pub const TOKEN_BUCKETS: usize = 32;

/// Fields read off one raw value (a command line and what is derived from it, a principal
/// and its logon type, a definition's field and the `task_*` copy lent to its events). The
/// masked objective hides a group together: a field is never predicted from its own copy.
pub const FIELD_GROUPS: &[&[&str]] = &[
    &[
        "command",
        "image",
        "arguments",
        "exe",
        "dir_class",
        "lolbin",
        "cmd_flags",
        "working_dir",
        "task_command",
        "task_arguments",
        "task_lolbin",
        "task_dir_class",
        "task_cmd_flags",
    ],
    &["principal", "logon_type", "task_principal"],
    &["run_level", "task_run_level"],
    &["hidden", "task_hidden"],
    &["triggers", "task_triggers"],
    &["author", "task_author"],
];

/// Vocabularies of every field, fitted on a dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Encoder {
    pub profile: String,
    pub config: EncodeConfig,
    pub fields: Vec<FieldVocab>,
    /// Indices (into `fields`) of the fields read as hashed token bags.
    #[serde(default)]
    pub token_fields: Vec<usize>,
    /// Per field: its group ([`FIELD_GROUPS`]); fields of one group are hidden together.
    /// Empty: every field alone.
    #[serde(default)]
    pub groups: Vec<u32>,
}

/// FNV-1a, 64 bits: a stable hash (the same bucket on every machine and run).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The normalised bag of hashed tokens of a value (`TOKEN_BUCKETS` wide).
pub fn token_bag(v: &str, out: &mut [f32]) {
    out.fill(0.0);
    let mut n = 0;
    for t in v
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
    {
        out[(fnv1a(&t.to_lowercase()) % TOKEN_BUCKETS as u64) as usize] += 1.0;
        n += 1;
    }
    if n > 0 {
        out.iter_mut().for_each(|x| *x /= n as f32);
    }
}

/// A dataset encoded for a model: `indices[row * n_fields + f]`.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub rows: usize,
    pub n_fields: usize,
    pub indices: Vec<u32>,
    /// Numeric features per row (`log1p(count)`, `log1p(hosts)`), standardised.
    pub numeric: Vec<f32>,
    /// Occurrences per row.
    pub counts: Vec<u64>,
    /// Hashed token bags per row: `token_fields.len() * TOKEN_BUCKETS` values.
    pub tokens: Vec<f32>,
    pub n_tokens: usize,
}

/// The pseudo-field for the event kind, encoded like the profile's fields.
pub const KIND_FIELD: &str = "event";

fn kind(ds: &Dataset, u: usize) -> String {
    let e = &ds.uniques[u];
    format!("{}/{}", e.channel, e.event_id)
}

impl Encoder {
    /// Fit vocabularies on `ds`, counting occurrences (a benign task that ran a thousand
    /// times makes its values frequent). Unique events left out of training are not counted.
    pub fn fit(ds: &Dataset, config: EncodeConfig) -> Encoder {
        let n = ds.fields.len();
        let mut counts: Vec<HashMap<String, u64>> = vec![HashMap::new(); n + 1];
        for (u, e) in ds.uniques.iter().enumerate() {
            if !ds.trains_on(u) {
                continue;
            }
            let c = e.count();
            let slot = counts[0].entry(kind(ds, u)).or_default();
            *slot = slot.saturating_add(c);
            for (i, v) in e.values.iter().enumerate() {
                let slot = counts[i + 1].entry(v.to_string()).or_default();
                *slot = slot.saturating_add(c);
            }
        }
        let names = std::iter::once(KIND_FIELD).chain(ds.fields.iter().copied());
        let fields: Vec<FieldVocab> = names
            .zip(counts)
            .enumerate()
            .map(|(f, (name, counts))| {
                let mut by_count: Vec<(String, u64)> = counts.into_iter().collect();
                // Most frequent first; ties by value, so the order is deterministic.
                by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let mut vocab = FieldVocab {
                    name: name.to_string(),
                    values: vec![String::new()],
                    counts: vec![0],
                    rare_counts: HashMap::new(),
                    // Field 0 is the event kind; the dataset's fields follow.
                    empty_is_value: f > 0 && ds.empty_is_value(f - 1),
                    index: HashMap::new(),
                };
                for (v, c) in by_count {
                    if c >= config.min_count && vocab.values.len() < config.max_vocab {
                        vocab.values.push(v);
                        vocab.counts.push(c);
                    } else {
                        vocab.counts[0] = vocab.counts[0].saturating_add(c);
                        vocab.rare_counts.insert(v, c);
                    }
                }
                vocab.rebuild_index();
                vocab
            })
            .collect();
        let token_fields = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| TOKEN_FIELDS.contains(&f.name.as_str()))
            .map(|(i, _)| i)
            .collect();
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        let groups = Encoder::groups_of(&names);
        Encoder {
            profile: ds.profile.to_string(),
            config,
            fields,
            token_fields,
            groups,
        }
    }

    /// The group of each field: fields named in one of [`FIELD_GROUPS`] share its number,
    /// every other field is a group of its own.
    pub fn groups_of(names: &[&str]) -> Vec<u32> {
        let mut next = FIELD_GROUPS.len() as u32;
        names
            .iter()
            .map(|n| match FIELD_GROUPS.iter().position(|g| g.contains(n)) {
                Some(g) => g as u32,
                None => {
                    next += 1;
                    next
                }
            })
            .collect()
    }

    /// The fields hidden with field `f` (itself included).
    pub fn group_members(&self, f: usize) -> Vec<usize> {
        match self.groups.get(f) {
            Some(&g) => (0..self.fields.len())
                .filter(|&i| self.groups.get(i) == Some(&g))
                .collect(),
            None => vec![f],
        }
    }

    /// The groups, each as its fields, in order of their first field.
    pub fn group_list(&self) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = Vec::new();
        for f in 0..self.fields.len() {
            if !out.iter().any(|g| g.contains(&f)) {
                out.push(self.group_members(f));
            }
        }
        out
    }

    /// Whether `ds` has the fields this encoder was fitted on (a model saved from other
    /// fields cannot score it).
    pub fn fits(&self, ds: &Dataset) -> bool {
        self.fields.len() == ds.fields.len() + 1
            && self
                .fields
                .iter()
                .skip(1)
                .zip(&ds.fields)
                .all(|(v, f)| v.name == *f)
    }

    /// Rebuild lookup tables after deserialising.
    pub fn rebuild(&mut self) {
        for f in &mut self.fields {
            f.rebuild_index();
        }
    }

    /// Check a deserialised encoder (a saved model's, from a file): every index the model
    /// will use exists. `Err` says what is wrong.
    pub fn validate(&self) -> Result<(), EncodeError> {
        if self.fields.is_empty() {
            return Err(EncodeError::NoFields);
        }
        for f in &self.fields {
            if f.values.is_empty() {
                return Err(EncodeError::NoRareBucket(f.name.clone()));
            }
            if f.counts.len() != f.values.len() {
                return Err(EncodeError::Counts {
                    field: f.name.clone(),
                    counts: f.counts.len(),
                    values: f.values.len(),
                });
            }
        }
        if !self.groups.is_empty() && self.groups.len() != self.fields.len() {
            return Err(EncodeError::Groups {
                groups: self.groups.len(),
                fields: self.fields.len(),
            });
        }
        let mut seen = std::collections::HashSet::new();
        for &t in &self.token_fields {
            if t >= self.fields.len() || !seen.insert(t) {
                return Err(EncodeError::TokenField(t));
            }
        }
        Ok(())
    }

    /// The field values of unique event `u`, the event kind first.
    pub fn values_of(ds: &Dataset, u: usize) -> Vec<String> {
        std::iter::once(kind(ds, u))
            .chain(ds.uniques[u].values.iter().map(|v| v.to_string()))
            .collect()
    }

    /// Field `f` of unique event `u` (0 is the event kind).
    pub fn value_of(ds: &Dataset, u: usize, f: usize) -> String {
        if f == 0 {
            kind(ds, u)
        } else {
            ds.uniques[u].values[f - 1].to_string()
        }
    }

    pub fn encode(&self, ds: &Dataset) -> Encoded {
        let n_fields = self.fields.len();
        let mut indices = Vec::with_capacity(ds.uniques.len() * n_fields);
        let mut numeric = Vec::with_capacity(ds.uniques.len() * 2);
        let mut counts = Vec::with_capacity(ds.uniques.len());
        let n_tokens = self.token_fields.len() * TOKEN_BUCKETS;
        let mut tokens = vec![0f32; ds.uniques.len() * n_tokens];
        for (u, e) in ds.uniques.iter().enumerate() {
            for (k, &f) in self.token_fields.iter().enumerate() {
                let at = u * n_tokens + k * TOKEN_BUCKETS;
                token_bag(
                    &Self::value_of(ds, u, f),
                    &mut tokens[at..at + TOKEN_BUCKETS],
                );
            }
            let kind = kind(ds, u);
            indices.push(self.fields[0].index_of(&kind));
            for (i, v) in e.values.iter().enumerate() {
                indices.push(self.fields.get(i + 1).map_or(RARE, |f| f.index_of(v)));
            }
            // Scale to roughly unit range; a count of 1 is 0.
            numeric.push(((e.count() as f32).ln_1p() - 0.69) / 3.0);
            numeric.push(((e.hosts.len().max(1) as f32).ln_1p() - 0.69) / 2.0);
            counts.push(e.count());
        }
        Encoded {
            rows: ds.uniques.len(),
            n_fields,
            indices,
            numeric,
            counts,
            tokens,
            n_tokens,
        }
    }
}
