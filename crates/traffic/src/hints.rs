//! L7 hints: the name a client asks for, from the first bytes of its payload.
//!
//! Both functions take an L4 payload (see [`crate::Ipv4Flow::l4_payload`]),
//! never allocate, and return `None` on anything they do not understand,
//! including data cut short.

struct Cur<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cur<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.p)?;
        self.p += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        let s = self.b.get(self.p..self.p + 2)?;
        self.p += 2;
        Some(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u24(&mut self) -> Option<usize> {
        let s = self.b.get(self.p..self.p + 3)?;
        self.p += 3;
        Some(((s[0] as usize) << 16) | ((s[1] as usize) << 8) | s[2] as usize)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.p..self.p.checked_add(n)?)?;
        self.p += n;
        Some(s)
    }
}

/// Server name (SNI) of a TLS ClientHello at the start of `payload`.
///
/// Expects a TLS record (content type 22, handshake) holding a ClientHello;
/// returns the first `host_name` entry of the server_name extension if it is
/// present within `payload` and is valid UTF-8. A ClientHello split over
/// several segments yields `None` if the extension is not in this one.
pub fn tls_sni(payload: &[u8]) -> Option<&str> {
    let mut c = Cur { b: payload, p: 0 };
    if c.u8()? != 22 {
        return None;
    }
    let major = c.u8()?;
    if major != 3 {
        return None;
    }
    c.u8()?; // minor
    let rec_len = c.u16()? as usize;
    // limit the view to the record (when the record is complete here)
    let rec_end = (5 + rec_len).min(payload.len());
    let mut c = Cur {
        b: &payload[..rec_end],
        p: 5,
    };
    if c.u8()? != 1 {
        return None; // not a ClientHello
    }
    let hs_len = c.u24()?;
    let hs_end = (c.p + hs_len).min(c.b.len());
    let mut c = Cur {
        b: &c.b[..hs_end],
        p: c.p,
    };
    c.take(2 + 32)?; // client_version, random
    let sid = c.u8()? as usize;
    c.take(sid)?;
    let cs = c.u16()? as usize;
    c.take(cs)?;
    let comp = c.u8()? as usize;
    c.take(comp)?;
    let ext_len = c.u16()? as usize;
    let ext_end = (c.p + ext_len).min(c.b.len());
    let mut c = Cur {
        b: &c.b[..ext_end],
        p: c.p,
    };
    while c.p + 4 <= c.b.len() {
        let ty = c.u16()?;
        let len = c.u16()? as usize;
        let body = c.take(len)?;
        if ty != 0 {
            continue;
        }
        let mut e = Cur { b: body, p: 0 };
        let list_len = e.u16()? as usize;
        let list = e.take(list_len)?;
        let mut l = Cur { b: list, p: 0 };
        while l.p < l.b.len() {
            let name_type = l.u8()?;
            let n = l.u16()? as usize;
            let name = l.take(n)?;
            if name_type == 0 {
                if name.is_empty() {
                    return None;
                }
                return std::str::from_utf8(name).ok();
            }
        }
        return None;
    }
    None
}

const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r'] = s {
        s = rest;
    }
    s
}

/// Host named by an HTTP/1.x request at the start of `payload`: the `Host`
/// header's value with any port removed (`[v6]:port` keeps the brackets).
/// `None` if the payload is not a request, or the header is absent or cut.
pub fn http_host(payload: &[u8]) -> Option<&str> {
    if !METHODS.iter().any(|m| payload.starts_with(m)) {
        return None;
    }
    let mut lines = payload.split(|&b| b == b'\n');
    let raw_request_line = lines.next()?;
    if raw_request_line.len() == payload.len() {
        return None; // request line cut
    }
    // the request line must be HTTP/1.x
    if !trim(raw_request_line).windows(7).any(|w| w == b"HTTP/1.") {
        return None;
    }
    let mut consumed = raw_request_line.len() + 1;
    for line in lines {
        consumed += line.len() + 1;
        if consumed > payload.len() {
            return None; // last line without its newline: may be cut
        }
        let line = trim(line);
        if line.is_empty() {
            return None; // end of headers
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon].eq_ignore_ascii_case(b"host") {
            continue;
        }
        let v = trim(&line[colon + 1..]);
        let host = if v.first() == Some(&b'[') {
            let close = v.iter().position(|&b| b == b']')?;
            &v[..=close]
        } else {
            match v.iter().rposition(|&b| b == b':') {
                Some(i) if v[i + 1..].iter().all(u8::is_ascii_digit) => &v[..i],
                _ => v,
            }
        };
        if host.is_empty() {
            return None;
        }
        return std::str::from_utf8(host).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_host_variants() {
        assert_eq!(
            http_host(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            Some("example.com")
        );
        assert_eq!(
            http_host(b"POST /a HTTP/1.0\r\nX: y\r\nhOsT:  example.com:8080 \r\n\r\n"),
            Some("example.com")
        );
        assert_eq!(
            http_host(b"GET / HTTP/1.1\nHost: [2001:db8::1]:80\n\n"),
            Some("[2001:db8::1]")
        );
        assert_eq!(
            http_host(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\nHost: late\r\n"),
            None
        );
        assert_eq!(http_host(b"HTTP/1.1 200 OK\r\nHost: x\r\n\r\n"), None);
        assert_eq!(http_host(b"GET / HTTP/1.1\r\nHost: cut.exam"), None);
        assert_eq!(http_host(b"GET / HTTP/2\r\nHost: a\r\n\r\n"), None);
    }

    #[test]
    fn sni_rejects_other_records() {
        assert_eq!(tls_sni(&[]), None);
        assert_eq!(tls_sni(&[23, 3, 3, 0, 5, 1, 2, 3, 4, 5]), None);
        assert_eq!(tls_sni(&[22, 3, 1, 0, 4, 2, 0, 0, 0]), None); // ServerHello
    }
}
