//! Text cut to a width, saying where it was cut: an ellipsis at the end, or in the middle of
//! a path so that where it starts and what it is called stay.

/// `s` cut to `width` characters, ending with `…` where it was cut.
pub fn end_ellipsis(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// A name and the count of its other spellings in `width` characters: ` (+N variants)` where
/// there is room, else ` (+N)`, and the name cut in the middle (keeping its leaf) only for
/// what is left.
pub fn name_cell(name: &str, variants: u32, width: usize) -> String {
    if variants == 0 {
        return middle_ellipsis(name, width);
    }
    let long = format!(" (+{variants} variants)");
    let short = format!(" (+{variants})");
    let n = name.chars().count();
    if n + long.chars().count() <= width {
        return format!("{name}{long}");
    }
    let room = width.saturating_sub(short.chars().count());
    if room < 8 {
        return middle_ellipsis(name, width);
    }
    format!("{}{short}", middle_ellipsis(name, room))
}

/// A path cut in the middle to `width` characters: `\Microsoft\…\Consolidator` keeps
/// where it starts and what it is called; a text without separators keeps both ends.
pub fn middle_ellipsis(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width < 5 {
        return s.chars().take(width).collect();
    }
    let parts: Vec<&str> = s.split('\\').collect();
    if parts.len() > 2 {
        // The first component (after a leading separator) and as many last ones as fit.
        let head = if parts[0].is_empty() {
            format!("\\{}", parts[1])
        } else {
            parts[0].to_string()
        };
        let first_tail = if parts[0].is_empty() { 2 } else { 1 };
        let mut tail = String::new();
        for p in parts[first_tail..].iter().rev() {
            let next = format!("\\{p}{tail}");
            if head.chars().count() + 2 + next.chars().count() > width {
                break;
            }
            tail = next;
        }
        if !tail.is_empty() {
            return format!("{head}\\…{tail}");
        }
    }
    if parts.len() > 1 {
        // No room for where it starts: what it is called.
        let last = format!("\\{}", parts[parts.len() - 1]);
        if last.chars().count() < width {
            return format!("…{last}");
        }
    }
    let keep = width - 1;
    let front = keep / 2;
    let back = keep - front;
    let head: String = s.chars().take(front).collect();
    let tail: String = s.chars().skip(n - back).collect();
    format!("{head}…{tail}")
}
