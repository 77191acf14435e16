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
//!
//! A profile's gates ([`crate::profile::Profile::gates`]) go one step further for the
//! sources they name: [`Peeked::may_hold`] tests every text of the unrendered record, and a
//! record none of whose texts passes is passed over like one of an unwanted event id.

use evtx::EvtxRecord;

/// Tokens looked at before giving up (a `System` element has a few dozen).
const MAX_TOKENS: usize = 256;

/// What the peek read: the channel and the computer as UTF-16LE bytes of the chunk (empty
/// when the record has none; decoded only when a caller needs the text) and the event id,
/// and where the rest of the record's text lies ([`Peeked::may_hold`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peeked<'a> {
    pub channel_utf16: &'a [u8],
    pub event_id: u32,
    pub computer_utf16: &'a [u8],
    chunk: &'a [u8],
    /// The record's BinXML window in the chunk.
    body: (usize, usize),
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

    /// Whether some text of the record, as it will be rendered, may pass `test`: `false` only
    /// when every piece of text was read and none passes. Each element's content and each
    /// attribute's value must be a single piece (one literal or one substitution: what the
    /// crate renders is then that piece, never a concatenation); string values are also tried
    /// piece by piece between NULs, and nested XML values are read the same way (up to
    /// four deep). A shape not read this way (CDATA, character or entity
    /// references, ANSI strings, a spent budget, anything unexpected) gives `true`: the
    /// record is rendered and judged on its fields.
    pub fn may_hold(&self, test: fn(&str) -> bool) -> bool {
        self.texts_pass(test).unwrap_or(true)
    }

    fn texts_pass(&self, test: fn(&str) -> bool) -> Option<bool> {
        let mut budget = MAX_STEPS;
        fragment_pass(self.chunk, self.body, test, 0, &mut budget)
    }
}

/// Nested XML values read inside one another before giving up.
const MAX_NESTING: usize = 4;

/// Tokens and values [`Peeked::may_hold`] reads in one record before giving up (a real
/// record has a few hundred).
const MAX_STEPS: usize = 16_384;

/// One more step of the budget, or `None` when it is spent.
fn step(budget: &mut usize) -> Option<()> {
    *budget = budget.checked_sub(1)?;
    Some(())
}

/// Whether some text of the BinXML fragment at `start..end` passes `test` (see
/// [`Peeked::may_hold`]): its literal text, and in a template instance its definition's
/// literals and every value of its substitution array, nested XML values read the same way.
fn fragment_pass(
    chunk: &[u8],
    (start, end): (usize, usize),
    test: fn(&str) -> bool,
    depth: usize,
    budget: &mut usize,
) -> Option<bool> {
    if depth > MAX_NESTING {
        return None;
    }
    let mut c = fragment(chunk, start, end)?;
    if c.peek_u8()? != TEMPLATE_INSTANCE {
        return literals_pass(chunk, &mut c, false, test, &mut Vec::new(), budget);
    }
    c.skip(1)?;
    let inst = instance(chunk, &mut c)?;
    let mut d = inst.definition(chunk);
    // Substitutions the definition places where nested XML goes.
    let mut nested = Vec::new();
    if literals_pass(chunk, &mut d, true, test, &mut nested, budget)? {
        return Some(true);
    }
    let mut read = 0;
    for (k, ty, at, size) in inst.values(chunk) {
        step(budget)?;
        read += 1;
        // Values lie within the fragment: nested ones are smaller than their parent.
        let to = at.checked_add(size)?;
        if to > end {
            return None;
        }
        let bytes = chunk.get(at..to)?;
        match ty {
            // Null, numbers, GUIDs, times, SIDs, binary and their arrays: digits, hex and
            // punctuation, never a name.
            0x00 | 0x03..=0x15 | 0x83..=0x95 => {}
            // A string, or an array of them (NUL-separated); one where nested XML goes
            // would be rendered among other content.
            0x01 | 0x81 => {
                if nested.contains(&k) {
                    return None;
                }
                if utf16_passes(bytes, test) {
                    return Some(true);
                }
            }
            0x21 => {
                if fragment_pass(chunk, (at, to), test, depth + 1, budget)? {
                    return Some(true);
                }
            }
            _ => return None,
        }
    }
    // Every value read, or no answer.
    (read == inst.n).then_some(false)
}

