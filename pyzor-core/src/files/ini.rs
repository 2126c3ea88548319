//! The ini dialect of Python's `configparser.ConfigParser` (defaults:
//! `=`/`:` delimiters, `#`/`;` full-line comments, indented continuation
//! lines, empty lines kept inside values, case-insensitive keys,
//! case-sensitive section names, strict duplicate checks, `%(name)s`
//! interpolation), which is what `<homedir>/config` is written in.

use std::path::Path;

use super::{LineError, py_lines};
use crate::pycompat::{is_py_whitespace, py_strip};

/// One section: keys (lower-cased) and raw values, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    entries: Vec<(String, Option<Vec<String>>)>,
}

impl Section {
    fn find(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    /// The raw (uninterpolated) value of a key.
    pub fn get(&self, key: &str) -> Option<String> {
        let key = key.to_lowercase();
        self.find(&key)
            .and_then(|i| self.entries[i].1.as_ref())
            .map(|lines| {
                lines
                    .join("\n")
                    .trim_end_matches(is_py_whitespace)
                    .to_owned()
            })
    }

    /// Keys and raw values in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, String)> + '_ {
        self.entries.iter().filter_map(|(k, v)| {
            v.as_ref().map(|lines| {
                (
                    k.as_str(),
                    lines
                        .join("\n")
                        .trim_end_matches(is_py_whitespace)
                        .to_owned(),
                )
            })
        })
    }
}

/// A parsed ini file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ini {
    defaults: Section,
    sections: Vec<(String, Section)>,
}

impl Ini {
    /// Parses ini text. Like `ConfigParser.read`, this fails on a file
    /// without a section header before the first option, on lines that are
    /// neither, and on a section or key repeated within the file; every such
    /// line is reported.
    pub fn parse(path: &Path, text: &str) -> Result<Ini, Vec<LineError>> {
        let mut ini = Ini::default();
        let mut errors = Vec::new();
        // Index of the current section: None before any, Some(None) = DEFAULT.
        let mut cursect: Option<Option<usize>> = None;
        let mut optname: Option<String> = None;
        let mut indent_level: usize = 0;
        let mut seen_sections: Vec<String> = Vec::new();
        let mut seen_options: Vec<(String, String)> = Vec::new();
        let mut sectname = String::new();
        for (n, line) in py_lines(text) {
            let stripped = py_strip(line);
            let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
            let value = if is_comment { "" } else { stripped };
            if value.is_empty() {
                // Empty lines are kept inside a value; comment lines are not.
                if !is_comment
                    && let (Some(sect), Some(name)) = (cursect, optname.as_ref())
                    && let Some(lines) = ini.section_mut(sect).entry_mut(name)
                {
                    lines.push(String::new());
                }
                continue;
            }
            let cur_indent = line.chars().take_while(|c| is_py_whitespace(*c)).count();
            if let (Some(sect), Some(name)) = (cursect, optname.as_ref())
                && cur_indent > indent_level
            {
                if let Some(lines) = ini.section_mut(sect).entry_mut(name) {
                    lines.push(value.to_owned());
                }
                continue;
            }
            indent_level = cur_indent;
            if let Some(header) = section_header(value) {
                if header == "DEFAULT" {
                    cursect = Some(None);
                } else if let Some(i) = ini.sections.iter().position(|(s, _)| s == header) {
                    if seen_sections.iter().any(|s| s == header) {
                        errors.push(LineError::new(
                            path,
                            n,
                            format!("section {header:?} already exists"),
                        ));
                    }
                    seen_sections.push(header.to_owned());
                    cursect = Some(Some(i));
                } else {
                    ini.sections.push((header.to_owned(), Section::default()));
                    seen_sections.push(header.to_owned());
                    cursect = Some(Some(ini.sections.len() - 1));
                }
                sectname = header.to_owned();
                optname = None;
                continue;
            }
            let Some(sect) = cursect else {
                errors.push(LineError::new(
                    path,
                    n,
                    format!("file contains no section headers (line {:?})", line),
                ));
                return Err(errors);
            };
            match option_line(value) {
                Some((name, val)) if !name.is_empty() => {
                    let key = name.to_lowercase();
                    if seen_options
                        .iter()
                        .any(|(s, k)| s == &sectname && k == &key)
                    {
                        errors.push(LineError::new(
                            path,
                            n,
                            format!("option {key:?} in section {sectname:?} already exists"),
                        ));
                    }
                    seen_options.push((sectname.clone(), key.clone()));
                    ini.section_mut(sect).set(&key, py_strip(val));
                    optname = Some(key);
                }
                _ => errors.push(LineError::new(
                    path,
                    n,
                    format!("not a section header or 'key = value' line: {line:?}"),
                )),
            }
        }
        if errors.is_empty() {
            Ok(ini)
        } else {
            Err(errors)
        }
    }

    fn section_mut(&mut self, sect: Option<usize>) -> &mut Section {
        match sect {
            None => &mut self.defaults,
            Some(i) => &mut self.sections[i].1,
        }
    }

