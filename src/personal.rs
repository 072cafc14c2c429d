//! Phone and resident identity-card numbers: recognised in the fields of an
//! event (which are then refused) and masked in any text kept about a
//! refused record (docs/privacy.md, "Personal numbers at ingest").
//!
//! A mobile number is 11 digits, after an optional `tel:`, `+86`, `0086` or
//! `86`; an identity-card number is 18 characters (17 digits and a digit or
//! `X`) or, the old kind, 15 digits. Spaces, dashes and full-width digits
//! inside are seen through. Landlines are not recognised (7 to 8 digits
//! after an area code look like too many ordinary ids).

use std::borrow::Cow;

/// What `field` looks like when it is a phone or identity-card number.
pub fn identifier(field: &str) -> Option<&'static str> {
    let trimmed = field.trim();
    let rest = strip_tel(trimmed);
    let mut compact = String::with_capacity(rest.len());
    for c in rest.chars() {
        match normal(c) {
            Some(Char::Digit(d)) => compact.push(d),
            Some(Char::Plus) => compact.push('+'),
            Some(Char::X) => compact.push('X'),
            Some(Char::Separator) => {}
            None => return None,
        }
    }
    classify(&compact).map(|(kind, _)| kind)
}

/// `text` with every phone or identity-card number in it masked (a mobile
/// number keeps its first 3 and last 4 digits, `138****8000`; an identity
/// card its first 3 and last 4 characters). Borrowed when there is none.
pub fn mask(text: &str) -> Cow<'_, str> {
    // Groups: runs of digits (a leading plus, a final X) with their byte
    // range, and whether a separator (space, dash) joins each to the next.
    let mut groups: Vec<(usize, usize, String, bool)> = Vec::new();
    let mut current: Option<(usize, usize, String)> = None;
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        match normal(c) {
            Some(Char::Digit(d)) => match &mut current {
                Some((_, stop, digits)) if !digits.ends_with('X') => {
                    digits.push(d);
                    *stop = end;
                }
                _ => {
                    if let Some((start, stop, digits)) = current.take() {
                        groups.push((start, stop, digits, false));
                    }
                    current = Some((at, end, d.to_string()));
                }
            },
            Some(Char::Plus) => {
                if let Some((start, stop, digits)) = current.take() {
                    groups.push((start, stop, digits, false));
                }
                current = Some((at, end, "+".to_string()));
            }
            // An identity card's last character; `classify` decides.
            Some(Char::X)
                if current
                    .as_ref()
                    .is_some_and(|(_, _, d)| d.ends_with(|c: char| c.is_ascii_digit())) =>
            {
                let (_, stop, digits) = current.as_mut().expect("checked");
                digits.push('X');
                *stop = end;
            }
            Some(Char::Separator) if current.is_some() => {
                let (start, stop, digits) = current.take().expect("checked");
                groups.push((start, stop, digits, true));
                continue;
            }
            _ => {
                if let Some((start, stop, digits)) = current.take() {
                    groups.push((start, stop, digits, false));
                }
                // A separator not followed by a digit joins nothing.
                if let Some(last) = groups.last_mut() {
                    last.3 = false;
                }
            }
        }
    }
    if let Some((start, stop, digits)) = current.take() {
        groups.push((start, stop, digits, false));
    }
    // Windows of joined groups, longest first from each group on.
    let mut out = String::new();
    let mut copied = 0;
    let mut g = 0;
    while g < groups.len() {
        let mut last = g;
        while last + 1 < groups.len() && groups[last].3 {
            last += 1;
        }
        let mut found = None;
        'window: for b in (g..=last).rev() {
            let compact: String = groups[g..=b].iter().map(|x| x.2.as_str()).collect();
            if let Some((_, masked)) = classify(&compact) {
                found = Some((b, masked));
                break 'window;
            }
        }
        match found {
            Some((b, masked)) => {
                out.push_str(&text[copied..groups[g].0]);
                out.push_str(&masked);
                copied = groups[b].1;
                g = b + 1;
            }
            None => g += 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

enum Char {
    Digit(char),
    Plus,
    X,
    Separator,
}

/// A character as the rules see it: full-width digits and signs are their
/// ASCII selves.
fn normal(c: char) -> Option<Char> {
    match c {
        '0'..='9' => Some(Char::Digit(c)),
        '０'..='９' => Some(Char::Digit(
            char::from_u32(c as u32 - '０' as u32 + '0' as u32).expect("a digit"),
        )),
        '+' | '＋' => Some(Char::Plus),
        'X' | 'x' | 'Ｘ' | 'ｘ' => Some(Char::X),
        ' ' | '-' | '－' | '\u{3000}' | '\u{2010}' | '\u{2013}' => Some(Char::Separator),
        _ => None,
    }
}

fn strip_tel(s: &str) -> &str {
    match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("tel:") => s[4..].trim_start(),
        _ => s,
    }
}

