//! The filter's query language: terms joined by `AND`, `OR` and `NOT`, with parentheses.
//!
//! ```text
//! query := or
//! or    := and ("OR" and)*
//! and   := not ("AND"? not)*          adjacent terms are joined by AND
//! not   := "NOT" not | "(" or ")" | term
//! term  := FIELD OP VALUE | VALUE     a bare value is a regex over every field
//! OP    := = != ~ !~ < <= > >=
//! ```
//!
//! Field names are case-insensitive and the list's own column titles are accepted
//! (`name`, `task`, `user`, `command`, `flags`, `hosts`, `event`, `rank`, `score`, `count`,
//! `verdict`, `note`). Keywords are case-insensitive. A value is a word (it ends at a space or
//! at a `)` that closes a group) or a double-quoted string (`\"` and `\\` inside). `=` and
//! `!=` compare case-insensitively, `~` and `!~` are case-insensitive regexes, `<` `<=` `>`
//! `>=` compare numbers. Parsing reports the position of what it could not read.

use std::fmt;

use regex::Regex;

/// Fields every view knows besides the profile's: the list's columns and what the drill-down
/// shows. Each is a name and the other names it answers to.
pub const BUILTIN_FIELDS: &[(&str, &[&str])] = &[
    ("name", &["task", "task_name_as_read"]),
    ("user", &[]),
    ("command", &[]),
    ("event_id", &["event", "events", "id"]),
    ("channel", &[]),
    ("hosts", &["host", "prevalence"]),
    ("flags", &["flag", "lifecycle"]),
    ("verdict", &[]),
    ("note", &[]),
    ("rank", &[]),
    ("score", &[]),
    ("count", &[]),
    ("first_seen", &["first"]),
    ("last_seen", &["last"]),
    ("time", &["when"]),
];

/// Fields that hold times: `<` `<=` `>` `>=` take a date (`2026-10-06`, `2026-10-06T14:00`,
/// RFC 3339) or an age (`7d`, `12h`, `30m`, `2w`: that long before the newest time in the
/// data, so that `last_seen<7d` reads "last seen in the last week of the evidence").
const TIME_FIELDS: &[&str] = &["first_seen", "last_seen", "time"];

/// A time a comparison is made against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// A moment (microseconds since the epoch, UTC).
    At(i64),
    /// An age: this many microseconds before the newest time in the data.
    Ago(i64),
}

/// Read a date, a date and time, or an age.
fn parse_when(v: &str) -> Option<When> {
    let v = v.trim();
    let unit = match v.chars().last()? {
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86_400),
        'w' => Some(7 * 86_400),
        _ => None,
    };
    if let Some(seconds) = unit {
        let n: f64 = v[..v.len() - 1].parse().ok()?;
        if (0.0..1e6).contains(&n) {
            return Some(When::Ago((n * seconds as f64 * 1e6) as i64));
        }
        return None;
    }
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Some(When::At(t.as_microsecond()));
    }
    let civil = v.parse::<jiff::civil::DateTime>().ok().or_else(|| {
        v.parse::<jiff::civil::Date>()
            .ok()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    })?;
    let z = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
    Some(When::At(z.timestamp().as_microsecond()))
}