/// A cursor over the BinXML fragment at `start..end` of the chunk, past its header if it
/// has one.
fn fragment(chunk: &[u8], start: usize, end: usize) -> Option<Cursor<'_>> {
    let mut c = Cursor {
        buf: chunk,
        pos: start,
        end,
    };
    if c.peek_u8()? == FRAGMENT_HEADER {
        c.skip(4)?;
    }
    Some(c)
}

/// A template instance's header read: where its definition's BinXML lies and its
/// substitution array.
struct Instance {
    def_start: usize,
    def_end: usize,
    /// `n` descriptors (size u16, type u8, padding u8) at `descriptors`, the values one after
    /// another from `values` on.
    descriptors: usize,
    values: usize,
    n: usize,
}

impl Instance {
    fn definition<'a>(&self, chunk: &'a [u8]) -> Cursor<'a> {
        Cursor {
            buf: chunk,
            pos: self.def_start,
            end: self.def_end,
        }
    }

    /// (index, type, offset in the chunk, size) of each value, in order; stops at a
    /// descriptor outside the chunk.
    fn values<'c>(&self, chunk: &'c [u8]) -> impl Iterator<Item = (u16, u8, usize, usize)> + 'c {
        let (descriptors, n) = (self.descriptors, self.n);
        let mut at = self.values;
        (0..n).map_while(move |k| {
            let d = chunk.get(descriptors + 4 * k..descriptors + 4 * k + 4)?;
            let size = u16::from_le_bytes([d[0], d[1]]) as usize;
            let here = at;
            at = at.checked_add(size)?;
            Some((u16::try_from(k).ok()?, d[2], here, size))
        })
    }

    /// The value at `i`: its type and bytes.
    fn value<'c>(&self, chunk: &'c [u8], i: u16) -> Option<(u8, &'c [u8])> {
        let (_, ty, at, size) = self.values(chunk).nth(usize::from(i))?;
        Some((ty, chunk.get(at..at.checked_add(size)?)?))
    }
}

/// Read a template instance's header (after its token) and its substitution array's
/// descriptors, leaving `c` at the first value.
fn instance(chunk: &[u8], c: &mut Cursor<'_>) -> Option<Instance> {
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
    d.end = d.pos.checked_add(size)?.min(chunk.len());
    if d.peek_u8()? == FRAGMENT_HEADER {
        d.skip(4)?;
    }
    // The substitution array: count, then the descriptors, then the values.
    let n = c.u32()? as usize;
    if n > 4096 {
        return None;
    }
    let descriptors = c.pos;
    c.skip(n.checked_mul(4)?)?;
    Some(Instance {
        def_start: d.pos,
        def_end: d.end,
        descriptors,
        values: c.pos,
        n,
    })
}

/// Whether a UTF-16LE string, whole or any of its NUL-separated pieces, passes `test`.
fn utf16_passes(bytes: &[u8], test: fn(&str) -> bool) -> bool {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    let s = String::from_utf16_lossy(&units);
    test(&s) || (s.contains('\0') && s.split('\0').any(test))
}

/// What an element's content or an attribute's value holds so far ([`literals_pass`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pieces {
    Empty,
    One,
    AfterChild,
}

/// Whether a literal text of a BinXML stream passes `test` (`template`: a definition, whose
/// element starts carry a dependency id and whose text may be substitutions; those declared
/// as nested XML are pushed on `nested`). `None` when the stream holds a shape whose
/// rendering is not one piece per content or attribute value, or the budget is spent.
fn literals_pass(
    chunk: &[u8],
    c: &mut Cursor<'_>,
    template: bool,
    test: fn(&str) -> bool,
    nested: &mut Vec<u16>,
    budget: &mut usize,
) -> Option<bool> {
    // What the current element content or attribute value holds so far.
    let mut state = Pieces::Empty;
    // One more piece of text: only the first of a content or a value.
    let text = |state: &mut Pieces| match state {
        Pieces::Empty => {
            *state = Pieces::One;
            Some(())
        }
        Pieces::One | Pieces::AfterChild => None,
    };
    loop {
        step(budget)?;
        let token = c.u8()?;
        match token {
            0x00 => return Some(false),
            0x01 | 0x41 => {
                // A child after text: mixed content.
                if state == Pieces::One {
                    return None;
                }
                if template {
                    c.skip(2)?;
                }
                c.skip(4)?;
                name_at(chunk, c)?;
                if token & 0x40 != 0 {
                    c.skip(4)?;
                }
            }
            // Close start element: the content begins.
            0x02 => state = Pieces::Empty,
            // Close empty element, end element: the parent's content goes on after a child.
            0x03 | 0x04 => state = Pieces::AfterChild,
            // An attribute: its value follows.
            0x06 | 0x46 => {
                name_at(chunk, c)?;
                state = Pieces::Empty;
            }
            0x05 | 0x45 => {
                text(&mut state)?;
                if let Some(Text::Utf16(t)) = value_text(c)?
                    && utf16_passes(t, test)
                {
                    return Some(true);
                }
            }
            0x0d | 0x0e if template => {
                let index = c.u16()?;
                // Nested XML renders as elements, not text: its values are read on their own.
                if c.u8()? == 0x21 {
                    if nested.len() >= 64 {
                        return None;
                    }
                    nested.push(index);
                } else {
                    text(&mut state)?;
                }
            }
            _ => return None,
        }
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
    let body = (start, end);
    let mut c = fragment(chunk, start, end)?;
    if c.peek_u8()? == TEMPLATE_INSTANCE {
        c.skip(1)?;
        return from_template(chunk, &mut c, body);
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
        chunk,
        body,
    })
}

