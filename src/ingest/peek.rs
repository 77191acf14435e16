//! A record's channel, event id and computer, read straight from its BinXML before it is
//! rendered.
//!
//! On a real collection most records belong to no profile (a Security log is mostly logons),
//! and rendering a record into fields costs far more than reading its chunk. The `System`
//! element comes first in every record, so a short walk of its tokens finds `EventID` and
//! `Channel`: in a record written without templates their text follows them; in the usual
//! template instance they are substitutions, whose index the template definition (in the
//! same chunk) gives and whose value the instance's substitution array holds.
//!
//! Every read is bounds-checked and the walk is capped: anything unexpected (an unknown
//! token, a value type of unknown size, a name outside the chunk) gives `None`, and the
//! record is rendered and judged on its fields as before. A test checks the peek against
//! the rendered record for every record of the real sample logs.

use evtx::EvtxRecord;

/// Tokens looked at before giving up (a `System` element has a few dozen).
const MAX_TOKENS: usize = 256;

/// What the peek read: the channel and the computer as UTF-16LE bytes of the chunk (empty
/// when the record has none; decoded only when a caller needs the text) and the event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peeked<'a> {
    pub channel_utf16: &'a [u8],
    pub event_id: u32,
    pub computer_utf16: &'a [u8],
}

impl Peeked<'_> {
    /// The channel as the log spells it.
    pub fn channel(&self) -> String {
        utf16(self.channel_utf16)
    }

    /// The computer as the log spells it.
    pub fn computer(&self) -> String {
        utf16(self.computer_utf16)
    }
}

/// The channel and event id of `record`, or `None` when they cannot be read cheaply.
pub fn channel_and_id<'a>(record: &EvtxRecord<'a>) -> Option<Peeked<'a>> {
    let chunk = record.chunk.data;
    let start = usize::try_from(record.binxml_offset).ok()?;
    let end = start.checked_add(record.binxml_size as usize)?;
    if end > chunk.len() {
        return None;
    }
    peek(chunk, start, end)
}

/// [`channel_and_id`] on a chunk's bytes and the record's BinXML window in it.
pub(crate) fn peek<'a>(chunk: &'a [u8], start: usize, end: usize) -> Option<Peeked<'a>> {
    let mut c = Cursor {
        buf: chunk,
        pos: start,
        end,
    };
    if c.peek_u8()? == FRAGMENT_HEADER {
        c.skip(4)?;
    }
    if c.peek_u8()? == TEMPLATE_INSTANCE {
        c.skip(1)?;
        return from_template(chunk, &mut c);
    }
    let found = walk(chunk, &mut c, false)?;
    let event_id = match found.event_id? {
        Found::Text(t) => t.id()?,
        Found::Substitution(_) => return None,
    };
    let text = |f: Option<Found<'a>>| match f {
        Some(Found::Text(Text::Utf16(t))) => Some(t),
        None => Some(&[][..]),
        Some(_) => None,
    };
    Some(Peeked {
        channel_utf16: text(found.channel)?,
        event_id,
        computer_utf16: text(found.computer)?,
    })
}

const FRAGMENT_HEADER: u8 = 0x0f;
const TEMPLATE_INSTANCE: u8 = 0x0c;

/// A template instance: its definition says where EventID and Channel come from, its
/// substitution array holds their values.
fn from_template<'a>(chunk: &'a [u8], c: &mut Cursor<'a>) -> Option<Peeked<'a>> {
    c.skip(1)?; // unknown
    let _template_id = c.u32()?;
    let def_offset = c.u32()? as usize;
    if c.pos == def_offset {
        // The definition is inline, right here: skip it.
        c.skip(4 + 16)?;
        let size = c.u32()? as usize;
        c.skip(size)?;
    }
    // The definition: next offset (4), GUID (16), data size (4), then its BinXML.
    let mut d = Cursor {
        buf: chunk,
        pos: def_offset,
        end: chunk.len(),
    };
    d.skip(4 + 16)?;
    let size = d.u32()? as usize;
    let body_start = d.pos;
    d.end = body_start.checked_add(size)?.min(chunk.len());
    if d.peek_u8()? == FRAGMENT_HEADER {
        d.skip(4)?;
    }
    let found = walk(chunk, &mut d, true)?;
    // The substitution array: count, then (size u16, type u8, padding u8) per value, then
    // the values one after another.
    let n = c.u32()? as usize;
    if n > 4096 {
        return None;
    }
    let descriptors = c.pos;
    c.skip(n.checked_mul(4)?)?;
    let value = |i: u16| -> Option<(u8, &[u8])> {
        let i = i as usize;
        if i >= n {
            return None;
        }
        let mut at = c.pos;
        for k in 0..i {
            let size = u16::from_le_bytes(
                chunk
                    .get(descriptors + 4 * k..descriptors + 4 * k + 2)?
                    .try_into()
                    .ok()?,
            );
            at = at.checked_add(size as usize)?;
        }
        let size = u16::from_le_bytes(
            chunk
                .get(descriptors + 4 * i..descriptors + 4 * i + 2)?
                .try_into()
                .ok()?,
        ) as usize;
        let ty = *chunk.get(descriptors + 4 * i + 2)?;
        Some((ty, chunk.get(at..at.checked_add(size)?)?))
    };
    let event_id = match found.event_id? {
        Found::Text(t) => t.id()?,
        Found::Substitution(i) => {
            let (ty, bytes) = value(i)?;
            match ty {
                0x04 => u32::from(*bytes.first()?),
                0x06 => u32::from(u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?)),
                0x08 => u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?),
                0x01 => Text::Utf16(bytes).id()?,
                _ => return None,
            }
        }
    };
    let text = |f: Option<Found<'a>>| match f {
        None => Some(&[][..]),
        Some(Found::Text(Text::Utf16(t))) => Some(t),
        Some(Found::Text(Text::Number(_))) => None,
        Some(Found::Substitution(i)) => {
            let (ty, bytes) = value(i)?;
            match ty {
                0x00 => Some(&[][..]),
                0x01 => Some(bytes),
                _ => None,
            }
        }
    };
    Some(Peeked {
        channel_utf16: text(found.channel)?,
        event_id,
        computer_utf16: text(found.computer)?,
    })
}