/// How deep groups and `NOT`s may nest (a typed query; the bound keeps the parser's stack
/// small whatever is pasted).
const MAX_DEPTH: usize = 64;
/// The longest query read, in bytes (the filter bar holds no more): checked before any work.
pub const MAX_QUERY: usize = crate::app::prompt::MAX_CHARS;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Match,
    NotMatch,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// Longest first, so that `<=` is not read as `<`.
    const ALL: [(&'static str, Op); 8] = [
        ("!=", Op::Ne),
        ("!~", Op::NotMatch),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("=", Op::Eq),
        ("~", Op::Match),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    pub fn symbol(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("=", |(s, _)| s)
    }

    /// The comparison with its sides swapped (`a < b` is `b > a`).
    fn flipped(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
            op => op,
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

/// One comparison: `field op value`, or a bare regex over every field (`field` is `None`).
#[derive(Debug, Clone)]
pub struct Term {
    pub field: Option<String>,
    pub op: Op,
    pub value: String,
    /// `~`, `!~` and bare terms.
    re: Option<Regex>,
    /// `<`, `<=`, `>`, `>=`.
    number: f64,
    /// `<`, `<=`, `>`, `>=` on a time field.
    when: Option<When>,
}

impl Term {
    /// Whether one value of the item satisfies the comparison (for `!=` and `!~`, the
    /// caller asks whether *no* value equals or matches: see [`Query::eval`]).
    fn test(&self, v: &str) -> bool {
        match self.op {
            Op::Eq | Op::Ne => v.trim().eq_ignore_ascii_case(self.value.trim()),
            Op::Match | Op::NotMatch => self.re.as_ref().is_some_and(|re| re.is_match(v)),
            op => v.trim().parse::<f64>().is_ok_and(|x| match op {
                Op::Lt => x < self.number,
                Op::Le => x <= self.number,
                Op::Gt => x > self.number,
                _ => x >= self.number,
            }),
        }
    }

    /// `hosts<=k`: the prevalence term `p` adds.
    fn max_hosts(&self) -> Option<usize> {
        (self.field.as_deref() == Some("hosts") && self.op == Op::Le)
            .then(|| self.value.parse().ok())
            .flatten()
    }
}

/// A parsed query.
#[derive(Debug, Clone)]
pub enum Expr {
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}

/// What a query asks of one item: implemented by the list's table.
pub trait Item {
    /// The item's values of a field (canonical name; any may satisfy a comparison).
    /// `numeric` for `<`, `<=`, `>`, `>=`: `hosts` then gives its count instead of the names.
    fn values(&self, field: &str, numeric: bool) -> Vec<std::borrow::Cow<'_, str>>;
    /// Whether a regex matches any of the item's text (a bare term).
    fn any_matches(&self, re: &Regex) -> bool;
    /// The newest time in the data (microseconds), which an age counts back from.
    fn reference_time(&self) -> Option<i64> {
        None
    }
}

/// A query as typed, and parsed.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    expr: Expr,
}

/// Why a query could not be read, and where (a character position in the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.at + 1, self.message)
    }
}

impl Query {
    /// Parse `text` against the profile's `fields` (and [`BUILTIN_FIELDS`]).
    pub fn parse(text: &str, fields: &[&str]) -> Result<Query, ParseError> {
        if text.len() > MAX_QUERY {
            return Err(ParseError {
                at: 0,
                message: format!("a query longer than {MAX_QUERY} bytes"),
            });
        }
        let tokens = lex(text, fields)?;
        let mut p = Parser {
            tokens: &tokens,
            at: 0,
            end: text.chars().count(),
        };
        if tokens.is_empty() {
            return Err(ParseError {
                at: 0,
                message: "an empty query".into(),
            });
        }
        let expr = p.or(0)?;
        if let Some(t) = p.tokens.get(p.at) {
            return Err(ParseError {
                at: t.at,
                message: match t.kind {
                    Tok::Close => "a ) that closes nothing".into(),
                    _ => "unexpected text".into(),
                },
            });
        }
        Ok(Query {
            text: text.trim().to_string(),
            expr,
        })
    }

    /// The query's text: as typed, or as rebuilt after [`Query::with_max_hosts`].
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    pub fn eval(&self, item: &dyn Item) -> bool {
        eval(&self.expr, item)
    }

    /// The prevalence bound of a top-level `hosts<=k` term, if any.
    pub fn max_hosts(&self) -> Option<usize> {
        match &self.expr {
            Expr::Term(t) => t.max_hosts(),
            Expr::All(parts) => parts.iter().find_map(|e| match e {
                Expr::Term(t) => t.max_hosts(),
                _ => None,
            }),
            _ => None,
        }
    }

    /// This query with its top-level `hosts<=k` term replaced by `hosts<=max` (or removed):
    /// `p` adds one more term instead of replacing the filter. `None` when nothing is left.
    pub fn with_max_hosts(query: Option<&Query>, max: Option<usize>) -> Option<Query> {
        let mut parts = match query.map(|q| &q.expr) {
            None => Vec::new(),
            Some(Expr::All(parts)) => parts.clone(),
            Some(e) => vec![e.clone()],
        };
        parts.retain(|e| !matches!(e, Expr::Term(t) if t.max_hosts().is_some()));
        if let Some(k) = max {
            parts.push(Expr::Term(Term {
                field: Some("hosts".into()),
                op: Op::Le,
                value: k.to_string(),
                re: None,
                number: k as f64,
                when: None,
            }));
        }
        let expr = match parts.len() {
            0 => return None,
            1 => parts.pop()?,
            _ => Expr::All(parts),
        };
        Some(Query {
            text: expr.to_string(),
            expr,
        })
    }
}

