//! The RESP2 of the read path: `GET` and `MGET` written, their replies parsed in place (each
//! value a range of the reply's bytes: no value tree, no allocation per value).

use std::ops::Range;

/// The longest header line accepted (`$<length>` or `*<count>`): a longer one is not RESP.
const MAX_HEADER: usize = 24;

/// The longest error line accepted (a server error's text).
const MAX_ERROR_LINE: usize = 64 * 1024;

/// The longest string Redis stores (512 MiB): a longer length is not a reply.
const MAX_BULK: i64 = 512 * 1024 * 1024;

/// The most elements an array reply of the read path may have.
const MAX_ITEMS: i64 = 1 << 20;

/// Appends the command `name` with `args` bulk arguments to come (each with [`push_arg`]).
pub(crate) fn push_head(out: &mut Vec<u8>, name: &str, args: usize) {
    push_len(out, b'*', args + 1);
    push_arg(out, name.as_bytes());
}

/// Appends one bulk argument.
pub(crate) fn push_arg(out: &mut Vec<u8>, arg: &[u8]) {
    push_len(out, b'$', arg.len());
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

fn push_len(out: &mut Vec<u8>, marker: u8, n: usize) {
    out.push(marker);
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// One value of a reply: nil, or the range of its bytes in the reply.
pub(crate) type Item = Option<Range<usize>>;

/// What a whole reply is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A bulk string or nil (a `GET`): one item.
    Bulk,
    /// An array of those (an `MGET`): its items.
    Array,
    /// A server error (its text).
    Error(String),
    /// A simple string (`+OK`, the handshake's replies).
    Status(String),
}

/// The outcome of reading a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// The buffer holds no whole reply: try again once it holds at least this many bytes.
    Need(usize),
    /// A reply of this many bytes, of this shape (its items in the vector given).
    Reply(usize, Shape),
}

/// Bytes that are not a reply of the read path: the stream can no longer be followed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub(crate) String);

/// Parses the reply at the start of `buf`, its items into `items` (cleared first).
pub(crate) fn parse(buf: &[u8], items: &mut Vec<Item>) -> Result<Parsed, ProtocolError> {
    items.clear();
    let Some(&marker) = buf.first() else {
        return Ok(Parsed::Need(1));
    };
    match marker {
        b'$' => Ok(match bulk(buf, 0)? {
            Step::Need(n) => Parsed::Need(n),
            Step::Item(item, end) => {
                items.push(item);
                Parsed::Reply(end, Shape::Bulk)
            }
        }),
        b'*' => array(buf, items),
        b'-' | b'+' => Ok(match line(buf, 1, MAX_ERROR_LINE)? {
            None => Parsed::Need(buf.len() + 1),
            Some((text, end)) => {
                let text = String::from_utf8_lossy(text).into_owned();
                let shape = if marker == b'-' {
                    Shape::Error(text)
                } else {
                    Shape::Status(text)
                };
                Parsed::Reply(end, shape)
            }
        }),
        other => Err(ProtocolError(format!(
            "a reply to a read starts with {:?}, not a bulk string, an array or an error",
            char::from(other)
        ))),
    }
}

enum Step {
    Need(usize),
    Item(Item, usize),
}

fn array(buf: &[u8], items: &mut Vec<Item>) -> Result<Parsed, ProtocolError> {
    let Some((n, mut at)) = number(buf, 0)? else {
        return Ok(Parsed::Need(buf.len() + 1));
    };
    if !(0..=MAX_ITEMS).contains(&n) {
        return Err(ProtocolError(format!("an array reply of {n} elements")));
    }
    let n = n as usize;
    items.reserve(n.min(1024));
    for _ in 0..n {
        match bulk(buf, at)? {
            Step::Need(need) => return Ok(Parsed::Need(need)),
            Step::Item(item, end) => {
                items.push(item);
                at = end;
            }
        }
    }
    Ok(Parsed::Reply(at, Shape::Array))
}

