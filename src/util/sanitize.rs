//! Strings from logs are attacker-controlled. These helpers make them harmless where they
//! leave the program: on a terminal, and in a spreadsheet.

/// Characters that change how text displays without being visible: bidirectional overrides
/// and isolates (the "Trojan Source" trick), zero-width characters, the BOM.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
        | '\u{061C}' | '\u{FEFF}' | '\u{00AD}')
}

/// Make `s` safe to print on a terminal: control characters (escape sequences start with
/// one), C1 controls, bidirectional overrides and zero-width characters become visible
/// `\xNN` / `\u{NNNN}` escapes; line breaks and tabs become spaces. At most `max_chars`
/// characters are kept (an ellipsis marks the cut).
pub fn for_terminal(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_mul(4)));
    for (n, c) in s.chars().enumerate() {
        if n >= max_chars {
            out.push('…');
            break;
        }
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{7F}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if ('\u{80}'..='\u{9F}').contains(&c) || is_invisible_format(c) => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Defuse spreadsheet formula injection in a CSV cell: a value a spreadsheet would evaluate
/// (starting with `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`.
pub fn csv_cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        let s = for_terminal("a\x1b[2Jb\u{202E}c\u{200B}d\ne\u{9b}", 100);
        assert_eq!(s, "a\\x1b[2Jb\\u{202e}c\\u{200b}d e\\u{009b}");
        assert!(!s.chars().any(|c| c.is_control()));
    }

    #[test]
    fn truncates_long_values() {
        assert_eq!(for_terminal("abcdef", 3), "abc…");
        assert_eq!(for_terminal("abc", 3), "abc");
    }

    #[test]
    fn defuses_formulas() {
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("C:\\x.exe"), "C:\\x.exe");
    }
}