/// An element's text as it stands in the chunk.
#[derive(Debug, Clone, Copy)]
enum Text<'a> {
    Utf16(&'a [u8]),
    Number(u64),
}

impl Text<'_> {
    /// The text as an event id: digits with blanks around (no allocation).
    fn id(self) -> Option<u32> {
        match self {
            Text::Number(n) => u32::try_from(n).ok(),
            Text::Utf16(b) => {
                let units = b.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]]));
                let mut digits = units
                    .skip_while(|&u| u == u16::from(b' '))
                    .take_while(|&u| u != 0 && u != u16::from(b' '));
                let mut v: u32 = 0;
                let mut any = false;
                for u in digits.by_ref() {
                    let d = char::from_u32(u32::from(u))?.to_digit(10)?;
                    v = v.checked_mul(10)?.checked_add(d)?;
                    any = true;
                }
                any.then_some(v)
            }
        }
    }
}

/// Decode UTF-16LE, dropping trailing NULs.
fn utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    let s = String::from_utf16_lossy(&units);
    s.trim_end_matches('\0').to_string()
}

/// Where an element's text comes from.
#[derive(Debug)]
enum Found<'a> {
    Text(Text<'a>),
    Substitution(u16),
}

#[derive(Debug, Default)]
struct Wanted<'a> {
    event_id: Option<Found<'a>>,
    channel: Option<Found<'a>>,
    computer: Option<Found<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    System,
    EventId,
    Channel,
    Computer,
    Other,
}

/// Walk tokens until the `System` element closes (or both are found); `template` says the
/// stream is a template definition (element starts carry a dependency id, text can be a
/// substitution). `None` on anything unexpected.
fn walk<'a>(chunk: &'a [u8], c: &mut Cursor<'a>, template: bool) -> Option<Wanted<'a>> {
    let mut found = Wanted::default();
    // Open elements (no allocation: the walk is per record); deeper than this gives up.
    let mut stack = Stack::default();
    // The element whose start tag is open (attributes may follow).
    let mut pending: Option<Elem> = None;
    let mut seen_system = false;
    for _ in 0..MAX_TOKENS {
        if found.event_id.is_some() && found.channel.is_some() && found.computer.is_some() {
            return Some(found);
        }
        let token = c.u8()?;
        match token {
            0x00 => return Some(found),
            0x01 | 0x41 => {
                if template {
                    c.skip(2)?;
                }
                c.skip(4)?; // data size
                let name = name_at(chunk, c)?;
                if token & 0x40 != 0 {
                    c.skip(4)?; // attribute list size
                }
                let parent = stack.last();
                pending = Some(match (parent, name) {
                    (_, Name::System) if stack.len() == 1 => Elem::System,
                    (Some(Elem::System), Name::EventId) => Elem::EventId,
                    (Some(Elem::System), Name::Channel) => Elem::Channel,
                    (Some(Elem::System), Name::Computer) => Elem::Computer,
                    _ => Elem::Other,
                });
            }
            0x02 => {
                let e = pending.take()?;
                seen_system |= e == Elem::System;
                stack.push(e)?;
            }
            0x03 => {
                pending.take()?;
            }
            0x04 => {
                if stack.pop()? == Elem::System {
                    return Some(found);
                }
            }
            0x05 | 0x45 => {
                let text = value_text(c)?;
                if pending.is_none() {
                    match stack.last() {
                        Some(Elem::EventId) => found.event_id = Some(Found::Text(text?)),
                        Some(Elem::Channel) => found.channel = Some(Found::Text(text?)),
                        Some(Elem::Computer) => found.computer = Some(Found::Text(text?)),
                        _ => {}
                    }
                }
            }
            0x06 | 0x46 => {
                name_at(chunk, c)?;
            }
            0x0d | 0x0e => {
                let index = c.u16()?;
                c.skip(1)?;
                if !template {
                    return None;
                }
                if pending.is_none() {
                    match stack.last() {
                        Some(Elem::EventId) => found.event_id = Some(Found::Substitution(index)),
                        Some(Elem::Channel) => found.channel = Some(Found::Substitution(index)),
                        Some(Elem::Computer) => found.computer = Some(Found::Substitution(index)),
                        _ => {}
                    }
                }
            }
            0x07 | 0x47 => {
                let n = c.u16()? as usize;
                c.skip(n * 2)?;
            }
            0x08 | 0x48 => c.skip(2)?,
            0x09 | 0x49 => {
                name_at(chunk, c)?;
            }
            _ => return None,
        }
        if stack.is_empty() && seen_system {
            return Some(found);
        }
    }
    None
}