fn eval(e: &Expr, item: &dyn Item) -> bool {
    match e {
        Expr::All(parts) => parts.iter().all(|p| eval(p, item)),
        Expr::Any(parts) => parts.iter().any(|p| eval(p, item)),
        Expr::Not(inner) => !eval(inner, item),
        Expr::Term(t) => match &t.field {
            None => t.re.as_ref().is_some_and(|re| item.any_matches(re)),
            Some(f) if t.when.is_some() => {
                // A moment, or an age counted back from the newest time: `last_seen<7d`
                // (younger than a week) is `last_seen > end - 7d`.
                let (at, op) = match t.when {
                    Some(When::Ago(age)) => match item.reference_time() {
                        Some(end) => (end.saturating_sub(age), t.op.flipped()),
                        None => return false,
                    },
                    Some(When::At(at)) => (at, t.op),
                    None => return false,
                };
                item.values(f, true).iter().any(|v| {
                    v.trim().parse::<i64>().is_ok_and(|x| match op {
                        Op::Lt => x < at,
                        Op::Le => x <= at,
                        Op::Gt => x > at,
                        Op::Ge => x >= at,
                        _ => false,
                    })
                })
            }
            Some(f) => {
                let values = item.values(f, t.op.numeric());
                match t.op {
                    Op::Ne | Op::NotMatch => !values.iter().any(|v| t.test(v)),
                    _ => values.iter().any(|v| t.test(v)),
                }
            }
        },
    }
}

/// Quote a value when it would not read back as one bare word (a bare `ame=x` would read
/// as a field and an operator: any operator character is quoted too).
fn quoted(v: &str) -> String {
    let plain = !v.is_empty()
        && !v.starts_with('"')
        && !v
            .chars()
            .any(|c| c.is_whitespace() || "()=~<>!".contains(c))
        && !is_keyword(v);
    if plain {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = |f: &mut fmt::Formatter<'_>, e: &Expr| match e {
            Expr::Term(_) | Expr::Not(_) => write!(f, "{e}"),
            _ => write!(f, "({e})"),
        };
        match self {
            Expr::All(parts) | Expr::Any(parts) => {
                let join = if matches!(self, Expr::All(_)) {
                    " AND "
                } else {
                    " OR "
                };
                for (k, p) in parts.iter().enumerate() {
                    if k > 0 {
                        f.write_str(join)?;
                    }
                    group(f, p)?;
                }
                Ok(())
            }
            Expr::Not(inner) => {
                f.write_str("NOT ")?;
                group(f, inner)
            }
            Expr::Term(t) => match &t.field {
                None => f.write_str(&quoted(&t.value)),
                Some(field) => write!(f, "{field}{}{}", t.op.symbol(), quoted(&t.value)),
            },
        }
    }
}

// ---- lexing ----

#[derive(Debug, Clone)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    Term(Term),
}

#[derive(Debug, Clone)]
struct Token {
    at: usize,
    kind: Tok,
}