/// What `compact` (digits, a leading `+`, a final `X`) is, and its mask.
fn classify(compact: &str) -> Option<(&'static str, String)> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let national = compact
        .strip_prefix("+86")
        .or_else(|| compact.strip_prefix("0086"))
        .or_else(|| compact.strip_prefix("86").filter(|r| r.len() == 11))
        .unwrap_or(compact);
    if national.len() == 11 && digits(national) {
        return Some((
            "an 11-digit mobile phone number",
            format!("{}****{}", &national[..3], &national[7..]),
        ));
    }
    let id17 = compact.len() == 18 && digits(&compact[..17]);
    if id17 && (compact.as_bytes()[17].is_ascii_digit() || compact.ends_with('X')) {
        return Some((
            "an 18-character resident identity card number",
            format!("{}{}{}", &compact[..3], "*".repeat(11), &compact[14..]),
        ));
    }
    if compact.len() == 15 && digits(compact) {
        return Some((
            "a 15-digit resident identity card number",
            format!("{}{}{}", &compact[..3], "*".repeat(8), &compact[11..]),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_of_writing_a_number_is_recognised() {
        for phone in [
            "13800138000",
            "tel:13800138000",
            "TEL: 138 0013 8000",
            "+8613800138000",
            "+86 138-0013-8000",
            "8613800138000",
            "008613800138000",
            "１３８００１３８０００",
            "８６１３８００１３８０００",
            "＋８６ １３８－００１３－８０００",
        ] {
            assert_eq!(
                identifier(phone),
                Some("an 11-digit mobile phone number"),
                "{phone}"
            );
        }
        for id in [
            "11010519491231002X",
            "11010519491231002x",
            "１１０１０５１９４９１２３１００２Ｘ",
        ] {
            assert_eq!(
                identifier(id),
                Some("an 18-character resident identity card number"),
                "{id}"
            );
        }
        assert_eq!(
            identifier("110105491231002"),
            Some("a 15-digit resident identity card number")
        );
        for fine in [
            "p-00000001",
            "p-7f3a9c21",
            "launch-hall",
            "丰台健康团队",
            "1380013800",
            "1380013800012345",
            "e-13800138000",
        ] {
            assert_eq!(identifier(fine), None, "{fine}");
        }
    }

    #[test]
    fn numbers_are_masked_wherever_they_are_in_a_text() {
        assert_eq!(
            mask(r#"{"person":"13800138000","team":"tel:+86 138-0013-8000"}"#),
            r#"{"person":"138****8000","team":"tel:138****8000"}"#
        );
        assert_eq!(mask("８６１３８００１３８０００"), "138****8000");
        assert_eq!(
            mask("id 11010519491231002X end"),
            "id 110***********002X end"
        );
        assert_eq!(mask("110105491231002"), "110********1002");
        assert_eq!(
            mask("line,2017-06-28T10:00:00+08:00,scan,110106,13800138000"),
            "line,2017-06-28T10:00:00+08:00,scan,110106,138****8000"
        );
        // Nothing to mask: the same text, not a copy.
        assert!(matches!(
            mask("p-00000001 scanned at 110106"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            mask("1380013800 and 2017-06-28"),
            Cow::Borrowed(_)
        ));
        // Numbers side by side: each is looked at on its own.
        assert_eq!(mask("110106 13800138000"), "110106 138****8000");
        assert_eq!(mask("e-13800138000"), "e-138****8000");
        assert_eq!(mask("ID 110105 19491231 002X."), "ID 110***********002X.");
    }
}
