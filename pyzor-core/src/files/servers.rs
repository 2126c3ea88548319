//! The client's `servers` file: one `host:port` per line (protocol §5.2).

use std::fmt;
use std::path::Path;

use super::{LineError, Parsed, py_lines};
use crate::pycompat::py_strip;

/// The default Pyzor port.
pub const DEFAULT_PORT: u16 = 24441;

/// The server used when the servers file names none.
pub const DEFAULT_SERVER: &str = "public.pyzor.org";

/// A server as named in a servers file: host text (a name or an address,
/// IPv6 without brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerAddr {
    /// Host name or address literal, as written (without IPv6 brackets).
    pub host: String,
    /// UDP port.
    pub port: u16,
}

impl ServerAddr {
    /// A server.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ServerAddr {
            host: host.into(),
            port,
        }
    }

    /// `public.pyzor.org:24441`.
    pub fn public() -> Self {
        ServerAddr::new(DEFAULT_SERVER, DEFAULT_PORT)
    }

    /// Parses `host:port`, `[v6]:port`, splitting at the last colon.
    pub fn parse(s: &str) -> Result<ServerAddr, String> {
        let s = py_strip(s);
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let end = rest.find(']').ok_or("unclosed '[' in address")?;
            let port = rest[end + 1..]
                .strip_prefix(':')
                .ok_or("expected ':port' after ']'")?;
            (&rest[..end], port)
        } else {
            let i = s.rfind(':').ok_or("expected host:port")?;
            let host = &s[..i];
            if host.contains(':') {
                return Err("IPv6 addresses must be written in brackets, e.g. [::1]:24441".into());
            }
            (host, &s[i + 1..])
        };
        if host.is_empty() {
            return Err("empty host".into());
        }
        // no blank (Python's, which `strip` would take off), control
        // character or bracket: the host must print back as it parsed
        if host.contains(|c: char| {
            crate::pycompat::is_py_whitespace(c) || c.is_control() || c == '[' || c == ']'
        }) {
            return Err(format!("invalid host {host:?}"));
        }
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid port {port:?}"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| format!("port {port} out of range"))?;
        Ok(ServerAddr::new(host, port))
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses a servers file. Each line is trimmed; blank lines and lines
/// starting with `#` are skipped; a `#` comment may follow the address.
/// Everything the reference accepts gives the same (host, port); beyond it,
/// IPv6 literals in brackets, one-character names and `_` are accepted.
/// Lines that are not addresses are reported and skipped. An empty result
/// means "use [`ServerAddr::public`]".
pub fn parse_servers(path: &Path, text: &str) -> Parsed<Vec<ServerAddr>> {
    let mut out = Parsed::<Vec<ServerAddr>>::default();
    for (n, line) in py_lines(text) {
        let line = py_strip(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let addr = match line.find('#') {
            Some(i) => &line[..i],
            None => line,
        };
        match ServerAddr::parse(addr) {
            Ok(a) => out.value.push(a),
            Err(e) => out.skipped.push(LineError::new(
                path,
                n,
                format!("invalid server {line:?}: {e}"),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_servers() {
        let text = "127.0.0.1:24441\n# comment\n\n  public.pyzor.org:24441  \n[::1]:9999\nx:1\nmy_host:2 # trailing comment\nnoport\nhost:99999\n::1:5\n";
        let p = parse_servers(Path::new("servers"), text);
        let got: Vec<String> = p.value.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "127.0.0.1:24441",
                "public.pyzor.org:24441",
                "[::1]:9999",
                "x:1",
                "my_host:2"
            ]
        );
        assert_eq!(p.value[2].host, "::1");
        let lines: Vec<usize> = p.skipped.iter().map(|e| e.line).collect();
        assert_eq!(lines, [8, 9, 10]);
    }

    #[test]
    fn brackets_only_around_the_host() {
        // found by the config fuzz target: "[[h]:1" gave the host "[h",
        // which printed as something that did not parse back
        for bad in ["[[h]:1", "[h]]:1", "a]b:1", "a[b:1", "[\u{1e}h]:1", "h\0:1"] {
            assert!(ServerAddr::parse(bad).is_err(), "{bad}");
        }
        let v6 = ServerAddr::parse("[2001:db8::1]:24441").unwrap();
        assert_eq!(ServerAddr::parse(&v6.to_string()), Ok(v6));
    }

    #[test]
    fn default_server() {
        assert_eq!(ServerAddr::public().to_string(), "public.pyzor.org:24441");
    }
}
