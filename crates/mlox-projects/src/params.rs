//! Parameters: `-P key=value` parsing, type checks, and building the shell command
//! (mlflow/projects/_project_spec.py `EntryPoint.compute_command`).
//!
//! Every value reaches the shell through [`shell_quote`], so a parameter can never inject
//! shell syntax: `-P alpha='0.5; rm -rf ~'` is one argument, `'0.5; rm -rf ~'`.

use std::path::{Component, Path, PathBuf};

pub use mlox_env::tools::shell_quote;

use crate::error::{ProjectError, Result};
use crate::spec::{EntryPoint, ParamType};

/// Parses `-P name=value` arguments (MLflow's `_user_args_to_dict`), keeping their order.
pub fn parse_param_args(args: &[String]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for arg in args {
        let Some((name, value)) = arg.split_once('=') else {
            return Err(ProjectError::Invalid(format!(
                "Invalid format for -P parameter: '{arg}'. Use -P name=value."
            )));
        };
        if out.iter().any(|(n, _)| n == name) {
            return Err(ProjectError::Invalid(format!(
                "Repeated parameter: '{name}'"
            )));
        }
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

/// The parameters of one run: declared ones (user value or default) in declaration
/// order, then undeclared ones in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedParams {
    pub declared: Vec<(String, String)>,
    pub extra: Vec<(String, String)>,
}

impl ResolvedParams {
    /// What MLflow logs to the run: its `compute_parameters(storage_dir=None)` output, i.e.
    /// values (and undeclared keys) shell-quoted, `path` values as given.
    pub fn logged(&self) -> Vec<(String, String)> {
        self.declared
            .iter()
            .map(|(k, v)| (k.clone(), shell_quote(v)))
            .chain(
                self.extra
                    .iter()
                    .map(|(k, v)| (shell_quote(k), shell_quote(v))),
            )
            .collect()
    }
}

/// Checks and resolves the user's parameters against the entry point.
///
/// With `cwd = Some(dir)` (for execution) `path` values must exist and are made absolute
/// against `dir`, as MLflow does against its working folder; with `None` (for logging)
/// they are kept as given.
pub fn resolve(
    ep: &EntryPoint,
    user: &[(String, String)],
    cwd: Option<&Path>,
) -> Result<ResolvedParams> {
    let given = |name: &str| user.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let missing: Vec<String> = ep
        .parameters
        .iter()
        .filter(|p| given(&p.name).is_none() && p.default.is_none())
        .map(|p| format!("'{}'", p.name))
        .collect();
    if !missing.is_empty() {
        return Err(ProjectError::Invalid(format!(
            "No value given for missing parameters: {}",
            missing.join(", ")
        )));
    }
    let mut declared = Vec::new();
    for p in &ep.parameters {
        let (value, from_default) = match given(&p.name) {
            Some(v) => (v.clone(), false),
            None => (p.default.clone().unwrap_or_default(), true),
        };
        let value = check_value(&p.name, &p.ty, &value, from_default, cwd)?;
        declared.push((p.name.clone(), value));
    }
    let extra = user
        .iter()
        .filter(|(k, _)| ep.parameter(k).is_none())
        .cloned()
        .collect();
    Ok(ResolvedParams { declared, extra })
}

fn check_value(
    name: &str,
    ty: &ParamType,
    value: &str,
    from_default: bool,
    cwd: Option<&Path>,
) -> Result<String> {
    let origin = if from_default {
        "default value"
    } else {
        "value"
    };
    match ty {
        ParamType::Float if !is_python_float(value) => Err(ProjectError::Invalid(format!(
            "Parameter '{name}' is of type float, but its {origin} '{value}' is not a number"
        ))),
        ParamType::Int if !is_python_int(value) => Err(ProjectError::Invalid(format!(
            "Parameter '{name}' is of type int, but its {origin} '{value}' is not an integer"
        ))),
        ParamType::Uri if uri_scheme(value).is_none() => Err(ProjectError::Invalid(format!(
            "Expected URI for parameter {name} but got {value}"
        ))),
        ParamType::Path => match cwd {
            None => Ok(value.to_string()),
            Some(cwd) => {
                let Some(local) = local_path(value) else {
                    return Err(ProjectError::Invalid(format!(
                        "Parameter '{name}' is of type path, but '{value}' is a remote URI; mlox run only accepts local paths (download it first)"
                    )));
                };
                let abs = absolute(cwd, &local);
                if !abs.exists() {
                    return Err(ProjectError::Invalid(format!(
                        "Got value {value} for parameter {name}, but no such file or directory was found."
                    )));
                }
                Ok(abs.to_string_lossy().into_owned())
            }
        },
        _ => Ok(value.to_string()),
    }
}

/// Whether Python's `float()` accepts the text.
pub fn is_python_float(s: &str) -> bool {
    let t = s.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return true;
    }
    if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') || !underscores_ok(body) {
        return false;
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    // Rust's parser accepts the same decimal grammar, but also "inf"/"nan" spellings
    // handled above; reject anything with letters other than an exponent.
    clean
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && clean.chars().any(|c| c.is_ascii_digit())
        && clean.parse::<f64>().is_ok()
}