/// The bulk string (or nil) at `at`.
fn bulk(buf: &[u8], at: usize) -> Result<Step, ProtocolError> {
    match buf.get(at) {
        None => return Ok(Step::Need(at + 1)),
        Some(b'$') => {}
        Some(other) => {
            return Err(ProtocolError(format!(
                "an element of a read's reply starts with {:?}, not a bulk string",
                char::from(*other)
            )));
        }
    }
    let Some((len, start)) = number(buf, at)? else {
        return Ok(Step::Need(buf.len() + 1));
    };
    if len < 0 {
        return Ok(Step::Item(None, start));
    }
    if len > MAX_BULK {
        return Err(ProtocolError(format!("a bulk string of {len} bytes")));
    }
    let end = start + len as usize;
    if buf.len() < end + 2 {
        return Ok(Step::Need(end + 2));
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ProtocolError(
            "a bulk string does not end where its length says".into(),
        ));
    }
    Ok(Step::Item(Some(start..end), end + 2))
}

/// The number of the header line at `at` (after its marker), and where the line ends.
fn number(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, ProtocolError> {
    let Some((digits, end)) = line(buf, at + 1, MAX_HEADER)? else {
        return Ok(None);
    };
    let text = std::str::from_utf8(digits).unwrap_or("");
    let n: i64 = text
        .parse()
        .map_err(|_| ProtocolError(format!("a length header {text:?} is not a number")))?;
    if n < -1 {
        return Err(ProtocolError(format!("a length of {n}")));
    }
    Ok(Some((n, end)))
}

/// The line from `at` to its `\r\n` (excluded), and where the next line starts; `None` while
/// incomplete.
fn line(buf: &[u8], at: usize, max: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let rest = buf.get(at..).unwrap_or_default();
    match rest.iter().take(max + 1).position(|&b| b == b'\r') {
        Some(cr) if rest.get(cr + 1) == Some(&b'\n') => Ok(Some((&rest[..cr], at + cr + 2))),
        Some(cr) if cr + 1 < rest.len() => Err(ProtocolError("a line ends in a lone \\r".into())),
        Some(_) => Ok(None),
        None if rest.len() > max => Err(ProtocolError(format!(
            "a header line longer than {max} bytes"
        ))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(buf: &[u8]) -> (Parsed, Vec<Item>) {
        let mut items = Vec::new();
        let p = parse(buf, &mut items).unwrap();
        (p, items)
    }

    #[test]
    fn commands_are_written_as_resp_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        push_head(&mut out, "MGET", 2);
        push_arg(&mut out, b"a");
        push_arg(&mut out, b"key:10");
        assert_eq!(out, b"*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$6\r\nkey:10\r\n");
    }

    #[test]
    fn a_bulk_a_nil_an_array_and_an_error_are_read_with_their_lengths() {
        assert_eq!(
            parsed(b"$3\r\nabc\r\n+"),
            (Parsed::Reply(9, Shape::Bulk), vec![Some(4..7)])
        );
        assert_eq!(
            parsed(b"$-1\r\n"),
            (Parsed::Reply(5, Shape::Bulk), vec![None])
        );
        assert_eq!(
            parsed(b"*3\r\n$1\r\nx\r\n$-1\r\n$0\r\n\r\n"),
            (
                Parsed::Reply(22, Shape::Array),
                vec![Some(8..9), None, Some(20..20)]
            )
        );
        assert_eq!(
            parsed(b"-WRONGTYPE Operation\r\n"),
            (
                Parsed::Reply(22, Shape::Error("WRONGTYPE Operation".into())),
                vec![]
            )
        );
        assert_eq!(
            parsed(b"+OK\r\n").0,
            Parsed::Reply(5, Shape::Status("OK".into()))
        );
    }

    #[test]
    fn every_cut_of_a_reply_asks_for_more_bytes_never_fewer_than_it_has() {
        let whole = b"*2\r\n$5\r\nhello\r\n$-1\r\n";
        for cut in 0..whole.len() {
            match parsed(&whole[..cut]).0 {
                Parsed::Need(n) => assert!(n > cut && n <= whole.len(), "cut {cut}: need {n}"),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        assert_eq!(parsed(whole).0, Parsed::Reply(whole.len(), Shape::Array));
    }

    #[test]
    fn bytes_that_are_not_a_reply_are_named() {
        let mut items = Vec::new();
        for bad in [
            &b":1\r\n"[..],
            b"$x\r\n",
            b"$3\r\nabcd\r\n",
            b"*1\r\n:1\r\n",
            b"$-5\r\n",
            b"$9223372036854775807\r\n",
            b"*-2\r\n",
            b"$123456789012345678901234567890",
            b"$1\rx",
        ] {
            assert!(parse(bad, &mut items).is_err(), "{bad:?}");
        }
    }
}
