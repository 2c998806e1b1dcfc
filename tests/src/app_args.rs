//! How Asterisk reads `Variable:` headers: the dialplan's argument parser
//! (`__ast_app_separate_args` in main/app.c, as `AST_STANDARD_APP_ARGS`) and
//! `man_do_variable_value` in main/manager.c. Both are the same in Asterisk
//! 11.25.3, 13.38.3 and 22.10.1.

/// Split `buf` (a C string: no NUL) at `delim` as `__ast_app_separate_args`
/// with `remove_chars` on does, into at most `slots` arguments: no split
/// inside `(…)`, `[…]` or `"…"`; every `"` removed; every `\` removed and the
/// byte after it taken literally. Past `slots - 1` splits, the rest is the
/// last argument, untouched. `None` where Asterisk would read past the end
/// of the string (a `\` as the last byte).
pub fn separate_args(buf: &[u8], delim: u8, slots: usize) -> Option<Vec<Vec<u8>>> {
    let mut buf = buf.to_vec();
    buf.push(0);
    let mut starts = Vec::new();
    let (mut paren, mut bracket, mut quote) = (0u32, 0u32, false);
    let mut wasdelim: Option<usize> = None;
    let mut scan = 0;
    while buf[scan] != 0 && starts.len() + 1 < slots {
        starts.push(scan);
        while buf[scan] != 0 {
            match buf[scan] {
                b'(' => paren += 1,
                b')' => paren = paren.saturating_sub(1),
                b'[' => bracket += 1,
                b']' => bracket = bracket.saturating_sub(1),
                b'"' if delim != b'"' => {
                    // The quote is removed; the byte after it is looked at
                    // next (`scan--` then the loop's `scan++`).
                    quote = !quote;
                    buf.remove(scan);
                    continue;
                }
                b'\\' => {
                    // The backslash is removed; the loop's `scan++` skips
                    // the literal byte.
                    buf.remove(scan);
                    if buf[scan] == 0 {
                        return None;
                    }
                }
                c if c == delim && paren == 0 && !quote && bracket == 0 => {
                    wasdelim = Some(scan);
                    buf[scan] = 0;
                    scan += 1;
                    break;
                }
                _ => {}
            }
            scan += 1;
        }
    }
    if buf[scan] != 0 || (scan > 0 && wasdelim == Some(scan - 1)) {
        starts.push(scan);
    }
    let c_str = |s: usize| {
        let len = buf[s..].iter().position(|&b| b == 0).unwrap_or(0);
        buf[s..s + len].to_vec()
    };
    Some(starts.into_iter().map(c_str).collect())
}

/// The `(name, value)` pairs Asterisk sets from one `Variable:` header
/// whose value (after `Variable:`) is `header_value`, in order: leading
/// bytes below `!` skipped, split as above into up to 64 pieces, each cut at
/// its first `=`; pieces without `=` or with an empty name are ignored.
/// `None` where Asterisk would read past the end of the string.
///
/// ```
/// use amiproto_testkit::variables_from_header;
///
/// let pair = |n: &str, v: &str| (n.as_bytes().to_vec(), v.as_bytes().to_vec());
/// assert_eq!(variables_from_header(b"A=1,B=2"), Some(vec![pair("A", "1"), pair("B", "2")]));
/// assert_eq!(variables_from_header(br"A=1\,B=2"), Some(vec![pair("A", "1,B=2")]));
/// assert_eq!(variables_from_header(br#"HASH(a,b)="x,y""#), Some(vec![pair("HASH(a,b)", "x,y")]));
/// ```
pub fn variables_from_header(header_value: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let start = header_value
        .iter()
        .position(|&b| b >= b'!')
        .unwrap_or(header_value.len());
    let nul = header_value.iter().position(|&b| b == 0);
    let text = &header_value[start..nul.unwrap_or(header_value.len()).max(start)];
    let pairs = separate_args(text, b',', 64)?
        .into_iter()
        .filter_map(|arg| {
            let eq = arg.iter().position(|&b| b == b'=')?;
            (eq > 0).then(|| (arg[..eq].to_vec(), arg[eq + 1..].to_vec()))
        })
        .collect();
    Some(pairs)
}