fn is_keyword(w: &str) -> bool {
    ["and", "or", "not"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

/// The canonical name of a field as typed (case-insensitive, aliases accepted).
pub fn resolve(name: &str, fields: &[&str]) -> Option<String> {
    let lower = name.to_lowercase();
    if let Some(f) = fields.iter().find(|f| f.eq_ignore_ascii_case(&lower)) {
        // A profile field shadows nothing: the built-in names are not profile fields,
        // except `command` and `user`, which mean the same thing.
        if !BUILTIN_FIELDS.iter().any(|(b, _)| *b == lower) {
            return Some((*f).to_string());
        }
    }
    BUILTIN_FIELDS
        .iter()
        .find(|(b, aliases)| *b == lower || aliases.contains(&lower.as_str()))
        .map(|(b, _)| (*b).to_string())
}

/// Every field name a query accepts, for an error message.
pub fn known_fields(fields: &[&str]) -> String {
    let builtin: Vec<&str> = BUILTIN_FIELDS.iter().map(|(b, _)| *b).collect();
    let profile = fields.iter().filter(|f| !builtin.contains(f));
    builtin
        .iter()
        .chain(profile)
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known field name (or alias) closest to a mistyped one, if any is close enough to be
/// what was meant (`usr` -> `user`).
pub fn closest(name: &str, fields: &[&str]) -> Option<String> {
    let lower = name.to_lowercase();
    let names = BUILTIN_FIELDS
        .iter()
        .flat_map(|(b, aliases)| std::iter::once(*b).chain(aliases.iter().copied()))
        .chain(fields.iter().copied());
    names
        .map(|n| (strsim::damerau_levenshtein(&lower, &n.to_lowercase()), n))
        .filter(|&(d, n)| d <= 2.max(n.chars().count() / 4) && d < n.chars().count())
        .min_by_key(|&(d, n)| (d, n))
        .and_then(|(_, n)| resolve(n, fields))
}

fn regex(s: &str, at: usize) -> Result<Regex, ParseError> {
    regex::RegexBuilder::new(s)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| ParseError {
            at,
            // The regex crate's message spans lines; its last line says what is wrong.
            message: format!(
                "bad regex: {}",
                e.to_string()
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("invalid")
                    .trim()
                    .trim_start_matches("error: ")
            ),
        })
}

fn lex(text: &str, fields: &[&str]) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let at = i;
        let paren = match c {
            '(' => Some(Tok::Open),
            ')' => Some(Tok::Close),
            _ => None,
        };
        if let Some(kind) = paren {
            out.push(Token { at, kind });
            i += 1;
            continue;
        }
        // A field name followed by an operator?
        let mut j = i;
        while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        // Spaces may stand around the operator: `hosts <= 2` is `hosts<=2`.
        let mut o = j;
        while o < chars.len() && chars[o].is_whitespace() {
            o += 1;
        }
        let op = (j > i && !is_keyword(&chars[i..j].iter().collect::<String>()))
            .then(|| {
                Op::ALL.iter().find(|(s, _)| {
                    s.chars()
                        .enumerate()
                        .all(|(k, sc)| chars.get(o + k) == Some(&sc))
                })
            })
            .flatten();
        if let Some(&(sym, op)) = op {
            let name: String = chars[i..j].iter().collect();
            let Some(field) = resolve(&name, fields) else {
                let message = match closest(&name, fields) {
                    Some(near) => format!(
                        "unknown field {name:?}: did you mean {near}? (fields: {})",
                        known_fields(fields)
                    ),
                    None => format!("unknown field {name:?} (fields: {})", known_fields(fields)),
                };
                return Err(ParseError { at, message });
            };
            let mut vat = o + sym.chars().count();
            while vat < chars.len() && chars[vat].is_whitespace() {
                vat += 1;
            }
            let (value, next) = read_value(&chars, vat)?;
            i = next;
            let re = match op {
                Op::Match | Op::NotMatch => Some(regex(&value, vat)?),
                _ => None,
            };
            let timed = TIME_FIELDS.contains(&field.as_str());
            let when = if op.numeric() && timed {
                Some(parse_when(&value).ok_or_else(|| ParseError {
                    at: vat,
                    message: format!(
                        "{field} {} takes a date (2026-10-06, 2026-10-06T14:00) or an age (7d, 12h), not {value:?}",
                        op.symbol()
                    ),
                })?)
            } else {
                None
            };
            let number = if op.numeric() && !timed {
                value.trim().parse::<f64>().map_err(|_| ParseError {
                    at: vat,
                    message: format!("{} takes a number, not {value:?}", op.symbol()),
                })?
            } else {
                0.0
            };
            out.push(Token {
                at,
                kind: Tok::Term(Term {
                    field: Some(field),
                    op,
                    value,
                    re,
                    number,
                    when,
                }),
            });
            continue;
        }
        let quoted = c == '"';
        let (value, next) = read_value(&chars, i)?;
        i = next;
        let kind = match value.to_lowercase().as_str() {
            "and" if !quoted => Tok::And,
            "or" if !quoted => Tok::Or,
            "not" if !quoted => Tok::Not,
            _ => Tok::Term(Term {
                field: None,
                op: Op::Match,
                re: Some(regex(&value, at)?),
                value,
                number: 0.0,
                when: None,
            }),
        };
        out.push(Token { at, kind });
    }
    Ok(out)
}