/// A fixed-size stack of open elements.
#[derive(Default)]
struct Stack {
    items: [Option<Elem>; 16],
    len: usize,
}

impl Stack {
    fn push(&mut self, e: Elem) -> Option<()> {
        *self.items.get_mut(self.len)? = Some(e);
        self.len += 1;
        Some(())
    }
    fn pop(&mut self) -> Option<Elem> {
        self.len = self.len.checked_sub(1)?;
        self.items[self.len].take()
    }
    fn last(&self) -> Option<Elem> {
        self.len.checked_sub(1).and_then(|i| self.items[i])
    }
    fn len(&self) -> usize {
        self.len
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Name {
    System,
    EventId,
    Channel,
    Computer,
    Other,
}

/// Read a name reference (offset u32, the name inline when it points right after itself)
/// and say which of the names we look for it is.
fn name_at(chunk: &[u8], c: &mut Cursor<'_>) -> Option<Name> {
    let offset = c.u32()? as usize;
    // A name: next offset (4), hash (2), length in UTF-16 units (2), the units, a NUL.
    let len = u16::from_le_bytes(chunk.get(offset + 6..offset + 8)?.try_into().ok()?) as usize;
    let units = chunk.get(offset + 8..offset + 8 + len * 2)?;
    if offset == c.pos {
        c.skip(8 + len * 2 + 2)?;
    }
    let is = |s: &str| {
        s.len() == len
            && s.bytes()
                .zip(units.chunks_exact(2))
                .all(|(b, u)| u == [b, 0])
    };
    Some(if is("System") {
        Name::System
    } else if is("EventID") {
        Name::EventId
    } else if is("Channel") {
        Name::Channel
    } else if is("Computer") {
        Name::Computer
    } else {
        Name::Other
    })
}

/// A value token's text: `Some(Some(text))` for a string or an integer, `Some(None)` for
/// another type of known size (skipped), `None` for a type whose size we do not know.
fn value_text<'a>(c: &mut Cursor<'a>) -> Option<Option<Text<'a>>> {
    let ty = c.u8()?;
    let int = |b: &[u8]| -> u64 {
        let mut v = [0u8; 8];
        v[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(v)
    };
    let text = match ty {
        0x01 => {
            let n = c.u16()? as usize;
            Some(Text::Utf16(c.take(n * 2)?))
        }
        0x04 | 0x06 | 0x08 | 0x0a => {
            let size = match ty {
                0x04 => 1,
                0x06 => 2,
                0x08 => 4,
                _ => 8,
            };
            Some(Text::Number(int(c.take(size)?)))
        }
        0x00 => None,
        0x03 => c.skip(1).map(|_| None)?,
        0x05 => c.skip(2).map(|_| None)?,
        0x07 | 0x0b | 0x0d | 0x14 => c.skip(4).map(|_| None)?,
        0x09 | 0x0c | 0x11 | 0x15 => c.skip(8).map(|_| None)?,
        0x0f | 0x12 => c.skip(16).map(|_| None)?,
        _ => return None,
    };
    Some(text)
}

/// A bounds-checked reader over a chunk.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let to = self.pos.checked_add(n)?;
        if to > self.end {
            return None;
        }
        let s = self.buf.get(self.pos..to)?;
        self.pos = to;
        Some(s)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
    fn peek_u8(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.buf.get(self.pos).copied())?
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics_and_gives_up() {
        // Every prefix and a few byte patterns of a made-up stream: no panic, no answer.
        let bytes: Vec<u8> = (0..600u32).map(|i| (i * 37 % 251) as u8).collect();
        for end in 0..bytes.len() {
            let _ = peek(&bytes, 0, end);
        }
        assert_eq!(peek(&[], 0, 0), None);
        assert_eq!(peek(&[0x0f, 1, 1, 0, 0x0c], 0, 5), None);
    }
}