    /// A named section (not `DEFAULT`).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|(s, _)| s == name)
            .map(|(_, s)| s)
    }

    /// The `DEFAULT` section.
    pub fn defaults(&self) -> &Section {
        &self.defaults
    }
}

impl Section {
    fn entry_mut(&mut self, key: &str) -> Option<&mut Vec<String>> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_mut())
    }

    fn set(&mut self, key: &str, value: &str) {
        let v = Some(vec![value.to_owned()]);
        match self.find(key) {
            Some(i) => self.entries[i].1 = v,
            None => self.entries.push((key.to_owned(), v)),
        }
    }
}

/// `\[(.+)\]` matched at the start of the stripped line (greedy: up to the
/// last `]`).
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// `(.*?)\s*[=:]\s*(.*)`: the name up to the first delimiter.
fn option_line(value: &str) -> Option<(&str, &str)> {
    let i = value.find(['=', ':'])?;
    let name = value[..i].trim_end_matches(is_py_whitespace);
    Some((name, &value[i + 1..]))
}

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad value for {key}: {message}")]
pub struct InterpolationError {
    /// The key whose value is bad.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// `BasicInterpolation`: `%%` is `%`, `%(name)s` is the (interpolated) value
/// of `name` from `lookup`; any other `%` is an error, as is a reference
/// nested more than 10 deep.
pub fn interpolate(
    key: &str,
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(value.len());
    interpolate_into(key, value, lookup, 1, &mut out)?;
    Ok(out)
}

fn interpolate_into(
    key: &str,
    mut rest: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
    out: &mut String,
) -> Result<(), InterpolationError> {
    let err = |message: String| InterpolationError {
        key: key.to_owned(),
        message,
    };
    if depth > 10 {
        return Err(err(
            "interpolation nested too deeply (more than 10 levels)".into()
        ));
    }
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        match rest.as_bytes().get(1) {
            Some(b'%') => {
                out.push('%');
                rest = &rest[2..];
            }
            Some(b'(') => {
                let close = rest
                    .find(")s")
                    .filter(|&c| c > 2 && !rest[2..c].contains(')'));
                let Some(close) = close else {
                    return Err(err(format!(
                        "bad interpolation variable reference {rest:?}"
                    )));
                };
                let var = rest[2..close].to_lowercase();
                rest = &rest[close + 2..];
                let v =
                    lookup(&var).ok_or_else(|| err(format!("no option {var:?} to interpolate")))?;
                if v.contains('%') {
                    interpolate_into(key, &v, lookup, depth + 1, out)?;
                } else {
                    out.push_str(&v);
                }
            }
            _ => {
                return Err(err(format!(
                    "'%' must be followed by '%' or '(', found: {rest:?}"
                )));
            }
        }
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Ini {
        Ini::parse(Path::new("config"), text).unwrap()
    }

    #[test]
    fn configparser_dialect() {
        let ini = parse(
            "# comment\n; other\n[server]\nPort = 9999\nListenAddress: 127.0.0.1\nLogFile=\n  continued\n\n   more\nEngine = redis ; not a comment\n[DEFAULT]\nBase = /srv\n[client]\nTimeout=7\n",
        );
        let s = ini.section("server").unwrap();
        assert_eq!(s.get("port").as_deref(), Some("9999"));
        assert_eq!(s.get("PORT").as_deref(), Some("9999"));
        assert_eq!(s.get("listenaddress").as_deref(), Some("127.0.0.1"));
        assert_eq!(s.get("logfile").as_deref(), Some("\ncontinued\n\nmore"));
        assert_eq!(s.get("engine").as_deref(), Some("redis ; not a comment"));
        assert_eq!(ini.defaults().get("base").as_deref(), Some("/srv"));
        assert_eq!(
            ini.section("client").unwrap().get("timeout").as_deref(),
            Some("7")
        );
        assert!(ini.section("Server").is_none());
    }

    #[test]
    fn errors_name_the_line() {
        let e = Ini::parse(Path::new("/h/config"), "Port = 1\n").unwrap_err();
        assert_eq!(e[0].line, 1);
        let e = Ini::parse(
            Path::new("/h/config"),
            "[server]\nPort = 1\njunk\nport = 2\n[server]\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert!(e[0].to_string().starts_with("/h/config:3: "));
    }

    #[test]
    fn interpolation() {
        let look = |k: &str| match k {
            "base" => Some("/srv".to_owned()),
            "deep" => Some("%(base)s/x".to_owned()),
            "loop" => Some("%(loop)s".to_owned()),
            _ => None,
        };
        assert_eq!(
            interpolate("k", "%(BASE)s/log 100%%", &look).unwrap(),
            "/srv/log 100%"
        );
        assert_eq!(interpolate("k", "%(deep)s", &look).unwrap(), "/srv/x");
        assert!(interpolate("k", "50%", &look).is_err());
        assert!(interpolate("k", "%(nope)s", &look).is_err());
        assert!(interpolate("k", "%(loop)s", &look).is_err());
        assert!(interpolate("k", "%(base)d", &look).is_err());
    }
}