/// Whether Python's `int()` accepts the text (base 10).
pub fn is_python_int(s: &str) -> bool {
    let t = s.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    !body.is_empty() && body.chars().all(|c| c.is_ascii_digit() || c == '_') && underscores_ok(body)
}

/// Python allows single underscores between digits only.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let prev = i.checked_sub(1).map(|j| b[j]);
            let next = b.get(i + 1).copied();
            if !prev.is_some_and(|p| p.is_ascii_digit())
                || !next.is_some_and(|n| n.is_ascii_digit())
            {
                return false;
            }
        }
    }
    true
}

/// The scheme of a URI as Python's `urlparse` finds it (`None` for a plain path).
pub fn uri_scheme(s: &str) -> Option<&str> {
    let colon = s.find(':')?;
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
        .then_some(scheme)
}

/// A local path for a plain path or a `file:` URI without host (MLflow's
/// `get_local_path_or_none`); `None` for remote URIs.
pub fn local_path(s: &str) -> Option<PathBuf> {
    match uri_scheme(s) {
        None => Some(PathBuf::from(s)),
        Some(scheme) if scheme.eq_ignore_ascii_case("file") => {
            let rest = &s[5..];
            let path = match rest.strip_prefix("//") {
                Some(after) => {
                    let (host, path) = after.split_at(after.find('/').unwrap_or(after.len()));
                    if !host.is_empty() && host != "localhost" {
                        return None;
                    }
                    path
                }
                None => rest,
            };
            Some(PathBuf::from(percent_decode(path)))
        }
        Some(_) => None,
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `os.path.abspath`: joins with `cwd` and removes `.` and `..` lexically.
pub fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The shell command of a run: the template with quoted values substituted, then
/// ` --key value` for every undeclared parameter.
pub fn build_command(ep: &EntryPoint, params: &ResolvedParams) -> Result<String> {
    let mut cmd = format_template(ep, &params.declared)?;
    for (k, v) in &params.extra {
        cmd.push_str(&format!(" --{} {}", shell_quote(k), shell_quote(v)));
    }
    Ok(cmd)
}

/// Python's `str.format(**params)` for the `{name}`, `{{` and `}}` forms.
fn format_template(ep: &EntryPoint, values: &[(String, String)]) -> Result<String> {
    let template = &ep.command;
    let where_ = match ep.command_line {
        Some(line) => format!(" (MLproject line {line})"),
        None => String::new(),
    };
    let bad = |msg: String| {
        ProjectError::Invalid(format!(
            "the command of entry point '{}'{where_} {msg}",
            ep.name
        ))
    };
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => {
                return Err(bad(
                    "has a single '}' (write '}}' for a literal brace)".into()
                ))
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(bad(
                                "has an unclosed '{' (write '{{' for a literal brace)".into()
                            ))
                        }
                        Some(ch) => field.push(ch),
                    }
                }
                let name = field.strip_suffix("!s").unwrap_or(&field);
                if name.is_empty() {
                    return Err(bad(
                        "has an empty placeholder '{}'; name a parameter, e.g. {alpha}".into(),
                    ));
                }
                match values.iter().find(|(k, _)| k == name) {
                    Some((_, v)) => out.push_str(&shell_quote(v)),
                    None => {
                        return Err(bad(format!(
                            "uses '{{{field}}}', which is not a declared parameter"
                        )))
                    }
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Parameter;

    fn ep(command: &str, params: &[(&str, ParamType, Option<&str>)]) -> EntryPoint {
        EntryPoint {
            name: "main".into(),
            parameters: params
                .iter()
                .map(|(n, t, d)| Parameter {
                    name: n.to_string(),
                    ty: t.clone(),
                    default: d.map(str::to_string),
                    line: 1,
                })
                .collect(),
            command: command.into(),
            command_line: Some(7),
        }
    }

    fn user(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shell_quote_matches_python_shlex() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("0.5"), "0.5");
        assert_eq!(shell_quote("/a/b-c_d.txt"), "/a/b-c_d.txt");
        assert_eq!(shell_quote("a=b,c:d@e%f+g"), "a=b,c:d@e%f+g");
        assert_eq!(shell_quote("hello world"), "'hello world'");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
        assert_eq!(shell_quote("é"), "'é'");
    }

    #[test]
    fn parse_param_args_like_mlflow() {
        let args = vec!["a=1".to_string(), "b=x=y".to_string(), "c=".to_string()];
        assert_eq!(
            parse_param_args(&args).unwrap(),
            user(&[("a", "1"), ("b", "x=y"), ("c", "")])
        );
        let err = parse_param_args(&["a".to_string()])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "Invalid format for -P parameter: 'a'. Use -P name=value."
        );
        let err = parse_param_args(&["a=1".to_string(), "a=2".to_string()])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "Repeated parameter: 'a'");
    }

    #[test]
    fn command_substitutes_quoted_values_and_appends_extras() {
        let e = ep(
            "python train.py --alpha {alpha} --name {name} {{literal}}",
            &[
                ("alpha", ParamType::Float, Some("0.5")),
                ("name", ParamType::String, None),
            ],
        );
        let p = resolve(
            &e,
            &user(&[("name", "my run"), ("zeta", "1"), ("with space", "a b")]),
            None,
        )
        .unwrap();
        assert_eq!(
            build_command(&e, &p).unwrap(),
            "python train.py --alpha 0.5 --name 'my run' {literal} --zeta 1 --'with space' 'a b'"
        );
        assert_eq!(
            p.logged(),
            user(&[
                ("alpha", "0.5"),
                ("name", "'my run'"),
                ("zeta", "1"),
                ("'with space'", "'a b'")
            ])
        );
    }

    #[test]
    fn injection_attempts_stay_one_argument() {
        let e = ep("echo {msg}", &[("msg", ParamType::String, None)]);
        for evil in [
            "x; rm -rf /",
            "$(touch /tmp/pwned)",
            "`id`",
            "a' ; echo 'b",
            "a\nb",
            "x && y | z > w",
        ] {
            let p = resolve(&e, &user(&[("msg", evil)]), None).unwrap();
            let cmd = build_command(&e, &p).unwrap();
            let words = shlex::split(&cmd).unwrap();
            assert_eq!(words, vec!["echo".to_string(), evil.to_string()], "{cmd}");
        }
        // Undeclared keys are quoted too.
        let p = resolve(&e, &user(&[("msg", "m"), ("x;id", "1")]), None).unwrap();
        let words = shlex::split(&build_command(&e, &p).unwrap()).unwrap();
        assert_eq!(words, ["echo", "m", "--x;id", "1"]);
    }

    #[test]
    fn types_are_checked_with_a_clear_error() {
        let e = ep(
            "x {a} {n} {u}",
            &[
                ("a", ParamType::Float, Some("0.1")),
                ("n", ParamType::Int, Some("3")),
                ("u", ParamType::Uri, Some("s3://b/k")),
            ],
        );
        let err = |pairs: &[(&str, &str)]| resolve(&e, &user(pairs), None).unwrap_err().to_string();
        assert_eq!(
            err(&[("a", "abc")]),
            "Parameter 'a' is of type float, but its value 'abc' is not a number"
        );
        assert_eq!(
            err(&[("n", "1.5")]),
            "Parameter 'n' is of type int, but its value '1.5' is not an integer"
        );
        assert_eq!(
            err(&[("u", "relative/path")]),
            "Expected URI for parameter u but got relative/path"
        );
        for ok in [
            "1", "-2.5", "1e-3", " 3 ", "inf", "NaN", "1_000.5", ".5", "5.",
        ] {
            assert!(is_python_float(ok), "{ok}");
        }
        for bad in ["", "abc", "1,5", "0x10", "1__0", "_1", "1e", "--1"] {
            assert!(!is_python_float(bad), "{bad}");
        }
        for ok in ["0", "-12", "+7", "1_000", " 42 "] {
            assert!(is_python_int(ok), "{ok}");
        }
        for bad in ["", "1.0", "1e3", "x", "1_", "_1"] {
            assert!(!is_python_int(bad), "{bad}");
        }
        // Defaults are checked too.
        let e2 = ep("x {a}", &[("a", ParamType::Int, Some("0.5"))]);
        assert_eq!(
            resolve(&e2, &[], None).unwrap_err().to_string(),
            "Parameter 'a' is of type int, but its default value '0.5' is not an integer"
        );
    }

    #[test]
    fn missing_parameters_are_listed() {
        let e = ep(
            "x {a} {b}",
            &[("a", ParamType::String, None), ("b", ParamType::Path, None)],
        );
        assert_eq!(
            resolve(&e, &[], None).unwrap_err().to_string(),
            "No value given for missing parameters: 'a', 'b'"
        );
    }

    #[test]
    fn path_values_become_absolute_and_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/x.csv"), "").unwrap();
        let e = ep("x {p}", &[("p", ParamType::Path, None)]);
        let r = resolve(&e, &user(&[("p", "data/../data/x.csv")]), Some(dir.path())).unwrap();
        assert_eq!(
            r.declared[0].1,
            dir.path().join("data/x.csv").to_string_lossy()
        );
        let uri = format!("file://{}", dir.path().join("data").display());
        let r = resolve(&e, &user(&[("p", &uri)]), Some(dir.path())).unwrap();
        assert_eq!(r.declared[0].1, dir.path().join("data").to_string_lossy());
        assert_eq!(
            resolve(&e, &user(&[("p", "nope.csv")]), Some(dir.path()))
                .unwrap_err()
                .to_string(),
            "Got value nope.csv for parameter p, but no such file or directory was found."
        );
        assert!(
            resolve(&e, &user(&[("p", "s3://bucket/x")]), Some(dir.path()))
                .unwrap_err()
                .to_string()
                .contains("remote URI")
        );
        // For logging, the value is kept as given.
        let r = resolve(&e, &user(&[("p", "nope.csv")]), None).unwrap();
        assert_eq!(r.declared[0].1, "nope.csv");
    }

    #[test]
    fn template_errors_name_the_entry_point_and_line() {
        let e = ep("python x.py {missing}", &[]);
        assert_eq!(
            build_command(&e, &resolve(&e, &[], None).unwrap())
                .unwrap_err()
                .to_string(),
            "the command of entry point 'main' (MLproject line 7) uses '{missing}', which is not a declared parameter"
        );
        let e = ep("echo }", &[]);
        assert!(build_command(&e, &resolve(&e, &[], None).unwrap())
            .unwrap_err()
            .to_string()
            .contains("single '}'"));
    }

    #[test]
    fn uri_scheme_like_urlparse() {
        assert_eq!(uri_scheme("s3://b/k"), Some("s3"));
        assert_eq!(uri_scheme("mlflow-artifacts:/x"), Some("mlflow-artifacts"));
        assert_eq!(uri_scheme("a/b:c"), None);
        assert_eq!(uri_scheme("/abs"), None);
        assert_eq!(uri_scheme("1abc:x"), None);
    }
}