const FRAGMENT_HEADER: u8 = 0x0f;
const TEMPLATE_INSTANCE: u8 = 0x0c;

/// A template instance: its definition says where EventID and Channel come from, its
/// substitution array holds their values.
fn from_template<'a>(
    chunk: &'a [u8],
    c: &mut Cursor<'a>,
    body: (usize, usize),
) -> Option<Peeked<'a>> {
    let inst = instance(chunk, c)?;
    let found = walk(chunk, &mut inst.definition(chunk), true)?;
    let value = |i: u16| inst.value(chunk, i);
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
        chunk,
        body,
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

    /// A BinXML writer: names inline, sizes left at 0 (the peek never reads them).
    #[derive(Default)]
    struct Bx {
        b: Vec<u8>,
        /// Writing a template definition (element starts carry a dependency id).
        template: bool,
    }

    impl Bx {
        fn u16(&mut self, v: u16) {
            self.b.extend(v.to_le_bytes());
        }
        fn u32(&mut self, v: u32) {
            self.b.extend(v.to_le_bytes());
        }
        fn utf16(&mut self, s: &str) {
            for u in s.encode_utf16() {
                self.u16(u);
            }
        }
        fn name(&mut self, n: &str) {
            let here = self.b.len() as u32 + 4;
            self.u32(here);
            self.u32(0);
            self.u16(0);
            self.u16(n.encode_utf16().count() as u16);
            self.utf16(n);
            self.u16(0);
        }
        fn open(&mut self, n: &str, attributes: bool) {
            self.b.push(if attributes { 0x41 } else { 0x01 });
            if self.template {
                self.u16(0);
            }
            self.u32(0);
            self.name(n);
            if attributes {
                self.u32(0);
            }
        }
        fn attr(&mut self, n: &str) {
            self.b.push(0x06);
            self.name(n);
        }
        fn text(&mut self, t: &str) {
            self.b.extend([0x05, 0x01]);
            self.u16(t.encode_utf16().count() as u16);
            self.utf16(t);
        }
        fn sub(&mut self, index: u16, ty: u8) {
            self.b.push(0x0d);
            self.u16(index);
            self.b.push(ty);
        }
        /// `<name>text</name>`.
        fn leaf(&mut self, n: &str, t: &str) {
            self.open(n, false);
            self.b.push(0x02);
            self.text(t);
            self.b.push(0x04);
        }
        /// `<Event><System>EventID, Channel</System><EventData>data</EventData></Event>`.
        fn event(&mut self, channel: &str, id: &str, data: impl FnOnce(&mut Bx)) {
            self.open("Event", false);
            self.b.push(0x02);
            self.open("System", false);
            self.b.push(0x02);
            self.leaf("EventID", id);
            self.leaf("Channel", channel);
            self.b.push(0x04);
            self.open("EventData", false);
            self.b.push(0x02);
            data(self);
            self.b.extend([0x04, 0x04, 0x00]);
        }
    }

    fn tool(v: &str) -> bool {
        v.to_ascii_lowercase().contains("schtasks") || v == "at"
    }

    /// An inline (template-less) 4688 whose EventData is written by `data`: what the gate
    /// makes of it.
    fn inline(data: impl FnOnce(&mut Bx)) -> bool {
        let mut bx = Bx::default();
        bx.b.extend([0x0f, 1, 1, 0]);
        bx.event("Security", "4688", data);
        let p = peek(&bx.b, 0, bx.b.len()).expect("peeked");
        assert_eq!((p.channel().as_str(), p.event_id), ("Security", 4688));
        p.may_hold(tool)
    }

    /// `<Data Name="NewProcessName">` holding `content`.
    fn data(bx: &mut Bx, content: impl FnOnce(&mut Bx)) {
        bx.open("Data", true);
        bx.attr("Name");
        bx.text("NewProcessName");
        bx.b.push(0x02);
        content(bx);
        bx.b.push(0x04);
    }

    #[test]
    fn the_gate_refuses_only_what_it_read_whole() {
        // Read whole, no task tool: refused; a task tool: through.
        assert!(!inline(|bx| data(bx, |bx| bx.text("C:\\Windows\\cmd.exe"))));
        assert!(inline(
            |bx| data(bx, |bx| bx.text("C:\\Windows\\SchTasks.exe"))
        ));
        // A name split in two pieces would be rendered as one: never refused.
        assert!(inline(|bx| data(bx, |bx| {
            bx.text("C:\\sch");
            bx.text("tasks.exe");
        })));
        // Mixed content (text, a child, text): never refused.
        assert!(inline(|bx| data(bx, |bx| {
            bx.text("C:\\sch");
            bx.open("b", false);
            bx.b.push(0x03);
            bx.text("tasks.exe");
        })));
        // A character reference: not read, never refused.
        assert!(inline(|bx| data(bx, |bx| {
            bx.text("C:\\sch");
            bx.b.extend([0x08, b't', 0]);
        })));
        // A NUL inside a value: each piece is tried.
        assert!(inline(|bx| data(bx, |bx| bx.text("cmd.exe\0at"))));
        // Cut short (no end of stream): never refused.
        let mut bx = Bx::default();
        bx.event("Security", "4688", |bx| {
            data(bx, |bx| bx.text("C:\\Windows\\cmd.exe"))
        });
        bx.b.pop();
        let p = peek(&bx.b, 0, bx.b.len()).expect("peeked");
        assert!(p.may_hold(tool));
    }

    /// A Sysmon 1 template instance (definition inline) whose `Image` is a string value and
    /// whose second value is nested XML holding `nested`: what the gate makes of it.
    fn instance_with(image: &str, nested: &str) -> bool {
        let mut bx = Bx::default();
        bx.b.extend([0x0f, 1, 1, 0, 0x0c, 0x01]);
        bx.u32(7);
        let def = bx.b.len() as u32 + 4;
        bx.u32(def);
        bx.u32(0);
        bx.b.extend([0u8; 16]);
        let size_at = bx.b.len();
        bx.u32(0);
        let body = bx.b.len();
        bx.template = true;
        bx.b.extend([0x0f, 1, 1, 0]);
        bx.event("Microsoft-Windows-Sysmon/Operational", "1", |bx| {
            bx.open("Data", true);
            bx.attr("Name");
            bx.text("Image");
            bx.b.push(0x02);
            bx.sub(0, 0x01);
            bx.b.push(0x04);
            bx.sub(1, 0x21);
        });
        let size = (bx.b.len() - body) as u32;
        bx.b[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
        bx.template = false;
        // The substitution array: two descriptors, then the values.
        bx.u32(2);
        let desc = bx.b.len();
        bx.b.extend([0u8; 8]);
        let v0 = bx.b.len();
        bx.utf16(image);
        let v1 = bx.b.len();
        bx.b.extend([0x0f, 1, 1, 0]);
        bx.leaf("Rule", nested);
        bx.b.push(0x00);
        let end = bx.b.len();
        let (s0, s1) = ((v1 - v0) as u16, (end - v1) as u16);
        bx.b[desc..desc + 4].copy_from_slice(&[s0.to_le_bytes()[0], s0.to_le_bytes()[1], 0x01, 0]);
        bx.b[desc + 4..desc + 8].copy_from_slice(&[
            s1.to_le_bytes()[0],
            s1.to_le_bytes()[1],
            0x21,
            0,
        ]);
        let p = peek(&bx.b, 0, end).expect("peeked");
        assert_eq!(p.event_id, 1);
        p.may_hold(tool)
    }

    #[test]
    fn the_gate_reads_substitutions_and_nested_xml() {
        assert!(!instance_with("C:\\x\\ping.exe", "C:\\x\\ping.exe"));
        assert!(instance_with("C:\\x\\schtasks.exe", "C:\\x\\ping.exe"));
        assert!(instance_with("C:\\x\\ping.exe", "schtasks /run"));
    }

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