/// A value from `start`: a double-quoted string, or a word that ends at a space or at a `)`
/// that closes a group (parentheses inside the word, as in `(a|b)`, stay in it).
fn read_value(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let mut i = start;
    let mut out = String::new();
    if chars.get(i) == Some(&'"') {
        i += 1;
        loop {
            match chars.get(i) {
                None => {
                    return Err(ParseError {
                        at: start,
                        message: "a quote that is never closed".into(),
                    });
                }
                Some('"') => return Ok((out, i + 1)),
                Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\')) => {
                    out.push(chars[i + 1]);
                    i += 2;
                }
                Some(&c) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }
    let mut depth = 0usize;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            break;
        }
        if c == '(' {
            depth += 1;
        } else if c == ')' {
            if depth == 0 {
                break;
            }
            depth -= 1;
        }
        out.push(c);
        i += 1;
    }
    Ok((out, i))
}

// ---- parsing ----

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    /// The text's length, for errors at its end.
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|t| &t.kind)
    }

    fn here(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |t| t.at)
    }

    fn deep(&self, depth: usize) -> Result<(), ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError {
                at: self.here(),
                message: format!("nested deeper than {MAX_DEPTH}"),
            });
        }
        Ok(())
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.deep(depth)?;
        let mut parts = vec![self.and(depth + 1)?];
        while matches!(self.peek(), Some(Tok::Or)) {
            self.at += 1;
            parts.push(self.and(depth + 1)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Any(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut parts = vec![self.not(depth + 1)?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.at += 1;
                    parts.push(self.not(depth + 1)?);
                }
                Some(Tok::Open | Tok::Not | Tok::Term(_)) => parts.push(self.not(depth + 1)?),
                _ => break,
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::All(parts)
        })
    }

    fn not(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.deep(depth)?;
        let at = self.here();
        match self.tokens.get(self.at).map(|t| t.kind.clone()) {
            Some(Tok::Not) => {
                self.at += 1;
                Ok(Expr::Not(Box::new(self.not(depth + 1)?)))
            }
            Some(Tok::Open) => {
                self.at += 1;
                let inner = self.or(depth + 1)?;
                if !matches!(self.peek(), Some(Tok::Close)) {
                    return Err(ParseError {
                        at,
                        message: "a ( that is never closed".into(),
                    });
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Tok::Term(t)) => {
                self.at += 1;
                Ok(Expr::Term(t))
            }
            Some(Tok::Close) => Err(ParseError {
                at,
                message: "a term expected before )".into(),
            }),
            Some(Tok::And | Tok::Or) => Err(ParseError {
                at,
                message: "a term expected before AND / OR".into(),
            }),
            None => Err(ParseError {
                at,
                message: "the query ends where a term was expected".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["task_name", "user", "command", "principal"];

    struct Fake(Vec<(&'static str, &'static str)>);

    impl Item for Fake {
        fn values(&self, field: &str, _numeric: bool) -> Vec<std::borrow::Cow<'_, str>> {
            self.0
                .iter()
                .filter(|(f, _)| *f == field)
                .map(|(_, v)| std::borrow::Cow::Borrowed(*v))
                .collect()
        }
        fn any_matches(&self, re: &Regex) -> bool {
            self.0.iter().any(|(_, v)| re.is_match(v))
        }
    }

    fn q(s: &str) -> Query {
        Query::parse(s, FIELDS).unwrap()
    }

    fn item() -> Fake {
        Fake(vec![
            ("user", "corp\\jdoe"),
            ("command", "powershell.exe -enc abc"),
            ("hosts", "3"),
            ("flags", "tmp-mod"),
            ("flags", "temporary-modification"),
            ("rank", "7"),
        ])
    }

    #[test]
    fn terms_join_with_and_or_not() {
        let it = item();
        assert!(q("user=CORP\\JDOE").eval(&it));
        assert!(!q("user!=corp\\jdoe").eval(&it));
        assert!(q("User~jdoe AND command~powershell").eval(&it));
        assert!(q("user~jdoe command~powershell").eval(&it));
        assert!(!q("user~jdoe AND NOT command~powershell").eval(&it));
        assert!(q("user~nobody OR command~(power|cmd)shell").eval(&it));
        assert!(q("not (user~nobody or rank>10)").eval(&it));
        assert!(q("hosts<=3 AND hosts>=3 AND rank<8 AND rank>6").eval(&it));
        assert!(!q("hosts<3").eval(&it));
        assert!(q("flags~tmp-mod").eval(&it));
        assert!(q("command!~cmd.exe").eval(&it));
        assert!(q("\"-enc abc\"").eval(&it));
        assert!(!q("\"-enc xyz\"").eval(&it));
    }

    #[test]
    fn the_list_abbreviations_and_aliases_resolve() {
        assert_eq!(resolve("Task", FIELDS).as_deref(), Some("name"));
        assert_eq!(resolve("event", FIELDS).as_deref(), Some("event_id"));
        assert_eq!(resolve("prevalence", FIELDS).as_deref(), Some("hosts"));
        assert_eq!(resolve("PRINCIPAL", FIELDS).as_deref(), Some("principal"));
        assert_eq!(resolve("Task_Name", FIELDS).as_deref(), Some("task_name"));
        assert_eq!(resolve("foo", FIELDS), None);
    }

    #[test]
    fn errors_say_where() {
        let e = Query::parse("user=x AND foo~bar", FIELDS).unwrap_err();
        assert_eq!(e.at, 11);
        assert!(e.message.contains("unknown field \"foo\""), "{e}");
        assert!(e.message.contains("task_name"), "{e}");
        let e = Query::parse("command~(unclosed", FIELDS).unwrap_err();
        assert_eq!(e.at, 8);
        assert!(e.message.starts_with("bad regex"), "{e}");
        assert!(!e.message.contains('\n'), "{e}");
        let e = Query::parse("(user=x", FIELDS).unwrap_err();
        assert_eq!((e.at, e.message.as_str()), (0, "a ( that is never closed"));
        let e = Query::parse("user=x)", FIELDS).unwrap_err();
        assert_eq!(e.at, 6);
        let e = Query::parse("user=x AND", FIELDS).unwrap_err();
        assert_eq!(e.at, 10);
        let e = Query::parse("hosts<=many", FIELDS).unwrap_err();
        assert_eq!(e.at, 7);
        let e = Query::parse("\"open", FIELDS).unwrap_err();
        assert_eq!(
            (e.at, e.message.as_str()),
            (0, "a quote that is never closed")
        );
        let deep = format!("{}x{}", "(".repeat(200), ")".repeat(200));
        assert!(Query::parse(&deep, FIELDS).is_err());
        let nots = format!("{}x", "NOT ".repeat(500));
        assert!(Query::parse(&nots, FIELDS).is_err());
    }

    #[test]
    fn printed_queries_read_back_the_same() {
        for s in [
            "user=x AND (command~\"a b\" OR NOT flags~tmp)",
            "\"and\" OR name=\"\\\\Microsoft\\\\x (1)\"",
            "hosts<=2",
            // A bare quoted value that looks like a term (found by examples/fuzz.rs).
            "\"ame=\\\\Adobe\" OR user=a=b",
        ] {
            let once = q(s).expr().to_string();
            let twice = q(&once).expr().to_string();
            assert_eq!(once, twice, "{s}");
        }
    }

    /// Every spacing of a term means the same (spaces around an operator once made
    /// `hosts <= 2` a search for three words).
    #[test]
    fn spaces_around_operators_change_nothing() {
        let it = item();
        for (query, expect) in [
            ("hosts<=3", true),
            ("hosts<3", false),
            ("user=corp\\jdoe", true),
            ("user!=corp\\jdoe", false),
            ("command~power AND rank>6", true),
            ("NOT user~nobody", true),
            ("(flags~tmp OR rank>=8) AND user=\"corp\\jdoe\"", true),
        ] {
            let canonical = q(query).expr().to_string();
            assert_eq!(q(query).eval(&it), expect, "{query}");
            // Every operator with spaces before, after, around it, and tabs.
            for (before, after) in [(" ", ""), ("", " "), (" ", " "), ("  \t", "\t ")] {
                let mut spaced = query.to_string();
                for (sym, _) in Op::ALL {
                    let mut out = String::new();
                    let mut rest = spaced.as_str();
                    while let Some(k) = rest.find(sym) {
                        // `<` inside `<=` was spaced already as `<=`.
                        let left = &rest[..k];
                        let prev = left.chars().last();
                        let whole = !matches!(prev, Some('<' | '>' | '!' | '=' | '~'))
                            && !rest[k + sym.len()..].starts_with(['=', '~']);
                        out.push_str(left);
                        if whole {
                            out.push_str(before);
                            out.push_str(sym);
                            out.push_str(after);
                        } else {
                            out.push_str(sym);
                        }
                        rest = &rest[k + sym.len()..];
                    }
                    out.push_str(rest);
                    spaced = out;
                }
                let parsed =
                    Query::parse(&spaced, FIELDS).unwrap_or_else(|e| panic!("{spaced:?}: {e}"));
                assert_eq!(parsed.expr().to_string(), canonical, "{spaced:?}");
                assert_eq!(parsed.eval(&it), expect, "{spaced:?}");
            }
        }
    }

    /// A dated item: first seen 2026-10-05 12:00, last seen 2026-10-06 12:00, in data whose
    /// newest time is 2026-10-10 00:00.
    struct Dated;

    impl Item for Dated {
        fn values(&self, field: &str, _numeric: bool) -> Vec<std::borrow::Cow<'_, str>> {
            let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_microsecond();
            let first = t("2026-10-05T12:00:00Z");
            let last = t("2026-10-06T12:00:00Z");
            match field {
                "first_seen" => vec![first.to_string().into()],
                "last_seen" => vec![last.to_string().into()],
                "time" => vec![first.to_string().into(), last.to_string().into()],
                _ => Vec::new(),
            }
        }
        fn any_matches(&self, _re: &Regex) -> bool {
            false
        }
        fn reference_time(&self) -> Option<i64> {
            Some(
                "2026-10-10T00:00:00Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    .as_microsecond(),
            )
        }
    }

    #[test]
    fn times_compare_with_dates_and_ages() {
        let yes = |s: &str| assert!(q(s).eval(&Dated), "{s}");
        let no = |s: &str| assert!(!q(s).eval(&Dated), "{s}");
        yes("first_seen > 2026-10-05");
        no("first_seen > 2026-10-06");
        yes("first_seen < 2026-10-05T13:00");
        yes("last_seen >= 2026-10-06T12:00:00Z");
        // Ages count back from the newest time in the data (2026-10-10).
        yes("last_seen < 4d");
        no("last_seen < 3d");
        yes("first_seen > 4d");
        yes("time < 100h AND time > 4d");
        no("last_seen < 1w AND first_seen < 1d");
        let e = Query::parse("last_seen < yesterday", FIELDS).unwrap_err();
        assert!(e.message.contains("takes a date"), "{e}");
        assert_eq!(e.at, 12);
    }

    #[test]
    fn an_unknown_field_names_the_closest() {
        let e = Query::parse("usr=x", FIELDS).unwrap_err();
        assert!(e.message.contains("did you mean user?"), "{e}");
        let e = Query::parse("comand ~ x", FIELDS).unwrap_err();
        assert!(e.message.contains("did you mean command?"), "{e}");
        let e = Query::parse("principle=x", FIELDS).unwrap_err();
        assert!(e.message.contains("did you mean principal?"), "{e}");
        let e = Query::parse("zzz=x", FIELDS).unwrap_err();
        assert!(!e.message.contains("did you mean"), "{e}");
    }

    #[test]
    fn prevalence_is_one_more_term() {
        let base = q("user~jdoe");
        let with = Query::with_max_hosts(Some(&base), Some(2)).unwrap();
        assert_eq!(with.text(), "user~jdoe AND hosts<=2");
        assert_eq!(with.max_hosts(), Some(2));
        let again = Query::with_max_hosts(Some(&with), Some(5)).unwrap();
        assert_eq!(again.text(), "user~jdoe AND hosts<=5");
        let off = Query::with_max_hosts(Some(&again), None).unwrap();
        assert_eq!(off.text(), "user~jdoe");
        assert!(Query::with_max_hosts(None, None).is_none());
        let or = q("a OR b");
        let with = Query::with_max_hosts(Some(&or), Some(1)).unwrap();
        assert_eq!(with.text(), "(a OR b) AND hosts<=1");
    }
}
